//! How a product `C (m×n) = A (m×k) · B (k×n)` is divided among threads.
//!
//! Each thread runs the single-threaded kernel on one block of `C`: a block
//! of columns (with the same columns of `B`; every thread packs all of `A`)
//! or a block of rows (with the same rows of `A`; every thread packs all of
//! `B`). `k` is never split, so each element of `C` is computed by the same
//! sequence of operations as on one thread.

/// Edge of matrixmultiply's micro-kernel tile (16 for f32 with AVX-512, 8 for
/// f64 or AVX2): block edges at multiples of it leave no thread with a
/// ragged tile except the last.
pub(crate) const TILE: usize = 16;

/// Products below this many floating-point operations (`2·m·n·k`, here
/// ~4 MFLOP, ~25 µs on one core) stay on the calling thread.
///
/// Measured on the 2-core AMD EPYC VM (f32): with the pool's workers awake,
/// a 2-way split already pays from ~0.5 MFLOP (1.06–1.5×); but once rayon's
/// workers have idled for more than ~20–30 µs they sleep, and then handing
/// out a task blocks the caller ~10 µs in the wake-up (futex + IPI) and the
/// helper starts ~25–35 µs later. Cold, a 3.3 MFLOP product ran 0.5× as
/// fast split as serial, a 10 MFLOP one 1.1×. 4 MFLOP bounds the cold loss
/// to ~10 µs while every layer-sized product (≥ 26 MFLOP in the MLP) splits.
pub(crate) const MIN_PARALLEL_FLOP: usize = 1 << 22;

/// Least work worth one more task, so many-core machines do not cut
/// mid-sized products into slivers that cost more to pack than to compute.
pub(crate) const MIN_FLOP_PER_TASK: usize = MIN_PARALLEL_FLOP / 2;

/// How [`gemm`](super::gemm) divides a product among threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Everything on the calling thread.
    Serial,
    /// Blocks of columns of `B` and `C`, one task each.
    Cols {
        /// Columns per block (a multiple of the tile; the last may be narrower).
        width: usize,
    },
    /// Blocks of rows of `A` and `C`, one task each.
    Rows {
        /// Rows per block (a multiple of the tile; the last may be shorter).
        height: usize,
    },
}

impl Split {
    /// The blocks `size` cuts `0..extent` into, where `extent` is `n` for
    /// column blocks and `m` for row blocks.
    pub(crate) fn blocks(size: usize, extent: usize) -> impl Iterator<Item = (usize, usize)> {
        let size = size.max(1);
        (0..extent)
            .step_by(size)
            .map(move |start| (start, (start + size).min(extent)))
    }
}

/// The split for an `m×k · k×n` product on `threads` threads.
///
/// One task per thread (more, smaller blocks only repeat the packing: 4
/// column blocks on 2 cores ran 5–20% slower than 2). Column blocks make
/// every task pack all of `A` (`m·k` elements), row blocks all of `B`
/// (`k·n`), so columns are cut when `n > m` and rows otherwise (measured,
/// square products split slightly better by rows) — unless that dimension
/// is a single tile wide.
pub(crate) fn plan(m: usize, k: usize, n: usize, threads: usize) -> Split {
    let flop = 2usize.saturating_mul(m).saturating_mul(k).saturating_mul(n);
    if threads < 2 || flop < MIN_PARALLEL_FLOP {
        return Split::Serial;
    }
    let max_tasks = threads.min(flop / MIN_FLOP_PER_TASK);
    let (col_tiles, row_tiles) = (n.div_ceil(TILE), m.div_ceil(TILE));
    let cut_cols = if n > m {
        col_tiles >= 2 || row_tiles < 2
    } else {
        row_tiles < 2 && col_tiles >= 2
    };
    let tiles = if cut_cols { col_tiles } else { row_tiles };
    let tasks = max_tasks.min(tiles);
    if tasks < 2 {
        return Split::Serial;
    }
    let size = tiles.div_ceil(tasks) * TILE;
    if cut_cols {
        Split::Cols { width: size }
    } else {
        Split::Rows { height: size }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_products_stay_serial() {
        assert_eq!(plan(8, 8, 8, 2), Split::Serial);
        assert_eq!(plan(100, 256, 10, 2), Split::Serial);
        assert_eq!(plan(100, 128, 128, 2), Split::Serial);
        assert_eq!(plan(100, 784, 512, 1), Split::Serial);
        assert_eq!(plan(0, 784, 512, 2), Split::Serial);
    }

    #[test]
    fn wide_products_cut_columns_in_tile_multiples() {
        assert_eq!(plan(100, 784, 512, 2), Split::Cols { width: 256 });
        // 784 columns = 49 tiles: 25 + 24 tiles.
        assert_eq!(plan(100, 512, 784, 2), Split::Cols { width: 400 });
        assert_eq!(plan(512, 512, 512, 4), Split::Rows { height: 128 });
    }

    #[test]
    fn tall_or_square_products_cut_rows() {
        // 100 rows = 7 tiles: 4 + 3 tiles.
        assert_eq!(plan(100, 4096, 10, 2), Split::Rows { height: 64 });
        assert_eq!(plan(784, 100, 512, 2), Split::Rows { height: 400 });
        assert_eq!(plan(256, 256, 256, 2), Split::Rows { height: 128 });
    }

    #[test]
    fn single_tile_dimensions_are_not_cut() {
        assert_eq!(plan(16, 4096, 512, 2), Split::Cols { width: 256 });
        assert_eq!(plan(4096, 4096, 16, 2), Split::Rows { height: 2048 });
        assert_eq!(plan(16, 100_000, 16, 2), Split::Serial);
    }

    #[test]
    fn many_threads_get_at_least_the_minimum_work_each() {
        // 80 MFLOP / 2 MFLOP per task = 38 tasks at most; 32 column tiles.
        assert_eq!(plan(100, 784, 512, 64), Split::Cols { width: 16 });
        // 5 MFLOP: two tasks even with 64 threads.
        assert_eq!(plan(100, 100, 250, 64), Split::Cols { width: 128 });
    }

    #[test]
    fn blocks_cover_the_extent() {
        let b: Vec<_> = Split::blocks(400, 784).collect();
        assert_eq!(b, vec![(0, 400), (400, 784)]);
        let b: Vec<_> = Split::blocks(64, 64).collect();
        assert_eq!(b, vec![(0, 64)]);
    }
}
