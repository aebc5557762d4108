//! A tape-based tensor autograd: each op on a [`TensorVar`] records one
//! node holding its parents and a closure computing their gradients from the
//! output's (the op's `*_backward` kernel); [`TensorVar::backward`] sweeps
//! the tape once in reverse from a scalar loss.
//!
//! It is written to be a fair baseline: values are shared, not copied
//! (tensors are `Arc`-backed), gradients are accumulated in place, and no
//! gradient is computed for an input that does not need one (constants such
//! as the data batch), as in PyTorch's `requires_grad`.
//!
//! ```
//! use adjoint_runtime::tape::Graph;
//! use adjoint_runtime::tensor::Tensor;
//!
//! let graph = Graph::<f64>::new();
//! let w = graph.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap());
//! let x = graph.constant(Tensor::from_vec(vec![3.0, 4.0], &[1, 2]).unwrap());
//! let loss = x.matmul(&w).square().sum();     // (3·1 + 4·2)² = 121
//! let grads = loss.backward();
//! assert_eq!(loss.item(), 121.0);
//! assert_eq!(grads.wrt(&w).to_vec(), vec![66.0, 88.0]); // 2·11·xᵀ
//! ```

use crate::tensor::ops::batch_norm::{self, BatchStats};
use crate::tensor::ops::{
    binary, broadcast, conv, dropout, index, loss, matmul, normalize, pool, reduce, reshape,
    scalar, softmax, transpose, unary,
};
use crate::tensor::{Element, Labels, Placement, Tensor};
use std::cell::RefCell;
use std::ops::Range;

/// Computes the parents' gradients from the output's; `None` for a parent
/// that needs none.
type Backward<T> = Box<dyn Fn(&Tensor<T>, &[bool]) -> Vec<Option<Tensor<T>>>>;

struct Node<T: Element> {
    parents: Vec<usize>,
    /// Which parents need a gradient (fixed when the node is recorded).
    needs: Vec<bool>,
    backward: Option<Backward<T>>,
    requires_grad: bool,
}

/// The tape: the nodes recorded so far. Create one per evaluation (it is
/// cheap) and record ops through the [`TensorVar`]s it hands out.
pub struct Graph<T: Element = f32> {
    nodes: RefCell<Vec<Node<T>>>,
}

impl<T: Element> Default for Graph<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Graph<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Graph {
            nodes: RefCell::new(Vec::new()),
        }
    }

    /// The number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A differentiable input (a parameter): its gradient is kept.
    pub fn leaf(&self, value: Tensor<T>) -> TensorVar<'_, T> {
        self.push(value, Vec::new(), None, true)
    }

    /// A non-differentiable input (data, labels' one-hot, ...).
    pub fn constant(&self, value: Tensor<T>) -> TensorVar<'_, T> {
        self.push(value, Vec::new(), None, false)
    }

    fn push(
        &self,
        value: Tensor<T>,
        parents: Vec<usize>,
        backward: Option<Backward<T>>,
        requires_grad: bool,
    ) -> TensorVar<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        let needs = parents.iter().map(|p| nodes[*p].requires_grad).collect();
        nodes.push(Node {
            parents,
            needs,
            backward,
            requires_grad,
        });
        TensorVar {
            graph: self,
            id: nodes.len() - 1,
            value,
        }
    }

    /// Records `value = op(parents)` with its backward closure; constants in
    /// give a constant out, without a closure.
    fn record(
        &self,
        value: Tensor<T>,
        parents: &[&TensorVar<'_, T>],
        backward: impl Fn(&Tensor<T>, &[bool]) -> Vec<Option<Tensor<T>>> + 'static,
    ) -> TensorVar<'_, T> {
        let ids: Vec<usize> = parents.iter().map(|p| p.id).collect();
        let requires_grad = {
            let nodes = self.nodes.borrow();
            ids.iter().any(|i| nodes[*i].requires_grad)
        };
        if requires_grad {
            self.push(value, ids, Some(Box::new(backward)), true)
        } else {
            self.push(value, Vec::new(), None, false)
        }
    }
}

/// A value on the tape.
#[derive(Clone)]
pub struct TensorVar<'g, T: Element = f32> {
    graph: &'g Graph<T>,
    id: usize,
    value: Tensor<T>,
}

/// The gradients of a loss with respect to the nodes of its tape.
pub struct TensorGradients<T: Element> {
    grads: Vec<Option<Tensor<T>>>,
}

impl<T: Element> TensorGradients<T> {
    /// The gradient of the loss with respect to `v` (zeros when the loss does
    /// not depend on it).
    pub fn wrt(&self, v: &TensorVar<'_, T>) -> Tensor<T> {
        match self.grads.get(v.id).and_then(Option::as_ref) {
            Some(g) => g.clone(),
            None => v.value.zeros_like(),
        }
    }
}

fn one<T: Element>(x: Option<Tensor<T>>) -> Vec<Option<Tensor<T>>> {
    vec![x]
}

impl<'g, T: Element> TensorVar<'g, T> {
    /// The value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value of a one-element variable (a loss).
    pub fn item(&self) -> T {
        self.value.item()
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// Reverse sweep from this one-element variable (seed 1).
    ///
    /// # Panics
    /// If the value has more than one element.
    pub fn backward(&self) -> TensorGradients<T> {
        assert_eq!(
            self.value.len(),
            1,
            "backward: the loss must have one element, got shape {:?}",
            self.value.shape()
        );
        let nodes = self.graph.nodes.borrow();
        let mut grads: Vec<Option<Tensor<T>>> = vec![None; self.id + 1];
        grads[self.id] = Some(self.value.scalar_like(T::one()).reshape(self.value.shape()));
        for id in (0..=self.id).rev() {
            let node = &nodes[id];
            let Some(backward) = &node.backward else {
                continue;
            };
            let Some(g) = grads[id].take() else {
                continue;
            };
            for (parent, pg) in node.parents.iter().zip(backward(&g, &node.needs)) {
                if let Some(pg) = pg {
                    match &mut grads[*parent] {
                        Some(acc) => *acc += &pg,
                        slot => *slot = Some(pg),
                    }
                }
            }
            grads[id] = Some(g);
        }
        TensorGradients { grads }
    }

    fn unary(
        &self,
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> Tensor<T> + 'static,
    ) -> TensorVar<'g, T> {
        self.graph
            .record(value, &[self], move |g, _| one(Some(backward(g))))
    }

    fn binary(
        &self,
        other: &TensorVar<'g, T>,
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> (Tensor<T>, Tensor<T>) + 'static,
    ) -> TensorVar<'g, T> {
        self.graph.record(value, &[self, other], move |g, needs| {
            let (a, b) = backward(g);
            vec![needs[0].then_some(a), needs[1].then_some(b)]
        })
    }

    fn to_scalar(&self, value: T, backward: impl Fn(T) -> Tensor<T> + 'static) -> TensorVar<'g, T> {
        self.unary(self.value.scalar_like(value), move |g| backward(g.item()))
    }

    /// Matrix product (2-D or batched), see [`Tensor::matmul`].
    pub fn matmul(&self, other: &TensorVar<'g, T>) -> TensorVar<'g, T> {
        let (a, b) = (self.value.clone(), other.value.clone());
        let value = a.matmul(&b);
        self.graph.record(value, &[self, other], move |g, needs| {
            if needs[0] && needs[1] {
                let (da, db) = matmul::matmul_backward(&a, &b, g);
                vec![Some(da), Some(db)]
            } else if needs[0] {
                vec![Some(matmul::matmul_backward_lhs(&a, &b, g)), None]
            } else {
                vec![None, Some(matmul::matmul_backward_rhs(&a, &b, g))]
            }
        })
    }

    /// The transpose of the last two axes.
    pub fn t(&self) -> TensorVar<'g, T> {
        self.unary(self.value.t(), transpose::t_backward)
    }

    /// Swaps two axes.
    pub fn transpose(&self, a0: usize, a1: usize) -> TensorVar<'g, T> {
        self.unary(self.value.transpose(a0, a1), move |g| {
            transpose::transpose_backward(a0, a1, g)
        })
    }

    /// The same elements under another shape.
    pub fn reshape(&self, shape: &[usize]) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.reshape(shape), move |g| {
            reshape::reshape_backward(&input, g)
        })
    }

    /// Broadcasts to `shape`.
    pub fn expand(&self, shape: &[usize]) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.expand(shape), move |g| {
            broadcast::broadcast_to_backward(&input, g)
        })
    }

    /// Gathers `indices` along `axis`.
    pub fn select(&self, axis: usize, indices: &[usize]) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        let idx = indices.to_vec();
        self.unary(self.value.select(axis, indices), move |g| {
            index::select_backward(&input, axis, &idx, g)
        })
    }

    /// Removes a length-1 axis.
    pub fn squeeze(&self, axis: usize) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.squeeze(axis), move |g| {
            reshape::squeeze_backward(&input, g)
        })
    }

    /// Inserts a length-1 axis.
    pub fn unsqueeze(&self, axis: usize) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.unsqueeze(axis), move |g| {
            reshape::unsqueeze_backward(&input, g)
        })
    }

    /// The sub-range `range` along `axis`.
    pub fn slice(&self, axis: usize, range: Range<usize>) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        let value = self.value.slice(axis, range.clone());
        self.unary(value, move |g| {
            index::slice_backward(&input, axis, range.clone(), g)
        })
    }

    /// `x^p` element-wise.
    pub fn powf(&self, p: T) -> TensorVar<'g, T> {
        let x = self.value.clone();
        self.unary(unary::powf(&x, p), move |g| unary::powf_backward(&x, p, g))
    }

    /// `max(x, a x)` element-wise.
    pub fn leaky_relu(&self, a: T) -> TensorVar<'g, T> {
        let x = self.value.clone();
        self.unary(unary::leaky_relu(&x, a), move |g| {
            unary::leaky_relu_backward(&x, a, g)
        })
    }

    /// The sum of all elements (a one-element variable).
    pub fn sum(&self) -> TensorVar<'g, T> {
        let input = Placement::of(&self.value);
        self.to_scalar(self.value.sum(), move |g| reduce::sum_backward(&input, g))
    }

    /// The mean of all elements.
    pub fn mean(&self) -> TensorVar<'g, T> {
        let input = Placement::of(&self.value);
        self.to_scalar(self.value.mean(), move |g| reduce::mean_backward(&input, g))
    }

    /// The largest element.
    pub fn max(&self) -> TensorVar<'g, T> {
        let x = self.value.clone();
        self.to_scalar(x.max(), move |g| reduce::max_backward(&x, g))
    }

    /// Sums along `axis`.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.sum_axis(axis, keepdim), move |g| {
            reduce::sum_axis_backward(&input, axis, g)
        })
    }

    /// Means along `axis`.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.mean_axis(axis, keepdim), move |g| {
            reduce::mean_axis_backward(&input, axis, g)
        })
    }

    /// Maxima along `axis`.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> TensorVar<'g, T> {
        let x = self.value.clone();
        self.unary(x.max_axis(axis, keepdim), move |g| {
            reduce::max_axis_backward(&x, axis, g)
        })
    }

    /// Softmax along `axis`.
    pub fn softmax(&self, axis: usize) -> TensorVar<'g, T> {
        let y = self.value.softmax(axis);
        let saved = y.clone();
        self.unary(y, move |g| softmax::softmax_backward(&saved, axis, g))
    }

    /// Log-softmax along `axis`.
    pub fn log_softmax(&self, axis: usize) -> TensorVar<'g, T> {
        let y = self.value.log_softmax(axis);
        let saved = y.clone();
        self.unary(y, move |g| softmax::log_softmax_backward(&saved, axis, g))
    }

    /// `x / Σ x` along `axis` (vugrad's row normalisation).
    pub fn normalize(&self, axis: usize) -> TensorVar<'g, T> {
        let x = self.value.clone();
        self.unary(x.normalize(axis), move |g| {
            normalize::normalize_backward(&x, axis, g)
        })
    }

    /// Mean cross-entropy of logits `[n, c]` against class indices.
    pub fn cross_entropy(&self, labels: &[usize]) -> TensorVar<'g, T> {
        let logits = self.value.clone();
        let labels = labels.to_vec();
        let value = loss::cross_entropy(&logits, labels.as_slice());
        self.to_scalar(value, move |g| {
            loss::cross_entropy_backward(&logits, labels.as_slice(), g)
        })
    }

    /// Mean cross-entropy of logits `[n, c]` against target probabilities
    /// (one-hot rows).
    pub fn cross_entropy_probs(&self, targets: &Tensor<T>) -> TensorVar<'g, T> {
        let logits = self.value.clone();
        let targets = targets.clone();
        let value = loss::cross_entropy(&logits, Labels::Probs(&targets));
        self.to_scalar(value, move |g| {
            loss::cross_entropy_backward(&logits, Labels::Probs(&targets), g)
        })
    }

    /// Mean squared error against `target`.
    pub fn mse(&self, target: &TensorVar<'g, T>) -> TensorVar<'g, T> {
        let (p, t) = (self.value.clone(), target.value.clone());
        let value = p.scalar_like(loss::mse(&p, &t));
        self.binary(target, value, move |g| loss::mse_backward(&p, &t, g.item()))
    }

    /// Mean absolute error against `target`.
    pub fn l1(&self, target: &TensorVar<'g, T>) -> TensorVar<'g, T> {
        let (p, t) = (self.value.clone(), target.value.clone());
        let value = p.scalar_like(loss::l1(&p, &t));
        self.binary(target, value, move |g| loss::l1_backward(&p, &t, g.item()))
    }

    /// Inverted dropout with drop probability `p` and the counter-based
    /// mask of `seed`; the backward regenerates the mask (nothing is kept).
    pub fn dropout(&self, p: f64, seed: u64) -> TensorVar<'g, T> {
        self.unary(self.value.dropout(p, seed), move |g| {
            dropout::dropout_backward(p, seed, g)
        })
    }

    /// 2-D convolution of this `[N, C, H, W]` input with the weight
    /// `[O, C, kh, kw]`, see [`Tensor::conv2d`].
    pub fn conv2d(&self, w: &TensorVar<'g, T>, stride: usize, padding: usize) -> TensorVar<'g, T> {
        let (x, wv) = (self.value.clone(), w.value.clone());
        let value = x.conv2d(&wv, stride, padding);
        self.graph.record(value, &[self, w], move |g, needs| {
            let (dx, dw) = conv::conv2d_backward(&x, &wv, stride, padding, g, [needs[0], needs[1]]);
            vec![dx, dw]
        })
    }

    /// Max pooling (padding as `-∞`); the backward routes each gradient to
    /// the one input its maximum came from.
    pub fn max_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        let (value, indices) = self.value.max_pool2d_with_indices(kernel, stride, padding);
        self.unary(value, move |g| {
            pool::max_pool2d_backward(&input, &indices, g)
        })
    }

    /// Average pooling, padding counted in every window.
    pub fn avg_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        let value = self.value.avg_pool2d(kernel, stride, padding);
        self.unary(value, move |g| {
            pool::avg_pool2d_backward(&input, kernel, stride, padding, g)
        })
    }

    /// The mean of every plane, `[N, C, H, W] -> [N, C]`.
    pub fn global_avg_pool(&self) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.global_avg_pool(), move |g| {
            pool::global_avg_pool_backward(&input, g)
        })
    }

    /// `[N, ...] -> [N, rest]`.
    pub fn flatten(&self) -> TensorVar<'g, T> {
        let input = self.value.shape().to_vec();
        self.unary(self.value.flatten(), move |g| {
            reshape::flatten_backward(&input, g)
        })
    }

    /// Training-mode batch normalisation with scale `gamma` and shift `beta`
    /// (`[C]` each), returning the result and the batch statistics (for
    /// [`batch_norm::update_running_stats`]).
    pub fn batch_norm(
        &self,
        gamma: &TensorVar<'g, T>,
        beta: &TensorVar<'g, T>,
        eps: f64,
    ) -> (TensorVar<'g, T>, BatchStats<T>) {
        let (x, gm) = (self.value.clone(), gamma.value.clone());
        let (value, stats) = x.batch_norm_with_stats(&gm, &beta.value, eps);
        let saved = stats.clone();
        let y = self
            .graph
            .record(value, &[self, gamma, beta], move |g, needs| {
                let (dx, dg, db) = batch_norm::batch_norm_backward(
                    &x,
                    &gm,
                    &saved,
                    g,
                    [needs[0], needs[1], needs[2]],
                );
                vec![dx, dg, db]
            });
        (y, stats)
    }

    /// Evaluation-mode batch normalisation with fixed running statistics.
    pub fn batch_norm_eval(
        &self,
        gamma: &TensorVar<'g, T>,
        beta: &TensorVar<'g, T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        eps: f64,
    ) -> TensorVar<'g, T> {
        let (x, gm) = (self.value.clone(), gamma.value.clone());
        let (rm, rv) = (running_mean.clone(), running_var.clone());
        let value = x.batch_norm_eval(&gm, &beta.value, &rm, &rv, eps);
        self.graph
            .record(value, &[self, gamma, beta], move |g, needs| {
                let (dx, dg, db) = batch_norm::batch_norm_eval_backward(
                    &x,
                    &gm,
                    &rm,
                    &rv,
                    eps,
                    g,
                    [needs[0], needs[1], needs[2]],
                );
                vec![dx, dg, db]
            })
    }

    /// `self + s` for a scalar `s`.
    pub fn add_scalar(&self, s: T) -> TensorVar<'g, T> {
        self.unary(scalar::add_scalar(&self.value, s), |g| g.clone())
    }

    /// `self * s` for a scalar `s`.
    pub fn mul_scalar(&self, s: T) -> TensorVar<'g, T> {
        self.unary(scalar::mul_scalar(&self.value, s), move |g| {
            scalar::mul_scalar(g, s)
        })
    }
}

/// Concatenates variables along `axis`.
pub fn concat<'g, T: Element>(vars: &[&TensorVar<'g, T>], axis: usize) -> TensorVar<'g, T> {
    let values: Vec<&Tensor<T>> = vars.iter().map(|v| &v.value).collect();
    let value = index::concat(&values, axis);
    let lengths: Vec<usize> = values.iter().map(|v| v.shape()[axis]).collect();
    let graph = vars[0].graph;
    graph.record(value, vars, move |g, needs| {
        index::concat_backward(&lengths, axis, g)
            .into_iter()
            .zip(needs)
            .map(|(piece, need)| need.then_some(piece))
            .collect()
    })
}

macro_rules! unary_methods {
    ($($name:ident: $backward:ident from $from:ident, $doc:literal;)*) => {
        impl<'g, T: Element> TensorVar<'g, T> {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> TensorVar<'g, T> {
                    let x = self.value.clone();
                    let y = unary::$name(&x);
                    let saved = unary_methods!(@saved $from, x, y);
                    self.unary(y, move |g| unary::$backward(&saved, g))
                }
            )*
        }
    };
    (@saved input, $x:ident, $y:ident) => { $x };
    (@saved output, $x:ident, $y:ident) => { $y.clone() };
}

unary_methods! {
    exp: exp_backward from output, "`e^x` element-wise.";
    ln: ln_backward from input, "Natural logarithm element-wise.";
    sqrt: sqrt_backward from output, "Square root element-wise.";
    square: square_backward from input, "`x²` element-wise.";
    abs: abs_backward from input, "`|x|` element-wise.";
    sin: sin_backward from input, "Sine element-wise.";
    cos: cos_backward from input, "Cosine element-wise.";
    tanh: tanh_backward from output, "Hyperbolic tangent element-wise.";
    sigmoid: sigmoid_backward from output, "Logistic sigmoid element-wise.";
    relu: relu_backward from output, "Rectifier element-wise.";
}

impl<'g, T: Element> TensorVar<'g, T> {
    /// `-x` element-wise.
    pub fn neg(&self) -> TensorVar<'g, T> {
        self.unary(unary::neg(&self.value), unary::neg_backward)
    }
}

macro_rules! binary_operator {
    ($Op:ident, $method:ident, $op:tt, $backward:expr) => {
        impl<'g, T: Element> std::ops::$Op<&TensorVar<'g, T>> for &TensorVar<'g, T> {
            type Output = TensorVar<'g, T>;
            /// Element-wise with numpy broadcasting.
            fn $method(self, other: &TensorVar<'g, T>) -> TensorVar<'g, T> {
                let (a, b) = (self.value.clone(), other.value.clone());
                let value = &a $op &b;
                let backward = $backward;
                self.binary(other, value, move |g| backward(&a, &b, g))
            }
        }
    };
}

binary_operator!(Add, add, +, |a: &Tensor<T>, b: &Tensor<T>, g: &Tensor<T>| {
    binary::add_backward(a.shape(), b.shape(), g)
});
binary_operator!(Sub, sub, -, |a: &Tensor<T>, b: &Tensor<T>, g: &Tensor<T>| {
    binary::sub_backward(a.shape(), b.shape(), g)
});
binary_operator!(Mul, mul, *, binary::mul_backward);
binary_operator!(Div, div, /, binary::div_backward);
