//! Matrix products and their adjoints, on `adjoint_kernels::gemm`.
//!
//! Shapes: `[m, k] x [k, n] -> [m, n]`; batched `[b, m, k] x [b, k, n] ->
//! [b, m, n]`; and `[b, m, k] x [k, n] -> [b, m, n]` (one weight matrix for
//! the whole batch, computed as a single `[b·m, k] x [k, n]` product).
//!
//! For `C = A B` the adjoints are `dA = G Bᵀ` and `dB = Aᵀ G`; the
//! transposes are strided views (`MatRef::t`), never copies.

use adjoint_kernels::{gemm, MatRef};

use crate::tensor::base::expect_same_shape;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// How the operands of a product line up.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `[m, k] x [k, n]`, or `[b, m, k] x [k, n]` with `m` standing for `b·m`.
    Single { m: usize, k: usize, n: usize },
    /// `[b, m, k] x [b, k, n]`.
    Batched {
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
    },
}

impl Layout {
    /// The number of products and each one's `(m, k, n)`.
    fn dims(self) -> (usize, (usize, usize, usize)) {
        match self {
            Layout::Single { m, k, n } => (1, (m, k, n)),
            Layout::Batched { batch, m, k, n } => (batch, (m, k, n)),
        }
    }
}

/// Checks the operands' shapes and returns their layout and the result's shape.
fn layout(op: &'static str, a: &[usize], b: &[usize]) -> Result<(Layout, Vec<usize>), ShapeError> {
    let inner = || ShapeError::InnerDimension {
        op,
        lhs: a.to_vec(),
        rhs: b.to_vec(),
    };
    match (a, b) {
        (&[m, k], &[k2, n]) => {
            if k != k2 {
                return Err(inner());
            }
            Ok((Layout::Single { m, k, n }, vec![m, n]))
        }
        (&[batch, m, k], &[k2, n]) => {
            if k != k2 {
                return Err(inner());
            }
            Ok((Layout::Single { m: batch * m, k, n }, vec![batch, m, n]))
        }
        (&[batch, m, k], &[batch2, k2, n]) => {
            if batch != batch2 {
                return Err(ShapeError::BatchSize {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                });
            }
            if k != k2 {
                return Err(inner());
            }
            Ok((Layout::Batched { batch, m, k, n }, vec![batch, m, n]))
        }
        (&[_, _] | &[_, _, _], _) => Err(ShapeError::Rank {
            op,
            expected: "a right operand of shape [k, n], or [b, k, n] after a 3-D left operand",
            shape: b.to_vec(),
        }),
        _ => Err(ShapeError::Rank {
            op,
            expected: "a left operand of shape [m, k] or [b, m, k]",
            shape: a.to_vec(),
        }),
    }
}

/// The matrix product `a · b` (2-D, batched 3-D, or 3-D times 2-D); fails
/// when the ranks, inner dimensions or batch sizes do not fit.
pub fn try_matmul<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    let (layout, out_shape) = layout("matmul", a.shape(), b.shape())?;
    let (batch, mkn) = layout.dims();
    if let Some(out) = device::matmul("matmul", a, b, (false, false), batch, mkn, &out_shape) {
        return Ok(out);
    }
    let mut out = vec![T::zero(); out_shape.iter().product()];
    let (ad, bd) = (a.data(), b.data());
    match layout {
        Layout::Single { m, k, n } => {
            gemm(
                T::one(),
                MatRef::row_major(ad, m, k),
                MatRef::row_major(bd, k, n),
                T::zero(),
                &mut out,
            );
        }
        Layout::Batched { batch, m, k, n } => {
            for i in 0..batch {
                let a_i = MatRef::row_major(&ad[i * m * k..(i + 1) * m * k], m, k);
                let b_i = MatRef::row_major(&bd[i * k * n..(i + 1) * k * n], k, n);
                gemm(
                    T::one(),
                    a_i,
                    b_i,
                    T::zero(),
                    &mut out[i * m * n..(i + 1) * m * n],
                );
            }
        }
    }
    Ok(Tensor::from_parts(out, out_shape))
}

/// Adjoint of [`try_matmul`]: `(dA, dB) = (G · Bᵀ, Aᵀ · G)` (per batch for
/// batched products; summed over the batch for the shared right operand).
///
/// # Panics
/// If the operands do not form a product or `grad` is not its shape.
#[track_caller]
pub fn matmul_backward<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    (
        matmul_backward_lhs(a, b, grad),
        matmul_backward_rhs(a, b, grad),
    )
}

/// The left half of [`matmul_backward`], `dA = G · Bᵀ`, for when only the
/// left operand needs a gradient (one product instead of two).
///
/// # Panics
/// If the operands do not form a product or `grad` is not its shape.
#[track_caller]
pub fn matmul_backward_lhs<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> Tensor<T> {
    let layout = checked_layout("matmul_backward_lhs", a, b, grad);
    let (batch, (m, k, n)) = layout.dims();
    let on_device = device::matmul(
        "matmul_backward_lhs",
        grad,
        b,
        (false, true),
        batch,
        (m, n, k),
        a.shape(),
    );
    if let Some(da) = on_device {
        return da;
    }
    let mut da = vec![T::zero(); a.len()];
    let (bd, g) = (b.data(), grad.data());
    match layout {
        Layout::Single { m, k, n } => {
            let (g_mat, b_mat) = (MatRef::row_major(g, m, n), MatRef::row_major(bd, k, n));
            gemm(T::one(), g_mat, b_mat.t(), T::zero(), &mut da);
        }
        Layout::Batched { batch, m, k, n } => {
            for i in 0..batch {
                let g_i = MatRef::row_major(&g[i * m * n..(i + 1) * m * n], m, n);
                let b_i = MatRef::row_major(&bd[i * k * n..(i + 1) * k * n], k, n);
                gemm(
                    T::one(),
                    g_i,
                    b_i.t(),
                    T::zero(),
                    &mut da[i * m * k..(i + 1) * m * k],
                );
            }
        }
    }
    Tensor::from_parts(da, a.shape().to_vec())
}

/// The right half of [`matmul_backward`], `dB = Aᵀ · G`, for when only the
/// right operand needs a gradient (one product instead of two).
///
/// # Panics
/// If the operands do not form a product or `grad` is not its shape.
#[track_caller]
pub fn matmul_backward_rhs<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> Tensor<T> {
    let layout = checked_layout("matmul_backward_rhs", a, b, grad);
    let (batch, (m, k, n)) = layout.dims();
    let on_device = device::matmul(
        "matmul_backward_rhs",
        a,
        grad,
        (true, false),
        batch,
        (k, m, n),
        b.shape(),
    );
    if let Some(db) = on_device {
        return db;
    }
    let mut db = vec![T::zero(); b.len()];
    let (ad, g) = (a.data(), grad.data());
    match layout {
        Layout::Single { m, k, n } => {
            let (a_mat, g_mat) = (MatRef::row_major(ad, m, k), MatRef::row_major(g, m, n));
            gemm(T::one(), a_mat.t(), g_mat, T::zero(), &mut db);
        }
        Layout::Batched { batch, m, k, n } => {
            for i in 0..batch {
                let a_i = MatRef::row_major(&ad[i * m * k..(i + 1) * m * k], m, k);
                let g_i = MatRef::row_major(&g[i * m * n..(i + 1) * m * n], m, n);
                gemm(
                    T::one(),
                    a_i.t(),
                    g_i,
                    T::zero(),
                    &mut db[i * k * n..(i + 1) * k * n],
                );
            }
        }
    }
    Tensor::from_parts(db, b.shape().to_vec())
}

/// The layout of a product whose adjoint is being taken; panics (under
/// `op`) unless the operands form a product and `grad` has its shape.
#[track_caller]
fn checked_layout<T: Element>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> Layout {
    let (layout, out_shape) = or_panic(layout(op, a.shape(), b.shape()));
    expect_same_shape(op, grad.shape(), &out_shape);
    layout
}

impl<T: Element> Tensor<T> {
    /// The matrix product `self · other` (see [`try_matmul`] for the shapes
    /// accepted), or an error naming both shapes.
    pub fn try_matmul(&self, other: &Self) -> Result<Self, ShapeError> {
        try_matmul(self, other)
    }

    /// The matrix product `self · other`; panics with e.g. `matmul: inner
    /// dimensions differ: [100, 784] x [512, 10]`.
    #[track_caller]
    pub fn matmul(&self, other: &Self) -> Self {
        or_panic(try_matmul(self, other))
    }
}
