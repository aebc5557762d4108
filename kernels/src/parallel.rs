//! The one way kernels fan work out: `n` independent tasks that the calling
//! thread and up to `threads() - 1` rayon workers claim one at a time.
//!
//! Why not `join`, `par_iter` or a rayon scope: on this project's 2-core VM a
//! rayon worker that has gone to sleep takes ~25 µs to start a job (measured:
//! median delay between spawning and the job starting after the pool idled
//! for 100 µs or more; 0.3 µs while it still spins), and a caller outside the
//! pool that parks until a scope's jobs have run pays a second wake-up.
//! Here the caller starts on task 0 at once and claims whatever the workers
//! have not, waits by spinning only for tasks already running, and never
//! waits for a helper that has not started: a late helper finds nothing left
//! and returns. A fork therefore costs at most ~1 µs more than running the
//! tasks serially, whatever state the pool is in.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Busy-wait iterations before the waiting caller starts yielding its core
/// (tens of microseconds): the tasks it waits for are running, so the wait
/// is short unless the machine is oversubscribed.
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// Number of threads the kernels split work across: the current rayon
/// pool's size (`RAYON_NUM_THREADS` or the number of cores).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `task(0)`, …, `task(n-1)`, each exactly once, returning when all have
/// finished. Tasks are claimed in order by the calling thread and by helper
/// jobs on rayon's pool. If tasks panic, the first panic is re-raised here
/// after every claimed task has finished.
///
/// Public so that ops outside this crate (e.g. the runtime's im2col over the
/// images of a batch) fan out the same way the kernels do.
pub fn for_each_task<F>(n: usize, task: F)
where
    F: Fn(usize) + Sync,
{
    let helpers = threads().saturating_sub(1).min(n.saturating_sub(1));
    if helpers == 0 {
        (0..n).for_each(task);
        return;
    }
    let task: &(dyn Fn(usize) + Sync) = &task;
    // SAFETY: only the lifetime is erased. `Claims::task` is called only
    // after claiming an index below `n`, and this function does not return
    // (nor unwind: every task runs under `catch_unwind`) before all `n`
    // claimed tasks have finished, so every call happens while `task` lives.
    let task = unsafe {
        std::mem::transmute::<&(dyn Fn(usize) + Sync), *const (dyn Fn(usize) + Sync + 'static)>(
            task,
        )
    };
    let claims = Arc::new(Claims {
        n,
        task,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    });
    for _ in 0..helpers {
        let claims = Arc::clone(&claims);
        rayon::spawn(move || claims.work());
    }
    claims.work();
    claims.wait_all_done();
    let panic = claims.panic.lock().map(|mut p| p.take());
    if let Ok(Some(payload)) = panic {
        resume_unwind(payload);
    }
}

/// Runs `f` on every part (e.g. disjoint `&mut` chunks of one buffer), in
/// parallel as [`for_each_task`] does.
///
/// Public for the same reason as [`for_each_task`].
pub fn for_each_part<P, F>(parts: Vec<P>, f: F)
where
    P: Send,
    F: Fn(P) + Sync,
{
    let slots: Vec<Mutex<Option<P>>> = parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
    for_each_task(slots.len(), |i| {
        // Each slot is taken exactly once, by the task that claimed index i.
        let part = slots[i].lock().ok().and_then(|mut slot| slot.take());
        if let Some(part) = part {
            f(part);
        }
    });
}

/// The state the caller and its helpers share: the next unclaimed task and
/// the count of finished ones.
struct Claims {
    n: usize,
    task: *const (dyn Fn(usize) + Sync),
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `task` points to a `Sync` closure, called only under the protocol
// described in `for_each_task`; the other fields are thread-safe.
unsafe impl Send for Claims {}
// SAFETY: as for `Send`.
unsafe impl Sync for Claims {}

impl Claims {
    /// Claims and runs tasks until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n {
                return;
            }
            // SAFETY: `i < n` was claimed and is not yet counted done, so the
            // caller is still inside `for_each_task` and the closure lives.
            let task = unsafe { &*self.task };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| task(i))) {
                if let Ok(mut first) = self.panic.lock() {
                    first.get_or_insert(payload);
                }
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Returns once all `n` tasks have finished (all are claimed by now).
    fn wait_all_done(&self) {
        let mut spins = 0;
        while self.done.load(Ordering::Acquire) < self.n {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        for n in [0, 1, 2, 3, 17, 100] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each_task(n, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            let counts: Vec<usize> = hits.iter().map(|h| h.load(Ordering::Relaxed)).collect();
            assert_eq!(counts, vec![1; n]);
        }
    }

    #[test]
    fn parts_are_handed_out_once_each() {
        let mut data = vec![0u32; 1000];
        for_each_part(data.chunks_mut(300).enumerate().collect(), |(i, chunk)| {
            chunk.iter_mut().for_each(|x| *x += i as u32 + 1);
        });
        assert_eq!(&data[..3], &[1, 1, 1]);
        assert_eq!(data[299..302], [1, 2, 2]);
        assert_eq!(data[999], 4);
        assert_eq!(
            data.iter().map(|&x| x as u64).sum::<u64>(),
            300 + 600 + 900 + 400
        );
    }

    #[test]
    fn runs_inside_the_pool_too() {
        let total = AtomicUsize::new(0);
        rayon::scope(|_| {
            for_each_task(8, |i| {
                total.fetch_add(i, Ordering::Relaxed);
            });
        });
        assert_eq!(total.load(Ordering::Relaxed), 28);
    }

    #[test]
    fn a_panicking_task_is_reraised_after_the_others_finish() {
        let finished = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            for_each_task(8, |i| {
                assert!(i != 5, "task {i} failed");
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }));
        let payload = result.expect_err("the panic must reach the caller");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("task 5 failed")
        );
        assert_eq!(finished.load(Ordering::Relaxed), 7);
    }
}
