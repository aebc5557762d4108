//! Checkpoints a run must refuse: another model structure, another
//! optimiser, other data, a model-only file, truncated and corrupt files.
//! Each error names the file and what does not fit, and leaves the model,
//! the optimiser and the data order as they were.

use super::checkpoint::{net, Net};
use super::scratch;
use super::training::{data, stopped_run, Victim};
use crate::optim::{Adam, AdamW, Sgd};
use crate::tensor::Tensor;
use crate::train::{save, CheckpointError};

#[test]
fn another_model_structure_is_refused() {
    let dir = scratch("refuse_model");
    let path = stopped_run(&dir);
    let mut wider = net(1.0);
    wider.layers[0] = Tensor::zeros(&[4]);
    let err = Victim::new(wider, Adam::new(0.01), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `model.layers.0` has shape [3] in the file but [4] in the model",
            path.display()
        )
    );
    let mut deeper = net(1.0);
    deeper.layers.push(Tensor::zeros(&[2]));
    let err = Victim::new(deeper, Adam::new(0.01), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `model.layers.2` of the model is missing from the file",
            path.display()
        )
    );
    let shallower = Net {
        w: Tensor::zeros(&[2, 2]),
        layers: vec![Tensor::zeros(&[3])],
    };
    let err = Victim::new(shallower, Adam::new(0.01), data(10, 3)).refuse(&path);
    assert!(
        matches!(&err, CheckpointError::Unexpected { name, .. } if name == "model.layers.1"),
        "{err}"
    );
}

#[test]
fn another_optimizer_is_refused() {
    let dir = scratch("refuse_optimizer");
    let path = stopped_run(&dir);
    let prefix = format!("{}: optimizer state does not fit: ", path.display());
    let err = Victim::new(net(1.0), Sgd::new(0.01).with_momentum(0.9), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}the state is of optimiser `adam`, but the optimiser is `sgd`")
    );
    let err = Victim::new(net(1.0), AdamW::new(0.01), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}the state is of optimiser `adam`, but the optimiser is `adamw`")
    );
    let err =
        Victim::new(net(1.0), Adam::new(0.01).with_betas(0.9, 0.99), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}hyperparameter `beta2` is 0.999 in the state but 0.99 in the optimiser")
    );
}

#[test]
fn other_data_is_refused() {
    let dir = scratch("refuse_data");
    let path = stopped_run(&dir);
    let prefix = format!(
        "{}: the data does not match the checkpoint: ",
        path.display()
    );
    let err = Victim::new(net(1.0), Adam::new(0.01), data(12, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}the checkpoint was trained on 10 examples, this run has 12")
    );
    let err = Victim::new(net(1.0), Adam::new(0.01), data(10, 4)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}the checkpoint's batch size is 3, this run's is 4")
    );
    let err = Victim::new(net(1.0), Adam::new(0.01), data(10, 3).drop_last(true)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!("{prefix}the checkpoint has 4 batches per epoch, this run has 3")
    );
}

#[test]
fn a_model_only_checkpoint_is_not_resumed_from() {
    let dir = scratch("refuse_model_only");
    let path = dir.join("model.ckpt");
    save(&net(2.0), &path).expect("save");
    let err = Victim::new(net(1.0), Adam::new(0.01), data(10, 3)).refuse(&path);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a training checkpoint (no `progress.epoch`): it holds a model but no optimiser state or position to resume from",
            path.display()
        )
    );
}

#[test]
fn every_truncation_is_refused() {
    let dir = scratch("refuse_truncated");
    let path = stopped_run(&dir);
    let bytes = std::fs::read(&path).expect("read");
    let cut = dir.join("cut.ckpt");
    let mut victim = Victim::new(net(1.0), Adam::new(0.01), data(10, 3));
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).expect("write");
        let err = victim.refuse(&cut);
        assert!(
            matches!(
                err,
                CheckpointError::Truncated { .. } | CheckpointError::BadMagic { .. }
            ),
            "cut at {len}: {err}"
        );
    }
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = victim.refuse(&cut);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: truncated: ", cut.display())),
        "{err}"
    );
}

#[test]
fn every_changed_byte_is_refused() {
    let dir = scratch("refuse_corrupt");
    let path = stopped_run(&dir);
    let good = std::fs::read(&path).expect("read");
    let bad = dir.join("bad.ckpt");
    let mut victim = Victim::new(net(1.0), Adam::new(0.01), data(10, 3));
    // Every byte after the magic number, one bit each: whatever field it
    // lands in (a length, a name, a tag, an element, the checksum), the
    // file is refused and nothing changes.
    for at in 8..good.len() {
        let mut bytes = good.clone();
        bytes[at] ^= 1 << (at % 8);
        std::fs::write(&bad, &bytes).expect("write");
        victim.refuse(&bad);
    }
    // The last byte before the checksum is the top byte of
    // `progress.loss_sum`: only the checksum can tell.
    let mut bytes = good.clone();
    bytes[good.len() - 5] ^= 0x40;
    std::fs::write(&bad, &bytes).expect("write");
    let err = victim.refuse(&bad);
    assert!(
        err.to_string().starts_with(&format!(
            "{}: checksum mismatch: the file records CRC-32 0x",
            bad.display()
        )),
        "{err}"
    );
}
