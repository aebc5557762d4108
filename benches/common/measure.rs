//! What the network benches share: a counting allocator for peak heap, the
//! mean time criterion recorded for a benchmark, and the largest relative
//! difference between two gradients.

#![allow(dead_code)]

use adjoint::kernels::{gemm, MatRef};
use adjoint::{Parameters, Tensor};
use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap bytes above the starting level while `f` runs.
pub fn peak_bytes(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

/// The mean time criterion recorded for `group/name` in this run (NaN if
/// it did not run).
pub fn mean_ns(group: &str, name: &str) -> f64 {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j["mean"]["point_estimate"].as_f64())
        .unwrap_or(f64::NAN)
}

/// The largest difference between tensors at the same place in `a` and
/// `b`, relative to the largest magnitude of `b`'s tensor.
pub fn max_rel_diff<P: Parameters<Elem = f32>>(a: &P, b: &P) -> f32 {
    let (a, b) = (a.named_tensors(), b.named_tensors());
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|((_, x), (_, y))| {
            let scale = y.data().iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            x.data()
                .iter()
                .zip(y.data())
                .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()))
                / scale
        })
        .fold(0.0, f32::max)
}

/// Benchmarks `gemm_peak` in `group`: a 512³ f32 product on all cores, the
/// machine's gemm peak in this run (read back with [`gemm_peak_gflops`]).
pub fn bench_gemm_peak(group: &mut BenchmarkGroup<'_, WallTime>) {
    let a = Tensor::<f32>::ones(&[512, 512]);
    let mut out = vec![0.0f32; 512 * 512];
    group.bench_function("gemm_peak", |bch| {
        bch.iter(|| {
            gemm(
                1.0,
                MatRef::row_major(a.data(), 512, 512),
                MatRef::row_major(a.data(), 512, 512),
                0.0,
                &mut out,
            )
        })
    });
}

/// The GFLOP/s of the `gemm_peak` run of `group`.
pub fn gemm_peak_gflops(group: &str) -> f64 {
    2.0 * 512f64.powi(3) / mean_ns(group, "gemm_peak")
}
