//! Every error message, and the panicking forms that repeat it.

use super::{rng, t};
use crate::tensor::ops::{index, reduce, reshape};
use crate::tensor::{
    concat, try_concat, try_cross_entropy, try_l1, try_mse, try_reduce_to_shape, Tensor,
};

/// The error's message.
fn msg<R>(result: Result<R, crate::tensor::ShapeError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn constructor_and_accessor_messages() {
    assert_eq!(
        msg(Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3])),
        "from_vec: 5 elements do not fill shape [2, 3] (6 elements)"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[2, 3]).try_item()),
        "item: expected exactly one element, got shape [2, 3]"
    );
    assert_eq!(
        msg(Tensor::<f32>::try_uniform(&[2], 1.0, 1.0, &mut rng(0))),
        "uniform: empty or non-finite range [1, 1)"
    );
}

#[test]
fn arithmetic_messages() {
    let (a, b) = (Tensor::<f32>::zeros(&[3, 4]), Tensor::<f32>::zeros(&[5]));
    assert_eq!(
        msg(a.try_add(&b)),
        "add: shapes [3, 4] and [5] are not broadcastable"
    );
    assert_eq!(
        msg(a.try_sub(&b)),
        "sub: shapes [3, 4] and [5] are not broadcastable"
    );
    assert_eq!(
        msg(a.try_mul(&b)),
        "mul: shapes [3, 4] and [5] are not broadcastable"
    );
    assert_eq!(
        msg(a.try_div(&b)),
        "div: shapes [3, 4] and [5] are not broadcastable"
    );
    assert_eq!(
        msg(b.try_broadcast_to(&[5, 2])),
        "broadcast_to: cannot broadcast shape [5] to [5, 2]"
    );
    assert_eq!(
        msg(try_reduce_to_shape(&a, &[4, 1])),
        "reduce_to_shape: cannot broadcast shape [4, 1] to [3, 4]"
    );
}

#[test]
#[should_panic(expected = "add: shapes [3, 4] and [5] are not broadcastable")]
fn the_add_operator_panics_with_the_message() {
    let _ = &Tensor::<f32>::zeros(&[3, 4]) + &Tensor::<f32>::zeros(&[5]);
}

#[test]
#[should_panic(expected = "add_assign: cannot broadcast shape [2, 4] to [4]")]
fn compound_assignment_panics_when_the_result_would_grow() {
    let mut a = Tensor::<f32>::zeros(&[4]);
    a += &Tensor::<f32>::zeros(&[2, 4]);
}

#[test]
fn matmul_messages() {
    let x = Tensor::<f32>::zeros(&[100, 784]);
    assert_eq!(
        msg(x.try_matmul(&Tensor::zeros(&[512, 10]))),
        "matmul: inner dimensions differ: [100, 784] x [512, 10]"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[2, 3, 4]).try_matmul(&Tensor::zeros(&[3, 4, 5]))),
        "matmul: batch sizes differ: [2, 3, 4] x [3, 4, 5]"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[4]).try_matmul(&Tensor::zeros(&[4, 5]))),
        "matmul: expected a left operand of shape [m, k] or [b, m, k], got shape [4]"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[3, 4]).try_matmul(&Tensor::zeros(&[2, 4, 5]))),
        "matmul: expected a right operand of shape [k, n], or [b, k, n] after a 3-D left operand, got shape [2, 4, 5]"
    );
}

#[test]
#[should_panic(expected = "matmul: inner dimensions differ: [2, 3] x [4, 5]")]
fn matmul_panics_with_the_message() {
    Tensor::<f32>::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
fn layout_messages() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    assert_eq!(
        msg(x.try_transpose(0, 2)),
        "transpose: axis 2 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[3]).try_t()),
        "t: expected at least 2 dimensions, got shape [3]"
    );
    assert_eq!(
        msg(x.try_reshape(&[4])),
        "reshape: cannot reshape [2, 3] into [4]: element counts differ"
    );
    assert_eq!(
        msg(x.try_squeeze(1)),
        "squeeze: axis 1 of shape [2, 3] has length 3, not 1"
    );
    assert_eq!(
        msg(x.try_squeeze(2)),
        "squeeze: axis 2 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_unsqueeze(3)),
        "unsqueeze: axis 3 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_select(1, &[0, 3])),
        "select: index 3 out of range for axis 1 of shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_slice(1, 2..4)),
        "slice: range 2..4 out of bounds for axis 1 of shape [2, 3]"
    );
    assert_eq!(
        msg(try_concat::<f32>(&[], 0)),
        "concat: the list of tensors is empty"
    );
    assert_eq!(
        msg(try_concat(&[&x, &Tensor::zeros(&[3, 3])], 1)),
        "concat: shapes [2, 3] and [3, 3] differ outside axis 1"
    );
    assert_eq!(
        msg(try_concat(&[&x], 2)),
        "concat: axis 2 out of range for shape [2, 3]"
    );
}

#[test]
#[should_panic(expected = "concat: shapes [2, 3] and [2] differ outside axis 0")]
fn concat_panics_with_the_message() {
    concat(&[&Tensor::<f32>::zeros(&[2, 3]), &Tensor::zeros(&[2])], 0);
}

#[test]
fn reduction_messages() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    assert_eq!(
        msg(x.try_sum_axis(3, false)),
        "sum_axis: axis 3 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_mean_axis(2, true)),
        "mean_axis: axis 2 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_max_axis(5, false)),
        "max_axis: axis 5 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[0]).try_max()),
        "max: a tensor of shape [0] is empty"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[2, 0]).try_max_axis(1, false)),
        "max_axis: axis 1 of shape [2, 0] is empty"
    );
    assert_eq!(
        msg(x.try_softmax(2)),
        "softmax: axis 2 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_log_softmax(2)),
        "log_softmax: axis 2 out of range for shape [2, 3]"
    );
    assert_eq!(
        msg(x.try_normalize(2)),
        "normalize: axis 2 out of range for shape [2, 3]"
    );
}

#[test]
#[should_panic(expected = "sum_axis: axis 3 out of range for shape [2, 3]")]
fn sum_axis_panics_with_the_message() {
    Tensor::<f32>::zeros(&[2, 3]).sum_axis(3, false);
}

#[test]
fn loss_messages() {
    let logits = Tensor::<f32>::zeros(&[100, 10]);
    let labels = vec![0usize; 99];
    assert_eq!(
        msg(try_cross_entropy(&logits, &labels)),
        "cross_entropy: 99 labels for 100 rows"
    );
    let mut bad = vec![0usize; 100];
    bad[7] = 12;
    assert_eq!(
        msg(try_cross_entropy(&logits, &bad)),
        "cross_entropy: label 12 of row 7 out of range for 10 classes"
    );
    assert_eq!(
        msg(try_cross_entropy(&logits, &Tensor::zeros(&[100, 9]))),
        "cross_entropy: shapes [100, 10] and [100, 9] differ"
    );
    assert_eq!(
        msg(try_cross_entropy(
            &Tensor::<f32>::zeros(&[10]),
            &[0usize; 10]
        )),
        "cross_entropy: expected logits of shape [n, c], got shape [10]"
    );
    let (a, b) = (Tensor::<f32>::zeros(&[3]), Tensor::<f32>::zeros(&[4]));
    assert_eq!(msg(try_mse(&a, &b)), "mse: shapes [3] and [4] differ");
    assert_eq!(msg(try_l1(&a, &b)), "l1: shapes [3] and [4] differ");
    assert_eq!(
        msg(a.try_dropout(1.0, &mut rng(0), true)),
        "dropout: drop probability 1 is not in [0, 1)"
    );
}

#[test]
#[should_panic(expected = "cross_entropy: 99 labels for 100 rows")]
fn cross_entropy_panics_with_the_message() {
    crate::tensor::cross_entropy(&Tensor::<f32>::zeros(&[100, 10]), &vec![0usize; 99]);
}

#[test]
fn adjoints_reject_mismatched_gradients() {
    let x = t(&[1.0, 2.0], &[2]);
    let wrong = t(&[1.0, 2.0, 3.0], &[3]);
    let caught = |f: &dyn Fn()| {
        let payload =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("must panic");
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        caught(&|| {
            crate::tensor::ops::unary::exp_backward(&x, &wrong);
        }),
        "exp_backward: shapes [2] and [3] differ"
    );
    assert_eq!(
        caught(&|| {
            reshape::reshape_backward(&[4], &x);
        }),
        "reshape_backward: cannot reshape [2] into [4]: element counts differ"
    );
    assert_eq!(
        caught(&|| {
            reduce::sum_axis_backward(&[2, 3], 1, &wrong);
        }),
        "sum_axis_backward: shapes [3] and [2] differ"
    );
    assert_eq!(
        caught(&|| {
            index::select_backward(&[2], 0, &[5], &t(&[1.0], &[1]));
        }),
        "select_backward: index 5 out of range for axis 0 of shape [2]"
    );
}
