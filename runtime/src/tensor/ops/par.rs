//! How the CNN ops spread independent pieces of work (images, channel
//! planes) across threads: through `adjoint_kernels`' driver, in a few
//! contiguous groups, and only when there is enough work to pay for it.

use adjoint_kernels::{for_each_part, threads};

/// Below this many elements touched, a loop runs on the calling thread (a
/// fork costs microseconds; this is tens of microseconds of work).
const PARALLEL_THRESHOLD: usize = 1 << 14;

/// How many consecutive items (images, planes) one task takes: enough tasks
/// to balance a busy core (four per thread), never fewer than one item.
pub(crate) fn group_size(items: usize) -> usize {
    items.div_ceil(4 * threads().max(1)).max(1)
}

/// Runs `f` on every part, across threads when `work` (elements touched in
/// all) is large enough and there are several parts, else in order here.
pub(crate) fn run_parts<P: Send>(parts: Vec<P>, work: usize, f: impl Fn(P) + Sync) {
    if work < PARALLEL_THRESHOLD || parts.len() < 2 || threads() < 2 {
        parts.into_iter().for_each(f);
    } else {
        for_each_part(parts, f);
    }
}
