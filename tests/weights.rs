//! Weights in safetensors (issue 12): a model saved and loaded round-trips
//! exactly; a file written by the Python `safetensors` package
//! (`tests/fixtures/make_safetensors.py`) loads into the matching model; a
//! file of another structure is refused naming the tensor and the file, with
//! the model left unchanged.

use adjoint::prelude::*;
use adjoint::weights::{Weights, WeightsError};
use std::path::PathBuf;

#[derive(Parameters, Clone)]
struct Layer {
    w: Tensor,
}

#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    layers: Vec<Layer>,
}

fn zeros() -> Mlp {
    Mlp {
        w1: Tensor::zeros(&[2, 3]),
        b1: Tensor::zeros(&[3]),
        layers: vec![
            Layer {
                w: Tensor::zeros(&[3, 1]),
            },
            Layer {
                w: Tensor::zeros(&[1, 1]),
            },
        ],
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("adjoint-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn save_then_load_round_trips_exactly() {
    let mut rng = adjoint::tensor::rand::rngs::StdRng::seed_from_u64(3);
    use adjoint::tensor::rand::SeedableRng;
    let model = Mlp {
        w1: Tensor::randn(&[2, 3], &mut rng),
        b1: Tensor::randn(&[3], &mut rng),
        layers: vec![
            Layer {
                w: Tensor::randn(&[3, 1], &mut rng),
            },
            Layer {
                w: Tensor::randn(&[1, 1], &mut rng),
            },
        ],
    };
    let path = scratch("round_trip.safetensors");
    model.save_safetensors(&path).expect("saved");
    assert!(
        !path.with_extension("safetensors.tmp").exists(),
        "the temporary file is renamed away"
    );
    let mut fresh = zeros();
    fresh.load_safetensors(&path).expect("loaded");
    for ((name, a), (_, b)) in model.named_tensors().iter().zip(fresh.named_tensors()) {
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(a.data(), b.data(), "{name}");
    }
}

#[test]
fn loads_a_file_written_by_python_safetensors() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_mlp.safetensors");
    let mut model = zeros();
    model
        .load_safetensors(&path)
        .expect("the Python file loads");
    assert_eq!(model.w1.data(), &[0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    assert_eq!(model.b1.data(), &[0.5, -1.0, 2.0]);
    assert_eq!(model.layers[0].w.data(), &[1.5, -2.5, 3.25]);
    assert_eq!(model.layers[1].w.data(), &[7.0]);
}

#[test]
fn another_structure_is_refused_and_the_model_is_unchanged() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_mlp.safetensors");
    // A wider first layer: shape mismatch on `w1`.
    let mut wide = zeros();
    wide.w1 = Tensor::full(&[2, 4], 9.0);
    let err = wide.load_safetensors(&path).expect_err("shape mismatch");
    let message = err.to_string();
    assert!(matches!(err, WeightsError::Shape { .. }), "{message}");
    assert!(
        message.contains("python_mlp.safetensors") && message.contains("`w1`"),
        "{message}"
    );
    assert!(
        message.contains("[2, 3]") && message.contains("[2, 4]"),
        "{message}"
    );
    assert!(
        wide.w1.data().iter().all(|v| *v == 9.0),
        "the model is unchanged"
    );
    assert!(
        wide.b1.data().iter().all(|v| *v == 0.0),
        "no tensor was loaded"
    );

    // One layer fewer: the file has a tensor the model lacks.
    let mut short = zeros();
    short.layers.pop();
    let err = short
        .load_safetensors(&path)
        .expect_err("unexpected tensor");
    assert!(
        err.to_string()
            .contains("`layers.1.w` has no place in the model"),
        "{err}"
    );
    assert!(short.w1.data().iter().all(|v| *v == 0.0));

    // f64 model against an f32 file.
    let mut wrong_type = vec![Tensor::<f64>::zeros(&[2, 3])];
    let err = wrong_type
        .load_safetensors(&path)
        .expect_err("missing or dtype error");
    assert!(err.to_string().contains("python_mlp.safetensors"), "{err}");
}

#[test]
fn a_truncated_file_is_refused() {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_mlp.safetensors");
    let bytes = std::fs::read(&source).expect("fixture");
    let path = scratch("truncated.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() - 5]).expect("write");
    let mut model = zeros();
    let err = model.load_safetensors(&path).expect_err("truncated");
    assert!(matches!(err, WeightsError::Format { .. }), "{err}");
    assert!(err.to_string().contains("truncated.safetensors"), "{err}");
    assert!(model.w1.data().iter().all(|v| *v == 0.0));
}
