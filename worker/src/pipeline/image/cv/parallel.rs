//! Row-parallel loops over an output buffer with `std::thread::scope`.
//!
//! OpenCV runs its kernels through `parallel_for_` over row stripes; every kernel here is
//! written so that a row's result does not depend on how rows are grouped, so splitting
//! the output into contiguous stripes gives the same bytes on any thread count.

use std::num::NonZeroUsize;
use std::thread;

/// Below this many output samples a job runs on the calling thread: spawning costs more.
const MIN_PARALLEL_SAMPLES: usize = 64 * 1024;

/// Number of worker threads to use for `samples` output values.
fn thread_count(samples: usize) -> usize {
    if samples < MIN_PARALLEL_SAMPLES {
        return 1;
    }
    thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
        .min(samples / MIN_PARALLEL_SAMPLES)
        .max(1)
}

/// Calls `f(y0, rows)` on disjoint stripes of whole rows of `out` (`row_len` values per
/// row), in parallel; `y0` is the index of the stripe's first row.
pub fn for_each_row_stripe<T, F>(out: &mut [T], row_len: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    if row_len == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / row_len;
    let threads = thread_count(out.len()).min(rows.max(1));
    if threads <= 1 {
        f(0, out);
        return;
    }
    let rows_per = rows.div_ceil(threads);
    thread::scope(|s| {
        for (i, chunk) in out.chunks_mut(rows_per * row_len).enumerate() {
            let f = &f;
            s.spawn(move || f(i * rows_per, chunk));
        }
    });
}
