//! Running CUDA C as host C++, so tests check kernels' math on machines
//! without a GPU: a shim erases `__global__`/`__device__`, runs a kernel as
//! one block of one thread (a grid-stride loop visits every element) and
//! makes `atomicAdd` a plain add. Used by this crate's and the runtime's
//! tests; a missing C++ compiler is reported, not failed.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shim: `<cmath>`, CUDA's qualifiers erased, its built-ins for one
/// thread of one block.
pub const SHIM: &str = r#"#include <cmath>
#include <cstdio>
using namespace std;
#define __global__
#define __device__
#define __shared__ static
#define __restrict__
struct Dim { unsigned int x; };
static Dim blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
static void __syncthreads() {}
template <typename T> T atomicAdd(T* a, T v) { T old = *a; *a += v; return old; }
"#;

/// Compiles `program` after [`SHIM`] as host C++ and returns the numbers it
/// prints (`NaN` for NaN); `None` after printing why where no C++ compiler
/// (g++, c++, clang++) is found.
///
/// # Panics
/// If the compiler rejects the program (with its message and the program)
/// or the program prints something that is not a number.
pub fn run(program: &str) -> Option<Vec<f64>> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let Some(compiler) = ["g++", "c++", "clang++"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
    else {
        println!("skipped: no C++ compiler (g++, c++ or clang++) to run the CUDA C on the host");
        return None;
    };
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("adjoint_host_cuda_{}_{run}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (source, binary) = (dir.join("main.cpp"), dir.join("main"));
    std::fs::write(&source, format!("{SHIM}{program}")).expect("source written");
    let built = Command::new(compiler)
        .args(["-std=c++17", "-O0", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("the compiler runs");
    assert!(
        built.status.success(),
        "{compiler} rejected the CUDA C:\n{}\n{program}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&binary).output().expect("the program runs");
    let _ = std::fs::remove_dir_all(&dir);
    Some(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|v| v.parse().expect("a number"))
            .collect(),
    )
}
