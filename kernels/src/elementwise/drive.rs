//! When to split an element-wise loop across threads: decided by timing the
//! loop itself on a first probe of elements, because the per-element cost
//! ranges from ~0.2 ns (ReLU) to ~4 ns (`exp`) and no length threshold fits
//! both.
//!
//! Measured on the 2-core AMD EPYC VM (f32, split in 2): ReLU over 2^18
//! elements (14 µs) ran 0.9× as fast split, over 2^20 (55 µs) 1.3×; `exp`
//! over 2^12 elements (6 µs) already 1.5×. With rayon's workers asleep a
//! split also costs the caller ~10 µs (waking one) before it can pay, so a
//! loop is split when the rest of it is estimated to take at least
//! [`MIN_PARALLEL_NANOS`].

use crate::parallel::{for_each_part, threads};
use crate::wide::vectorised;
use std::time::Instant;

/// Loops shorter than this never split (even `exp` takes < 40 µs).
const MIN_SPLIT_LEN: usize = 1 << 13;

/// Elements run and timed on the calling thread before deciding.
const PROBE: usize = 1 << 12;

/// Estimated remaining serial time from which the rest is split.
const MIN_PARALLEL_NANOS: u128 = 25_000;

/// Chunk edges are multiples of this many elements (a few cache lines), so
/// threads share no line except at unaligned slice ends.
const CHUNK_ALIGN: usize = 64;

/// The operands of one loop (a tuple of equally long slices) that can be cut
/// at an element index.
pub(super) trait Operands: Sized + Send {
    /// The elements before `i` and the rest.
    fn split_at(self, i: usize) -> (Self, Self);
}

impl<T: Send> Operands for &mut [T] {
    fn split_at(self, i: usize) -> (Self, Self) {
        self.split_at_mut(i)
    }
}

impl<T: Sync> Operands for &[T] {
    fn split_at(self, i: usize) -> (Self, Self) {
        <[T]>::split_at(self, i)
    }
}

impl<A: Operands, B: Operands> Operands for (A, B) {
    fn split_at(self, i: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at(i);
        let (b0, b1) = self.1.split_at(i);
        ((a0, b0), (a1, b1))
    }
}

/// Runs `run` over operands of `len` elements: serially, or (for long
/// enough, slow enough loops) a timed probe first and then the rest in one
/// chunk per thread.
pub(super) fn drive<P, F>(len: usize, ops: P, run: F)
where
    P: Operands,
    F: Fn(P) + Sync,
{
    let threads = threads();
    if threads < 2 || len < MIN_SPLIT_LEN {
        vectorised(|| run(ops));
        return;
    }
    let (probe, mut rest) = ops.split_at(PROBE);
    let start = Instant::now();
    vectorised(|| run(probe));
    let rest_len = len - PROBE;
    let estimate = start.elapsed().as_nanos() * rest_len as u128 / PROBE as u128;
    if estimate < MIN_PARALLEL_NANOS {
        vectorised(|| run(rest));
        return;
    }
    let chunk = rest_len.div_ceil(threads).next_multiple_of(CHUNK_ALIGN);
    let mut parts = Vec::with_capacity(threads);
    let mut left = rest_len;
    while left > chunk {
        let (head, tail) = rest.split_at(chunk);
        parts.push(head);
        rest = tail;
        left -= chunk;
    }
    parts.push(rest);
    for_each_part(parts, |part| vectorised(|| run(part)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn cheap_short_loops_run_in_one_piece() {
        let pieces = AtomicUsize::new(0);
        let mut x = vec![1u8; MIN_SPLIT_LEN - 1];
        drive(x.len(), x.as_mut_slice(), |p: &mut [u8]| {
            pieces.fetch_add(1, Ordering::Relaxed);
            p.fill(2);
        });
        assert_eq!(pieces.load(Ordering::Relaxed), 1);
        assert!(x.iter().all(|&v| v == 2));
    }

    #[test]
    fn slow_loops_are_split_and_cover_every_element() {
        let len = 3 * MIN_SPLIT_LEN + 5;
        let pieces = AtomicUsize::new(0);
        let mut out = vec![0usize; len];
        let idx: Vec<usize> = (0..len).collect();
        drive(
            len,
            (idx.as_slice(), out.as_mut_slice()),
            |(i, o): (&[usize], &mut [usize])| {
                pieces.fetch_add(1, Ordering::Relaxed);
                // ~1 µs per element: far above the split threshold.
                let until = Instant::now() + std::time::Duration::from_nanos(1000 * i.len() as u64);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                o.iter_mut().zip(i).for_each(|(o, &i)| *o = i + 1);
            },
        );
        assert!(out.iter().enumerate().all(|(i, &o)| o == i + 1));
        let want = if threads() >= 2 { 1 + threads() } else { 1 };
        assert_eq!(pieces.load(Ordering::Relaxed), want);
    }
}
