//! The arithmetic operators on tensors: `+ - * /` between tensors (owned or
//! borrowed, with broadcasting), with a scalar on either side, the compound
//! assignments `+= -= *= /=`, and unary `-`.
//!
//! They panic with the [`ShapeError`](crate::tensor::ShapeError) message on
//! incompatible shapes; [`Tensor::try_add`] and friends return it instead.
//! An owned left operand whose shape is the result's is updated in place
//! (copy-on-write), so `a + &b` in a loop allocates nothing.

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::broadcast::{broadcast_zip, zip_assign};
use crate::tensor::error::or_panic;
use crate::tensor::shape::broadcast_shapes;
use crate::tensor::{Element, Tensor};

/// Implements one arithmetic operator and its compound assignment for
/// tensor–tensor and tensor–scalar operands.
macro_rules! tensor_op {
    ($Op:ident, $op:ident, $OpAssign:ident, $op_assign:ident, $name:literal, $assign_name:literal, $f:expr) => {
        impl<T: Element> $Op<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;

            #[track_caller]
            fn $op(self, rhs: &Tensor<T>) -> Tensor<T> {
                or_panic(broadcast_zip($name, self, rhs, $f))
            }
        }

        impl<T: Element> $Op<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;

            #[track_caller]
            fn $op(self, rhs: Tensor<T>) -> Tensor<T> {
                self.$op(&rhs)
            }
        }

        impl<T: Element> $Op<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;

            #[track_caller]
            fn $op(mut self, rhs: &Tensor<T>) -> Tensor<T> {
                if broadcast_shapes(self.shape(), rhs.shape()).as_deref() == Some(self.shape()) {
                    or_panic(zip_assign($name, &mut self, rhs, $f));
                    self
                } else {
                    (&self).$op(rhs)
                }
            }
        }

        impl<T: Element> $Op<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;

            #[track_caller]
            fn $op(self, rhs: Tensor<T>) -> Tensor<T> {
                self.$op(&rhs)
            }
        }

        impl<T: Element> $Op<T> for &Tensor<T> {
            type Output = Tensor<T>;

            fn $op(self, rhs: T) -> Tensor<T> {
                self.map(|x| ($f)(x, rhs))
            }
        }

        impl<T: Element> $Op<T> for Tensor<T> {
            type Output = Tensor<T>;

            fn $op(mut self, rhs: T) -> Tensor<T> {
                self.map_inplace(|x| ($f)(x, rhs));
                self
            }
        }

        impl<T: Element> $OpAssign<&Tensor<T>> for Tensor<T> {
            #[track_caller]
            fn $op_assign(&mut self, rhs: &Tensor<T>) {
                or_panic(zip_assign($assign_name, self, rhs, $f));
            }
        }

        impl<T: Element> $OpAssign<Tensor<T>> for Tensor<T> {
            #[track_caller]
            fn $op_assign(&mut self, rhs: Tensor<T>) {
                or_panic(zip_assign($assign_name, self, &rhs, $f));
            }
        }

        impl<T: Element> $OpAssign<T> for Tensor<T> {
            fn $op_assign(&mut self, rhs: T) {
                self.map_inplace(|x| ($f)(x, rhs));
            }
        }
    };
}

tensor_op!(
    Add,
    add,
    AddAssign,
    add_assign,
    "add",
    "add_assign",
    |x, y| x + y
);
tensor_op!(
    Sub,
    sub,
    SubAssign,
    sub_assign,
    "sub",
    "sub_assign",
    |x, y| x - y
);
tensor_op!(
    Mul,
    mul,
    MulAssign,
    mul_assign,
    "mul",
    "mul_assign",
    |x, y| x * y
);
tensor_op!(
    Div,
    div,
    DivAssign,
    div_assign,
    "div",
    "div_assign",
    |x, y| x / y
);

/// Implements `scalar ∘ tensor` for a concrete element type (a generic
/// `impl<T> Add<Tensor<T>> for T` is not allowed by the orphan rules).
macro_rules! scalar_lhs_ops {
    ($($t:ty),*) => {$(
        impl Add<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn add(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.map(|x| self + x)
            }
        }

        impl Add<Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn add(self, rhs: Tensor<$t>) -> Tensor<$t> {
                rhs + self
            }
        }

        impl Sub<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn sub(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.map(|x| self - x)
            }
        }

        impl Sub<Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn sub(self, mut rhs: Tensor<$t>) -> Tensor<$t> {
                rhs.map_inplace(|x| self - x);
                rhs
            }
        }

        impl Mul<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn mul(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.map(|x| self * x)
            }
        }

        impl Mul<Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn mul(self, rhs: Tensor<$t>) -> Tensor<$t> {
                rhs * self
            }
        }

        impl Div<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn div(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.map(|x| self / x)
            }
        }

        impl Div<Tensor<$t>> for $t {
            type Output = Tensor<$t>;

            fn div(self, mut rhs: Tensor<$t>) -> Tensor<$t> {
                rhs.map_inplace(|x| self / x);
                rhs
            }
        }
    )*};
}

scalar_lhs_ops!(f32, f64);

impl<T: Element> Neg for &Tensor<T> {
    type Output = Tensor<T>;

    fn neg(self) -> Tensor<T> {
        self.map(|x| -x)
    }
}

impl<T: Element> Neg for Tensor<T> {
    type Output = Tensor<T>;

    fn neg(mut self) -> Tensor<T> {
        self.map_inplace(|x| -x);
        self
    }
}
