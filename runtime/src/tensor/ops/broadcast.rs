//! numpy broadcasting: `broadcast_to`/`expand` and its adjoint
//! [`reduce_to_shape`], plus the broadcasting element-wise loops (forward
//! and adjoint) that `+ - * /` are built on.

use super::reduce::{sum_slice, sum_zip};
use crate::tensor::base::expect_same_shape;
use crate::tensor::error::or_panic;
use crate::tensor::shape::{
    broadcast_shape_for, broadcast_strides, check_broadcast_to, for_each_row, for_each_row2,
    last_axis, numel, pattern, Pattern,
};
use crate::tensor::{Element, ShapeError, Tensor};

/// `x` broadcast to `shape` (numpy rules), materialised; fails when `x`'s
/// shape does not broadcast to exactly `shape`.
pub fn try_broadcast_to<T: Element>(
    x: &Tensor<T>,
    shape: &[usize],
) -> Result<Tensor<T>, ShapeError> {
    check_broadcast_to("broadcast_to", x.shape(), shape)?;
    if x.shape() == shape {
        return Ok(x.clone());
    }
    if let Some(y) = crate::tensor::device::broadcast(x, shape) {
        return Ok(y);
    }
    let src = x.data();
    let n = numel(shape);
    let data = if n == 0 {
        Vec::new()
    } else {
        match pattern(shape, x.shape()) {
            Pattern::Same => return Ok(x.clone()),
            Pattern::Scalar => vec![src[0]; n],
            Pattern::Repeat { .. } => src.iter().copied().cycle().take(n).collect(),
            Pattern::Block { block } => src
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, block))
                .collect(),
            Pattern::General => {
                let strides = broadcast_strides(x.shape(), shape);
                let (len, step) = last_axis(shape, &strides);
                let mut out = Vec::with_capacity(n);
                for_each_row(shape, &strides, |i| {
                    if step == 0 {
                        out.extend(std::iter::repeat_n(src[i], len));
                    } else {
                        out.extend_from_slice(&src[i..i + len]);
                    }
                });
                out
            }
        }
    };
    Ok(Tensor::from_parts(data, shape.to_vec()))
}

/// Adjoint of [`try_broadcast_to`]: the gradient summed over the broadcast
/// axes, back to the input's shape.
#[track_caller]
pub fn broadcast_to_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    reduce_to_shape(grad, input_shape)
}

/// Sums `grad` over the axes along which a tensor of `shape` was broadcast
/// to `grad`'s shape: the adjoint of broadcasting. Fails when `shape` does
/// not broadcast to `grad`'s shape.
pub fn try_reduce_to_shape<T: Element>(
    grad: &Tensor<T>,
    shape: &[usize],
) -> Result<Tensor<T>, ShapeError> {
    check_broadcast_to("reduce_to_shape", shape, grad.shape())?;
    if let Some(reduced) = crate::tensor::device::reduce_to_shape(grad, shape) {
        return Ok(reduced);
    }
    if grad.is_empty() {
        return Ok(Tensor::zeros(shape));
    }
    let g = grad.data();
    let data = match pattern(grad.shape(), shape) {
        Pattern::Same => return Ok(grad.clone()),
        Pattern::Scalar => vec![sum_slice(g)],
        Pattern::Repeat { period } => {
            // A bias gradient: the column sums of a `[rows, period]` matrix.
            let mut acc = vec![T::zero(); period];
            adjoint_kernels::reduce::sum_rows(g, g.len() / period, period, &mut acc);
            acc
        }
        Pattern::Block { block } => g.chunks_exact(block).map(sum_slice).collect(),
        Pattern::General => {
            let strides = broadcast_strides(shape, grad.shape());
            let mut acc = vec![T::zero(); numel(shape)];
            let (len, step) = last_axis(grad.shape(), &strides);
            let mut k = 0;
            for_each_row(grad.shape(), &strides, |j| {
                let row = &g[k..k + len];
                if step == 0 {
                    acc[j] += sum_slice(row);
                } else {
                    for (a, &v) in acc[j..j + len].iter_mut().zip(row) {
                        *a += v;
                    }
                }
                k += len;
            });
            acc
        }
    };
    Ok(Tensor::from_parts(data, shape.to_vec()))
}

/// [`try_reduce_to_shape`], panicking with the error's message.
#[track_caller]
pub fn reduce_to_shape<T: Element>(grad: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    or_panic(try_reduce_to_shape(grad, shape))
}

impl<T: Element> Tensor<T> {
    /// This tensor broadcast to `shape` (numpy rules), as a new contiguous
    /// tensor; fails when the shapes are incompatible.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Self, ShapeError> {
        try_broadcast_to(self, shape)
    }

    /// This tensor broadcast to `shape`; panics when the shapes are incompatible.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        or_panic(try_broadcast_to(self, shape))
    }

    /// Alias of [`Tensor::try_broadcast_to`] (vugrad's and torch's name).
    pub fn try_expand(&self, shape: &[usize]) -> Result<Self, ShapeError> {
        try_broadcast_to(self, shape)
    }

    /// Alias of [`Tensor::broadcast_to`] (vugrad's and torch's name).
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Self {
        or_panic(try_broadcast_to(self, shape))
    }
}

/// `f(a, b)` element-wise over the broadcast shape of `a` and `b`.
pub(crate) fn broadcast_zip<T: Element>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T,
) -> Result<Tensor<T>, ShapeError> {
    let out_shape = broadcast_shape_for(op, a.shape(), b.shape())?;
    if numel(&out_shape) == 0 {
        return Ok(Tensor::from_parts(Vec::new(), out_shape));
    }
    let fast = if out_shape == a.shape() {
        zip_big_small(a.data(), b.data(), pattern(a.shape(), b.shape()), &f)
    } else if out_shape == b.shape() {
        zip_big_small(b.data(), a.data(), pattern(b.shape(), a.shape()), |y, x| {
            f(x, y)
        })
    } else {
        None
    };
    let data = fast.unwrap_or_else(|| {
        let (ad, bd) = (a.data(), b.data());
        let sa = broadcast_strides(a.shape(), &out_shape);
        let sb = broadcast_strides(b.shape(), &out_shape);
        let (len, step_a) = last_axis(&out_shape, &sa);
        let step_b = last_axis(&out_shape, &sb).1;
        let mut out = Vec::with_capacity(numel(&out_shape));
        for_each_row2(&out_shape, &sa, &sb, |i, j| match (step_a, step_b) {
            (0, 0) => out.extend(std::iter::repeat_n(f(ad[i], bd[j]), len)),
            (0, _) => out.extend(bd[j..j + len].iter().map(|&y| f(ad[i], y))),
            (_, 0) => out.extend(ad[i..i + len].iter().map(|&x| f(x, bd[j]))),
            _ => out.extend(
                ad[i..i + len]
                    .iter()
                    .zip(&bd[j..j + len])
                    .map(|(&x, &y)| f(x, y)),
            ),
        });
        out
    });
    Ok(Tensor::from_parts(data, out_shape))
}

/// `f(big, small)` where `small` covers `big` as `pat` says, or `None` for
/// the general pattern.
fn zip_big_small<T: Element>(
    big: &[T],
    small: &[T],
    pat: Pattern,
    f: impl Fn(T, T) -> T,
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(big.len());
    match pat {
        Pattern::Same => out.extend(big.iter().zip(small).map(|(&x, &y)| f(x, y))),
        Pattern::Scalar => {
            let y = small[0];
            out.extend(big.iter().map(|&x| f(x, y)));
        }
        Pattern::Repeat { period } => {
            for chunk in big.chunks_exact(period) {
                out.extend(chunk.iter().zip(small).map(|(&x, &y)| f(x, y)));
            }
        }
        Pattern::Block { block } => {
            for (chunk, &y) in big.chunks_exact(block).zip(small) {
                out.extend(chunk.iter().map(|&x| f(x, y)));
            }
        }
        Pattern::General => return None,
    }
    Some(out)
}

/// `a = f(a, b)` in place, `b` broadcast to `a`'s shape (copy-on-write on
/// `a`'s storage); fails when `b` does not broadcast to `a`'s shape.
pub(crate) fn zip_assign<T: Element>(
    op: &'static str,
    a: &mut Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T,
) -> Result<(), ShapeError> {
    check_broadcast_to(op, b.shape(), a.shape())?;
    if a.is_empty() {
        return Ok(());
    }
    let shape = a.shape().to_vec();
    let small = b.data();
    let big = a.data_mut();
    match pattern(&shape, b.shape()) {
        Pattern::Same => big.iter_mut().zip(small).for_each(|(x, &y)| *x = f(*x, y)),
        Pattern::Scalar => big.iter_mut().for_each(|x| *x = f(*x, small[0])),
        Pattern::Repeat { period } => {
            for chunk in big.chunks_exact_mut(period) {
                chunk
                    .iter_mut()
                    .zip(small)
                    .for_each(|(x, &y)| *x = f(*x, y));
            }
        }
        Pattern::Block { block } => {
            for (chunk, &y) in big.chunks_exact_mut(block).zip(small) {
                chunk.iter_mut().for_each(|x| *x = f(*x, y));
            }
        }
        Pattern::General => {
            let strides = broadcast_strides(b.shape(), &shape);
            let (len, step) = last_axis(&shape, &strides);
            let mut k = 0;
            for_each_row(&shape, &strides, |j| {
                let row = &mut big[k..k + len];
                if step == 0 {
                    row.iter_mut().for_each(|x| *x = f(*x, small[j]));
                } else {
                    row.iter_mut()
                        .zip(&small[j..j + len])
                        .for_each(|(x, &y)| *x = f(*x, y));
                }
                k += len;
            });
        }
    }
    Ok(())
}

/// The adjoint of a broadcasting binary op `y = f(a, b)`: with `fa(g, a, b)
/// = g ∂f/∂a` and `fb(g, a, b) = g ∂f/∂b` per element, returns both summed
/// back to each operand's shape, in one pass: the fast patterns write each
/// result with slice loops, the general one accumulates every element's
/// contribution straight into the operand-shaped gradients.
#[track_caller]
pub(crate) fn broadcast_zip_backward<T: Element>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
    fa: impl Fn(T, T, T) -> T,
    fb: impl Fn(T, T, T) -> T,
) -> (Tensor<T>, Tensor<T>) {
    let out_shape = or_panic(broadcast_shape_for(op, a.shape(), b.shape()));
    expect_same_shape(op, grad.shape(), &out_shape);
    if grad.is_empty() {
        return (Tensor::zeros(a.shape()), Tensor::zeros(b.shape()));
    }
    let g = grad.data();
    if out_shape == a.shape() {
        let pat = pattern(a.shape(), b.shape());
        if let Some((da, db)) = backward_big_small(a.data(), b.data(), g, pat, &fa, &fb) {
            return (
                Tensor::from_parts(da, a.shape().to_vec()),
                Tensor::from_parts(db, b.shape().to_vec()),
            );
        }
    } else if out_shape == b.shape() {
        let pat = pattern(b.shape(), a.shape());
        let swapped_fb = |g, y, x| fb(g, x, y);
        let swapped_fa = |g, y, x| fa(g, x, y);
        if let Some((db, da)) =
            backward_big_small(b.data(), a.data(), g, pat, swapped_fb, swapped_fa)
        {
            return (
                Tensor::from_parts(da, a.shape().to_vec()),
                Tensor::from_parts(db, b.shape().to_vec()),
            );
        }
    }
    let (ad, bd) = (a.data(), b.data());
    let sa = broadcast_strides(a.shape(), &out_shape);
    let sb = broadcast_strides(b.shape(), &out_shape);
    let (len, step_a) = last_axis(&out_shape, &sa);
    let step_b = last_axis(&out_shape, &sb).1;
    let mut da = vec![T::zero(); a.len()];
    let mut db = vec![T::zero(); b.len()];
    let mut k = 0;
    for_each_row2(&out_shape, &sa, &sb, |i, j| {
        for (t, &gk) in g[k..k + len].iter().enumerate() {
            let (ia, ib) = (i + t * step_a, j + t * step_b);
            da[ia] += fa(gk, ad[ia], bd[ib]);
            db[ib] += fb(gk, ad[ia], bd[ib]);
        }
        k += len;
    });
    (
        Tensor::from_parts(da, a.shape().to_vec()),
        Tensor::from_parts(db, b.shape().to_vec()),
    )
}

/// The fast patterns of [`broadcast_zip_backward`]: `big` has the result's
/// shape, `small` covers it as `pat` says; returns `(d_big, d_small)`, or
/// `None` for the general pattern.
fn backward_big_small<T: Element>(
    big: &[T],
    small: &[T],
    g: &[T],
    pat: Pattern,
    f_big: impl Fn(T, T, T) -> T,
    f_small: impl Fn(T, T, T) -> T,
) -> Option<(Vec<T>, Vec<T>)> {
    let mut d_big = Vec::with_capacity(big.len());
    let d_small = match pat {
        Pattern::Same => {
            d_big.extend(
                g.iter()
                    .zip(big)
                    .zip(small)
                    .map(|((&gk, &x), &y)| f_big(gk, x, y)),
            );
            g.iter()
                .zip(big)
                .zip(small)
                .map(|((&gk, &x), &y)| f_small(gk, x, y))
                .collect()
        }
        Pattern::Scalar => {
            let y = small[0];
            d_big.extend(g.iter().zip(big).map(|(&gk, &x)| f_big(gk, x, y)));
            vec![sum_zip(g, big, |gk, x| f_small(gk, x, y))]
        }
        Pattern::Repeat { period } => {
            let mut d_small = vec![T::zero(); period];
            for (gc, bc) in g.chunks_exact(period).zip(big.chunks_exact(period)) {
                d_big.extend(
                    gc.iter()
                        .zip(bc)
                        .zip(small)
                        .map(|((&gk, &x), &y)| f_big(gk, x, y)),
                );
                for (((&gk, &x), &y), acc) in gc.iter().zip(bc).zip(small).zip(d_small.iter_mut()) {
                    *acc += f_small(gk, x, y);
                }
            }
            d_small
        }
        Pattern::Block { block } => {
            let mut d_small = Vec::with_capacity(small.len());
            for ((gc, bc), &y) in g
                .chunks_exact(block)
                .zip(big.chunks_exact(block))
                .zip(small)
            {
                d_big.extend(gc.iter().zip(bc).map(|(&gk, &x)| f_big(gk, x, y)));
                d_small.push(sum_zip(gc, bc, |gk, x| f_small(gk, x, y)));
            }
            d_small
        }
        Pattern::General => return None,
    };
    Some((d_big, d_small))
}
