//! Every error message, and the panicking forms that repeat it.

use super::{rng, t};
use crate::tensor::ops::{index, loss, reduce, reshape};
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
        "max: cannot take the maximum of zero elements (shape [0])"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[2, 0]).try_max_axis(1, false)),
        "max_axis: cannot take the maximum of zero elements (axis 1 of shape [2, 0])"
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
        msg(a.try_dropout(1.0, 0)),
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

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) else {
        panic!("expected a panic");
    };
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn empty_reductions_are_errors_naming_op_and_shape() {
    let empty = Tensor::<f64>::zeros(&[0, 10]);
    let mean = "mean: cannot average over zero elements (shape [0, 10])";
    assert_eq!(msg(empty.try_mean()), mean);
    assert_eq!(msg(reduce::try_mean(&empty)), mean);
    assert_eq!(panic_message(|| empty.mean()), mean);
    assert_eq!(
        panic_message(|| reduce::mean_backward::<f64, _>(&[0, 10], 1.0)),
        "mean_backward: cannot average over zero elements (shape [0, 10])"
    );

    // Along an axis: an error exactly when the reduced axis has length 0.
    let mean_axis = "mean_axis: cannot average over zero elements (axis 0 of shape [0, 10])";
    assert_eq!(msg(empty.try_mean_axis(0, false)), mean_axis);
    assert_eq!(panic_message(|| empty.mean_axis(0, true)), mean_axis);
    assert_eq!(empty.mean_axis(1, false).shape(), &[0]);
    assert_eq!(
        panic_message(|| reduce::mean_axis_backward(&[0, 10], 0, &Tensor::<f64>::zeros(&[10]))),
        "mean_axis_backward: cannot average over zero elements (axis 0 of shape [0, 10])"
    );

    let max = "max: cannot take the maximum of zero elements (shape [0, 10])";
    assert_eq!(msg(empty.try_max()), max);
    assert_eq!(panic_message(|| empty.max()), max);
    assert_eq!(
        panic_message(|| reduce::max_backward(&empty, 1.0)),
        "max_backward: cannot take the maximum of zero elements (shape [0, 10])"
    );
    assert_eq!(
        msg(empty.try_max_axis(0, false)),
        "max_axis: cannot take the maximum of zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(
        msg(empty.try_argmax_axis(0)),
        "argmax_axis: cannot take the arg-max of zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(empty.argmax_axis(1), Vec::<usize>::new());

    // A sum of nothing is 0, not an error.
    assert_eq!(empty.sum(), 0.0);
    assert_eq!(empty.sum_axis(0, false).to_vec(), vec![0.0; 10]);
}

#[test]
fn empty_losses_are_errors_naming_op_and_shape() {
    let (logits, labels) = (Tensor::<f64>::zeros(&[0, 10]), Vec::<usize>::new());
    let ce = "cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])";
    assert_eq!(msg(try_cross_entropy(&logits, &labels)), ce);
    assert_eq!(
        msg(try_cross_entropy(&logits, &Tensor::zeros(&[0, 10]))),
        ce
    );
    assert_eq!(panic_message(|| loss::cross_entropy(&logits, &labels)), ce);
    assert_eq!(
        panic_message(|| loss::cross_entropy_backward(&logits, &labels, 1.0)),
        "cross_entropy_backward: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    // Rows but no classes: no softmax to take.
    assert_eq!(
        msg(try_cross_entropy(
            &Tensor::<f64>::zeros(&[3, 0]),
            &Tensor::zeros(&[3, 0])
        )),
        "cross_entropy: cannot take a softmax over zero elements (axis 1 of shape [3, 0])"
    );

    let (a, b) = (Tensor::<f64>::zeros(&[0, 3]), Tensor::<f64>::zeros(&[0, 3]));
    let mse = "mse: cannot average over zero elements (shape [0, 3])";
    assert_eq!(msg(try_mse(&a, &b)), mse);
    assert_eq!(panic_message(|| loss::mse(&a, &b)), mse);
    assert_eq!(
        panic_message(|| loss::mse_backward(&a, &b, 1.0)),
        "mse_backward: cannot average over zero elements (shape [0, 3])"
    );
    let l1 = "l1: cannot average over zero elements (shape [0, 3])";
    assert_eq!(msg(try_l1(&a, &b)), l1);
    assert_eq!(panic_message(|| loss::l1(&a, &b)), l1);
    assert_eq!(
        panic_message(|| loss::l1_backward(&a, &b, 1.0)),
        "l1_backward: cannot average over zero elements (shape [0, 3])"
    );
    // A shape mismatch is still reported as such, even with an empty operand.
    assert_eq!(
        msg(try_mse(&a, &Tensor::zeros(&[0, 4]))),
        "mse: shapes [0, 3] and [0, 4] differ"
    );
}
