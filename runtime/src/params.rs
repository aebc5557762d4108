//! [`Parameters`]: a visitor over the tensors of a model, so optimisers,
//! gradient zeroing, counting and checkpointing work on any model struct.
//!
//! `#[derive(Parameters)]` (from `adjoint`) implements it for structs whose
//! fields are tensors, other `Parameters` structs, or `Vec`s of them. The
//! gradient of a model is a value of the same type, so `zip_mut` walks a
//! model and its gradient together.
//!
//! A [`Buffer`] field holds non-trainable state (batch norm's running
//! statistics): `visit`, `zip_mut` and so optimisers and gradients never see
//! it; [`Parameters::visit_state`], which checkpoints and weight files use,
//! does.
//!
//! ```
//! use adjoint_runtime::params::Parameters;
//! use adjoint_runtime::tensor::Tensor;
//!
//! let layers = vec![Tensor::<f32>::zeros(&[2, 3]), Tensor::zeros(&[3])];
//! assert_eq!(layers.num_parameters(), 9);
//! let names: Vec<String> = layers.named_tensors().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0", "1"]);
//! ```

use crate::tensor::{Device, DeviceError, Element, Tensor};

/// A callback pairing a model's tensor with the one at the same place in
/// another model (see [`Parameters::zip_mut`]).
pub type ZipFn<'a, E> = dyn FnMut(&mut Tensor<E>, &Tensor<E>) + 'a;

/// A callback building one tensor from another (see [`Parameters::map`]).
pub type MapFn<'a, E> = dyn FnMut(&Tensor<E>) -> Tensor<E> + 'a;

/// The gradient generated code computed for the parameter at `path`,
/// checked against the parameter's shape: a wrongly shaped gradient is never
/// silently replaced or broadcast.
///
/// # Panics
/// With an internal-error message naming the parameter and both shapes.
#[track_caller]
pub fn checked_gradient<T: Element>(path: &str, grad: Tensor<T>, param: &[usize]) -> Tensor<T> {
    if grad.shape() != param {
        panic!(
            "adjoint internal error: the gradient of `{path}` has shape {:?} but the parameter has shape {param:?}; please report the function that produced it",
            grad.shape()
        );
    }
    grad
}

/// [`checked_gradient`] for every tensor of a model's gradient.
///
/// # Panics
/// As [`checked_gradient`], naming the first mismatching tensor.
#[track_caller]
pub fn checked_model_gradient<M: Parameters>(name: &str, grad: M, model: &M) -> M {
    let mut shapes = Vec::new();
    model.visit(&mut String::new(), &mut |path, t| {
        shapes.push((path.to_string(), t.shape().to_vec()))
    });
    let mut index = 0;
    grad.visit(&mut String::new(), &mut |path, g| {
        let expected = shapes.get(index).map_or(&[][..], |(_, s)| &s[..]);
        if g.shape() != expected {
            panic!(
                "adjoint internal error: the gradient of `{name}.{path}` has shape {:?} but the parameter has shape {expected:?}; please report the function that produced it",
                g.shape()
            );
        }
        index += 1;
    });
    grad
}

/// Adds `grad` into an adjoint accumulated inside a branch or loop body of
/// generated code: the first contribution moves in, later ones add.
pub fn accumulate<M: Parameters>(acc: &mut Option<M>, grad: M) {
    match acc {
        Some(total) => add_model_gradient(total, grad),
        None => *acc = Some(grad),
    }
}

/// Adds `grad` into the model gradient `total`, tensor by tensor: a
/// placeholder of [`Parameters::pending_gradient`] takes the contribution's
/// storage (no copy), a placeholder contribution adds nothing, and two
/// computed tensors add in place.
pub fn add_model_gradient<M: Parameters>(total: &mut M, grad: M) {
    total.zip_mut(&grad, &mut |a, g| {
        if is_placeholder(g) {
            return;
        }
        if is_placeholder(a) {
            *a = g.clone();
        } else {
            *a += g;
        }
    });
}

/// The finished gradient of `model`: zeros for every tensor no contribution
/// reached, then [`checked_model_gradient`].
///
/// # Panics
/// As [`checked_model_gradient`].
#[track_caller]
pub fn finished_model_gradient<M: Parameters>(name: &str, mut grad: M, model: &M) -> M {
    grad.zip_mut(model, &mut |g, p| {
        if is_placeholder(g) && !is_placeholder(p) {
            *g = p.zeros_like();
        }
    });
    checked_model_gradient(name, grad, model)
}

/// Whether `t` is an element-less placeholder ([`Tensor::empty_like`]).
fn is_placeholder<T: Element>(t: &Tensor<T>) -> bool {
    t.shape() == [0]
}

/// A model: a fixed tree of tensors.
pub trait Parameters {
    /// The element type of every tensor in the model.
    type Elem: Element;

    /// Calls `f` on every tensor with its path (`"w1"`, `"layers.0.w"`), in
    /// a fixed order. `path` holds the prefix of this node.
    fn visit(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<Self::Elem>));

    /// Like [`visit`](Parameters::visit), with mutable access.
    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<Self::Elem>));

    /// Calls `f` on each tensor of `self` paired with the tensor at the same
    /// place in `other` (a gradient, a moment estimate, ...).
    ///
    /// # Panics
    /// If `other` has a different structure (a `Vec` of another length).
    fn zip_mut(&mut self, other: &Self, f: &mut ZipFn<'_, Self::Elem>);

    /// A model of the same structure whose tensors are `f` of this one's.
    fn map(&self, f: &mut MapFn<'_, Self::Elem>) -> Self
    where
        Self: Sized;

    /// The same structure filled with zeros (a gradient accumulator).
    fn zeros_like(&self) -> Self
    where
        Self: Sized,
    {
        self.map(&mut |t| Tensor::zeros(t.shape()))
    }

    /// A gradient of this model before any contribution: an element-less
    /// placeholder per tensor, so generated code allocates nothing for a
    /// gradient until a contribution arrives ([`add_model_gradient`] fills
    /// the placeholders, [`finished_model_gradient`] zeros the rest).
    fn pending_gradient(&self) -> Self
    where
        Self: Sized,
    {
        self.map(&mut |t| t.empty_like())
    }

    /// Calls `f` on every [`Buffer`] (non-trainable state) with its path;
    /// none unless the model has `Buffer` fields.
    fn visit_buffers(&self, _path: &mut String, _f: &mut dyn FnMut(&str, &Tensor<Self::Elem>)) {}

    /// Like [`visit_buffers`](Parameters::visit_buffers), with mutable access.
    fn visit_buffers_mut(
        &mut self,
        _path: &mut String,
        _f: &mut dyn FnMut(&str, &mut Tensor<Self::Elem>),
    ) {
    }

    /// Every tensor a checkpoint keeps: the parameters, then the buffers.
    fn visit_state(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<Self::Elem>)) {
        self.visit(path, f);
        self.visit_buffers(path, f);
    }

    /// Like [`visit_state`](Parameters::visit_state), with mutable access.
    fn visit_state_mut(
        &mut self,
        path: &mut String,
        f: &mut dyn FnMut(&str, &mut Tensor<Self::Elem>),
    ) {
        self.visit_mut(path, f);
        self.visit_buffers_mut(path, f);
    }

    /// Every tensor of [`visit_state`](Parameters::visit_state) with its
    /// path (for saving).
    fn named_state(&self) -> Vec<(String, Tensor<Self::Elem>)> {
        let mut out = Vec::new();
        self.visit_state(&mut String::new(), &mut |name, t| {
            out.push((name.to_string(), t.clone()))
        });
        out
    }

    /// Moves every tensor, buffers included, to `device` (copies where a
    /// tensor lives elsewhere). Fails when the device cannot be used; the
    /// first tensor is the first moved, so a missing device changes nothing.
    fn move_to_device(&mut self, device: Device) -> Result<(), DeviceError> {
        let mut failure = None;
        self.visit_state_mut(&mut String::new(), &mut |_, t| {
            if failure.is_none() {
                match Tensor::to_device(t, device) {
                    Ok(moved) => *t = moved,
                    Err(e) => failure = Some(e),
                }
            }
        });
        failure.map_or(Ok(()), Err)
    }

    /// The number of scalar parameters.
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit(&mut String::new(), &mut |_, t| n += t.len());
        n
    }

    /// Every tensor with its path, in visiting order (for saving and
    /// printing).
    fn named_tensors(&self) -> Vec<(String, Tensor<Self::Elem>)> {
        let mut out = Vec::new();
        self.visit(&mut String::new(), &mut |name, t| {
            out.push((name.to_string(), t.clone()))
        });
        out
    }
}

/// Appends `segment` to a dotted path for the duration of `f`.
pub fn with_segment<R>(path: &mut String, segment: &str, f: impl FnOnce(&mut String) -> R) -> R {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(segment);
    let out = f(path);
    path.truncate(len);
    out
}

impl<E: Element> Parameters for Tensor<E> {
    type Elem = E;

    fn visit(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<E>)) {
        f(path, self);
    }

    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<E>)) {
        f(path, self);
    }

    fn zip_mut(&mut self, other: &Self, f: &mut ZipFn<'_, E>) {
        f(self, other);
    }

    fn map(&self, f: &mut MapFn<'_, E>) -> Self {
        f(self)
    }
}

impl<P: Parameters> Parameters for Vec<P> {
    type Elem = P::Elem;

    fn visit(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<P::Elem>)) {
        for (i, p) in self.iter().enumerate() {
            with_segment(path, &i.to_string(), |path| p.visit(path, f));
        }
    }

    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<P::Elem>)) {
        for (i, p) in self.iter_mut().enumerate() {
            with_segment(path, &i.to_string(), |path| p.visit_mut(path, f));
        }
    }

    fn zip_mut(&mut self, other: &Self, f: &mut ZipFn<'_, P::Elem>) {
        assert_eq!(
            self.len(),
            other.len(),
            "Parameters::zip_mut: a Vec of {} against one of {}",
            self.len(),
            other.len()
        );
        for (p, o) in self.iter_mut().zip(other) {
            p.zip_mut(o, f);
        }
    }

    fn map(&self, f: &mut MapFn<'_, P::Elem>) -> Self {
        self.iter().map(|p| p.map(f)).collect()
    }

    fn visit_buffers(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<P::Elem>)) {
        for (i, p) in self.iter().enumerate() {
            with_segment(path, &i.to_string(), |path| p.visit_buffers(path, f));
        }
    }

    fn visit_buffers_mut(
        &mut self,
        path: &mut String,
        f: &mut dyn FnMut(&str, &mut Tensor<P::Elem>),
    ) {
        for (i, p) in self.iter_mut().enumerate() {
            with_segment(path, &i.to_string(), |path| p.visit_buffers_mut(path, f));
        }
    }
}

/// A non-trainable tensor of a model (batch norm's running mean and
/// variance): checkpoints and weight files keep it
/// ([`Parameters::visit_state`]); optimisers, gradients and
/// [`Parameters::visit`] never see it. In a model's gradient or an
/// optimiser's moment estimate (built by [`Parameters::map`]) a buffer is
/// empty.
///
/// ```
/// use adjoint_runtime::params::{Buffer, Parameters};
/// use adjoint_runtime::tensor::Tensor;
///
/// let running = Buffer(Tensor::<f32>::zeros(&[3]));
/// assert_eq!(running.num_parameters(), 0);
/// assert_eq!(running.named_state().len(), 1);
/// assert_eq!(running.zeros_like().0.len(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Buffer<E: Element = f32>(pub Tensor<E>);

impl<E: Element> Parameters for Buffer<E> {
    type Elem = E;

    fn visit(&self, _path: &mut String, _f: &mut dyn FnMut(&str, &Tensor<E>)) {}

    fn visit_mut(&mut self, _path: &mut String, _f: &mut dyn FnMut(&str, &mut Tensor<E>)) {}

    fn zip_mut(&mut self, _other: &Self, _f: &mut ZipFn<'_, E>) {}

    fn map(&self, _f: &mut MapFn<'_, E>) -> Self {
        Buffer(self.0.empty_like())
    }

    fn visit_buffers(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<E>)) {
        f(path, &self.0);
    }

    fn visit_buffers_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<E>)) {
        f(path, &mut self.0);
    }
}
