use super::scratch;
use crate::params::{with_segment, MapFn, Parameters, ZipFn};
use crate::tensor::Tensor;
use crate::train::checkpoint::{load_into, save, CheckpointError};

/// A two-layer model with a nested `Vec`, implemented by hand as the
/// derive would.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Net {
    pub(super) w: Tensor<f32>,
    pub(super) layers: Vec<Tensor<f32>>,
}

impl Parameters for Net {
    type Elem = f32;

    fn visit(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<f32>)) {
        with_segment(path, "w", |p| self.w.visit(p, f));
        with_segment(path, "layers", |p| self.layers.visit(p, f));
    }

    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<f32>)) {
        with_segment(path, "w", |p| self.w.visit_mut(p, f));
        with_segment(path, "layers", |p| self.layers.visit_mut(p, f));
    }

    fn zip_mut(&mut self, other: &Self, f: &mut ZipFn<'_, f32>) {
        self.w.zip_mut(&other.w, f);
        self.layers.zip_mut(&other.layers, f);
    }

    fn map(&self, f: &mut MapFn<'_, f32>) -> Self {
        Net {
            w: Parameters::map(&self.w, f),
            layers: Parameters::map(&self.layers, f),
        }
    }
}

fn tensor(values: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(values.to_vec(), shape).expect("values fit the shape")
}

pub(super) fn net(scale: f32) -> Net {
    Net {
        w: tensor(&[1.0 * scale, -2.5 * scale, 3.25 * scale, 0.0], &[2, 2]),
        layers: vec![
            tensor(&[f32::MIN_POSITIVE, 1e30, -7.0], &[3]),
            Tensor::scalar(0.125 * scale),
        ],
    }
}

#[test]
fn vec_model_round_trips_bit_for_bit() {
    let dir = scratch("vec_round_trip");
    let path = dir.join("v.ckpt");
    let model = vec![
        tensor(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]),
        tensor(&[-1.5], &[1]),
    ];
    save(&model, &path).expect("save");
    let mut loaded = vec![Tensor::<f32>::zeros(&[2, 3]), Tensor::zeros(&[1])];
    load_into(&mut loaded, &path).expect("load");
    assert_eq!(loaded[0].data(), &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    assert_eq!(loaded[1].data(), &[-1.5]);
    assert!(
        !dir.join("v.ckpt.tmp").exists(),
        "the temporary file is renamed away"
    );
}

#[test]
fn file_layout_is_the_documented_one() {
    let dir = scratch("layout");
    let path = dir.join("one.ckpt");
    save(&vec![tensor(&[1.0, 2.0], &[2])], &path).expect("save");
    let bytes = std::fs::read(&path).expect("read");
    let mut expected = b"ADJCKPT2".to_vec();
    expected.extend(1u64.to_le_bytes());
    expected.extend(1u64.to_le_bytes());
    expected.push(b'0');
    expected.extend(1u64.to_le_bytes());
    expected.extend(2u64.to_le_bytes());
    expected.push(0);
    expected.extend(1.0f32.to_le_bytes());
    expected.extend(2.0f32.to_le_bytes());
    // CRC-32 (IEEE) of the bytes above, computed independently
    // (`zlib.crc32` in Python gives 0x808dc90d).
    expected.extend(0x808d_c90d_u32.to_le_bytes());
    assert_eq!(bytes, expected);
}

#[test]
fn first_version_files_without_a_checksum_still_load() {
    let dir = scratch("v1");
    let path = dir.join("old.ckpt");
    let mut bytes = b"ADJCKPT1".to_vec();
    bytes.extend(1u64.to_le_bytes());
    bytes.extend(1u64.to_le_bytes());
    bytes.push(b'0');
    bytes.extend(1u64.to_le_bytes());
    bytes.extend(2u64.to_le_bytes());
    bytes.push(0);
    bytes.extend(1.5f32.to_le_bytes());
    bytes.extend((-2.0f32).to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    let mut model = vec![Tensor::<f32>::zeros(&[2])];
    load_into(&mut model, &path).expect("an ADJCKPT1 file");
    assert_eq!(model[0].data(), &[1.5, -2.0]);
}

#[test]
fn a_changed_byte_is_a_checksum_mismatch_and_leaves_the_model_unchanged() {
    let dir = scratch("flip");
    let path = dir.join("net.ckpt");
    save(&net(1.0), &path).expect("save");
    let good = std::fs::read(&path).expect("read");
    // Flip one bit of an element of `w`, of a shape length, and of the
    // checksum itself: every one is refused.
    // Magic 8, count 8, name length 8, "w" 1, rank 8, two axes 16, tag 1.
    let w_data = 50 + 2;
    for (at, what) in [
        (w_data, "element"),
        (35, "shape"),
        (good.len() - 1, "checksum"),
    ] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).expect("write");
        let mut model = net(3.0);
        let err = load_into(&mut model, &path).expect_err(what);
        assert_eq!(model, net(3.0), "{what}: the model is untouched");
        assert!(
            matches!(
                err,
                CheckpointError::Corrupt { .. } | CheckpointError::Truncated { .. }
            ),
            "{what}: {err}"
        );
    }
    let mut bytes = good.clone();
    bytes[w_data] ^= 0x10;
    std::fs::write(&path, &bytes).expect("write");
    let err = load_into(&mut net(3.0), &path).expect_err("flipped element");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: checksum mismatch: the file records CRC-32 0x",
            path.display()
        )) && message.ends_with("(the file is corrupt)"),
        "{message}"
    );
}

#[test]
fn struct_model_round_trips_and_matches_by_name() {
    let dir = scratch("struct_round_trip");
    let path = dir.join("net.ckpt");
    let model = net(2.0);
    save(&model, &path).expect("save");
    let mut loaded = Net {
        w: Tensor::zeros(&[2, 2]),
        layers: vec![Tensor::zeros(&[3]), Tensor::zeros(&[])],
    };
    load_into(&mut loaded, &path).expect("load");
    assert_eq!(loaded, model);
    assert_eq!(loaded.w.data(), &[2.0, -5.0, 6.5, 0.0]);
    assert_eq!(loaded.layers[1].data(), &[0.25]);
}

#[test]
fn f64_model_round_trips_and_f32_model_rejects_it() {
    let dir = scratch("f64");
    let path = dir.join("d.ckpt");
    let model =
        vec![Tensor::<f64>::from_vec(vec![std::f64::consts::PI, -0.0], &[2]).expect("fits")];
    save(&model, &path).expect("save");
    let mut loaded = vec![Tensor::<f64>::zeros(&[2])];
    load_into(&mut loaded, &path).expect("load");
    assert_eq!(loaded[0].data(), &[std::f64::consts::PI, -0.0]);

    let mut single = vec![Tensor::<f32>::zeros(&[2])];
    let err = load_into(&mut single, &path).expect_err("f64 into f32");
    assert!(matches!(
        &err,
        CheckpointError::ElementType { name, file: "f64", model: "f32", .. } if name == "0"
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `0` is stored as f64 but the model holds f32",
            path.display()
        )
    );
}

#[test]
fn every_truncation_is_an_error_and_leaves_the_model_unchanged() {
    let dir = scratch("truncated");
    let path = dir.join("net.ckpt");
    save(&net(1.0), &path).expect("save");
    let bytes = std::fs::read(&path).expect("read");
    let cut = dir.join("cut.ckpt");
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).expect("write");
        let mut model = net(3.0);
        let err = load_into(&mut model, &cut).expect_err("truncated file");
        assert!(
            matches!(
                err,
                CheckpointError::Truncated { .. } | CheckpointError::BadMagic { .. }
            ),
            "cut at {len}: {err}"
        );
        assert_eq!(model, net(3.0), "cut at {len}: the model is untouched");
    }
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).expect("write");
    let err = load_into(&mut net(1.0), &cut).expect_err("truncated data");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: truncated: elements of tensor `layers.1` [] needs 4 bytes at offset {}, the file has 1 left",
            cut.display(),
            bytes.len() - 8
        )
    );
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).expect("write");
    let err = load_into(&mut net(1.0), &cut).expect_err("truncated checksum");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: truncated: checksum needs 4 bytes at offset {}, the file has 3 left",
            cut.display(),
            bytes.len() - 4
        )
    );
}

#[test]
fn wrong_magic_is_reported_with_the_bytes_found() {
    let dir = scratch("magic");
    let path = dir.join("not.ckpt");
    std::fs::write(&path, b"PK\x03\x04 something else entirely").expect("write");
    let err = load_into(&mut net(1.0), &path).expect_err("bad magic");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not an adjoint checkpoint: starts with \"PK\\x03\\x04 som\", expected \"ADJCKPT2\"",
            path.display()
        )
    );
}

#[test]
fn shape_mismatch_names_the_tensor_and_both_shapes() {
    let dir = scratch("shape");
    let path = dir.join("net.ckpt");
    save(&net(1.0), &path).expect("save");
    let mut other = net(1.0);
    other.layers[0] = Tensor::zeros(&[4]);
    let before = other.clone();
    let err = load_into(&mut other, &path).expect_err("shape mismatch");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `layers.0` has shape [3] in the file but [4] in the model",
            path.display()
        )
    );
    assert_eq!(other, before, "w, which fits, is not loaded either");
}

#[test]
fn missing_and_extra_tensors_are_named() {
    let dir = scratch("names");
    let path = dir.join("v.ckpt");
    save(&vec![Tensor::<f32>::zeros(&[1])], &path).expect("save");
    let mut two = vec![Tensor::<f32>::zeros(&[1]), Tensor::zeros(&[1])];
    let err = load_into(&mut two, &path).expect_err("missing");
    assert!(
        matches!(&err, CheckpointError::Missing { name, .. } if name == "1"),
        "{err}"
    );

    save(&two, &path).expect("save");
    let mut one = vec![Tensor::<f32>::zeros(&[1])];
    let err = load_into(&mut one, &path).expect_err("extra");
    assert!(
        matches!(&err, CheckpointError::Unexpected { name, .. } if name == "1"),
        "{err}"
    );
}

#[test]
fn huge_lengths_and_trailing_bytes_are_errors_not_allocations() {
    let dir = scratch("huge");
    let path = dir.join("h.ckpt");
    let mut bytes = b"ADJCKPT1".to_vec();
    bytes.extend(1u64.to_le_bytes());
    bytes.extend(u64::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    let err = load_into(&mut vec![Tensor::<f32>::zeros(&[1])], &path).expect_err("huge name");
    assert!(
        matches!(
            err,
            CheckpointError::Truncated {
                needed: u64::MAX,
                ..
            }
        ),
        "{err}"
    );

    let good = dir.join("g.ckpt");
    save(&vec![Tensor::<f32>::zeros(&[1])], &good).expect("save");
    let mut bytes = std::fs::read(&good).expect("read");
    bytes.push(7);
    std::fs::write(&path, &bytes).expect("write");
    let err = load_into(&mut vec![Tensor::<f32>::zeros(&[1])], &path).expect_err("trailing");
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
}

#[test]
fn missing_file_and_unwritable_path_are_io_errors_naming_the_file() {
    let dir = scratch("io");
    let path = dir.join("absent.ckpt");
    let err = load_into(&mut net(1.0), &path).expect_err("absent");
    assert!(err
        .to_string()
        .starts_with(&format!("{}: I/O error", path.display())));
    let err = save(&net(1.0), dir.join("no/such/dir.ckpt")).expect_err("no directory");
    assert!(err.to_string().contains("no/such/dir.ckpt.tmp"), "{err}");
}
