//! `#[derive(Parameters)]` on nested structs and `Vec`s of layers: visiting
//! order and names, counting, zeros, and walking a model with its gradient.

use adjoint::{Parameters, Tensor};

#[derive(Parameters, Clone)]
struct Layer {
    w: Tensor,
    b: Tensor,
}

#[derive(Parameters, Clone)]
struct Net {
    input: Layer,
    hidden: Vec<Layer>,
    scale: Tensor,
}

fn layer(i: usize, o: usize, v: f32) -> Layer {
    Layer {
        w: Tensor::full(&[i, o], v),
        b: Tensor::full(&[o], v),
    }
}

fn net() -> Net {
    Net {
        input: layer(3, 4, 1.0),
        hidden: vec![layer(4, 4, 2.0), layer(4, 2, 3.0)],
        scale: Tensor::full(&[1], 4.0),
    }
}

#[test]
fn visits_every_tensor_with_its_path() {
    let names: Vec<String> = net().named_tensors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "input.w",
            "input.b",
            "hidden.0.w",
            "hidden.0.b",
            "hidden.1.w",
            "hidden.1.b",
            "scale"
        ]
    );
    assert_eq!(net().num_parameters(), 12 + 4 + 16 + 4 + 8 + 2 + 1);
}

#[test]
fn zeros_like_and_zip_mut_walk_model_and_gradient_together() {
    let mut model = net();
    let grad = model.zeros_like().map(&mut |t| Tensor::ones(t.shape()));
    model.zip_mut(&grad, &mut |p, g| *p -= &(g * 0.5));
    let firsts: Vec<f32> = model
        .named_tensors()
        .iter()
        .map(|(_, t)| t.data()[0])
        .collect();
    assert_eq!(firsts, [0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 3.5]);
    let zeros = model.zeros_like();
    assert!(zeros
        .named_tensors()
        .iter()
        .all(|(_, t)| t.data().iter().all(|v| *v == 0.0)));
}
