//! Training checkpoints and the [`Trainer`]'s checkpoint schedule: what is
//! saved and where, and checkpoints that do not fit the run, which change
//! none of the model, the optimiser and the data order.

use std::convert::Infallible;
use std::path::Path;

use super::checkpoint::{net, Net};
use super::scratch;
use crate::data::{Batches, ShuffleState};
use crate::optim::{Adam, Optimizer, OptimizerState};
use crate::params::Parameters;
use crate::tensor::Tensor;
use crate::train::{inspect, load_into, load_training, CheckpointError, Position, Trainer};

/// `examples` one-pixel examples valued 0, 1, ..., in batches of
/// `batch_size`.
pub(super) fn data(examples: usize, batch_size: usize) -> Batches {
    let images =
        Tensor::from_vec((0..examples).map(|i| i as f32).collect(), &[examples, 1]).expect("fits");
    Batches::new(images, vec![0; examples], batch_size, 11).expect("batches")
}

/// A gradient that depends on the model and on which examples are in the
/// batch: `0.5·w + mean(x)`; the loss is `mean(x)`.
pub(super) fn gradient(model: &Net, x: &Tensor<f32>, _: &[usize]) -> (f32, Net) {
    let mean = x.data().iter().sum::<f32>() / x.len() as f32;
    let grad = model.map(&mut |t| {
        let data = t.data().iter().map(|w| 0.5 * w + mean).collect();
        Tensor::from_vec(data, t.shape()).expect("same shape")
    });
    (mean, grad)
}

/// Runs `trainer` from the start with Adam and returns the final position.
fn train(trainer: &Trainer, model: &mut Net, adam: &mut Adam, batches: &mut Batches) -> Position {
    trainer
        .run(
            model,
            adam,
            batches,
            Position::start(),
            |m, x, l| gradient(m, x, l),
            |_, _| Ok::<(), Infallible>(()),
        )
        .expect("no checkpoint error")
}

/// A training checkpoint of 3 epochs of 4 batches stopped at step 6
/// (epoch 1, step 2), with Adam.
pub(super) fn stopped_run(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("train.ckpt");
    let trainer = Trainer::new(3)
        .checkpoint(&path, 0)
        .max_steps(6)
        .progress_bar(false);
    let end = train(
        &trainer,
        &mut net(1.0),
        &mut Adam::new(0.01),
        &mut data(10, 3),
    );
    assert_eq!(
        end,
        Position {
            epoch: 1,
            step: 2,
            loss_sum: end.loss_sum
        }
    );
    path
}

/// What a load must leave unchanged.
pub(super) struct Victim<O> {
    model: Net,
    optimizer: O,
    batches: Batches,
}

impl<O: Optimizer<Net>> Victim<O> {
    /// A model, optimiser and data that have all moved from their start.
    pub(super) fn new(model: Net, mut optimizer: O, mut batches: Batches) -> Self {
        let mut stepped = model.clone();
        let (_, g) = gradient(&stepped, &Tensor::full(&[1, 1], 2.0), &[0]);
        optimizer.step(&mut stepped, &g);
        batches.shuffle();
        Self {
            model: stepped,
            optimizer,
            batches,
        }
    }

    fn snapshot(&self) -> (Net, OptimizerState<f32>, ShuffleState) {
        (
            self.model.clone(),
            self.optimizer.state(&self.model),
            self.batches.shuffle_state(),
        )
    }

    /// Loads `path`, expecting an error, and checks nothing changed.
    pub(super) fn refuse(&mut self, path: &Path) -> CheckpointError {
        let before = self.snapshot();
        let err = load_training(
            path,
            &mut self.model,
            &mut self.optimizer,
            &mut self.batches,
        )
        .expect_err("the checkpoint does not fit");
        assert!(
            err.to_string().starts_with(&path.display().to_string()),
            "the error names the file: {err}"
        );
        assert!(
            self.snapshot() == before,
            "changed by a refused load: {err}"
        );
        err
    }
}

#[test]
fn the_file_holds_model_optimizer_data_order_and_position() {
    let dir = scratch("training_names");
    let path = stopped_run(&dir);
    let entries = inspect(&path).expect("a valid file");
    let listed: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {} {:?}", e.name, e.dtype, e.shape))
        .collect();
    assert_eq!(
        listed,
        [
            "model.w f32 [2, 2]",
            "model.layers.0 f32 [3]",
            "model.layers.1 f32 []",
            "optimizer.kind u8 [4]",
            "optimizer.learning_rate f64 []",
            "optimizer.hyper.beta1 f64 []",
            "optimizer.hyper.beta2 f64 []",
            "optimizer.hyper.eps f64 []",
            "optimizer.hyper.weight_decay f64 []",
            "optimizer.count.steps u64 []",
            "optimizer.state.m.w f32 [2, 2]",
            "optimizer.state.v.w f32 [2, 2]",
            "optimizer.state.m.layers.0 f32 [3]",
            "optimizer.state.v.layers.0 f32 [3]",
            "optimizer.state.m.layers.1 f32 []",
            "optimizer.state.v.layers.1 f32 []",
            "data.batch_size u64 []",
            "data.batches_per_epoch u64 []",
            "data.order u64 [10]",
            "data.rng.seed u8 [32]",
            "data.rng.stream u64 []",
            "data.rng.word_pos u64 [2]",
            "progress.epoch u64 []",
            "progress.step u64 []",
            "progress.loss_sum f64 []",
        ]
    );

    let (mut model, mut adam, mut batches) = (net(5.0), Adam::new(0.5), data(10, 3));
    let position = load_training(&path, &mut model, &mut adam, &mut batches).expect("fits");
    assert_eq!((position.epoch, position.step), (1, 2));
    assert_eq!(adam.steps(), 6, "Adam's step count t");
    assert_eq!(adam.learning_rate(), 0.01, "the learning rate is restored");
    // The loss sum is the sum of the two batch means of epoch 2 so far.
    let order: Vec<usize> = batches.current_epoch(0).take(2).flat_map(|b| b.1).collect();
    assert_eq!(order.len(), 6);
    let firsts: Vec<f32> = batches
        .current_epoch(0)
        .take(2)
        .map(|(x, _)| x.data().iter().sum::<f32>() / 3.0)
        .collect();
    assert_eq!(
        position.loss_sum,
        f64::from(firsts[0]) + f64::from(firsts[1])
    );
}

/// The global step of the checkpoint at `path`, if there is one.
fn saved_step(path: &Path) -> Option<usize> {
    path.exists().then(|| {
        load_training(path, &mut net(1.0), &mut Adam::new(0.01), &mut data(10, 3))
            .expect("a checkpoint of this run")
            .global_step(4)
    })
}

#[test]
fn checkpoints_come_every_n_steps_and_at_epoch_ends() {
    let dir = scratch("cadence");
    let path = dir.join("c.ckpt");
    // 3 epochs of 4 batches, a checkpoint every 3 steps: steps 3, 6, 9 and
    // the epoch ends 4, 8, 12. Before step k, the file holds the last
    // checkpoint before it.
    let trainer = Trainer::new(3).checkpoint(&path, 3).progress_bar(false);
    let mut seen = Vec::new();
    let mut epochs = Vec::new();
    let end = trainer
        .run(
            &mut net(1.0),
            &mut Adam::new(0.01),
            &mut data(10, 3),
            Position::start(),
            |m, x, l| {
                seen.push(saved_step(&path));
                gradient(m, x, l)
            },
            |_, e| {
                epochs.push((e.epoch, saved_step(&path)));
                Ok::<(), Infallible>(())
            },
        )
        .expect("runs");
    let none = None;
    assert_eq!(
        seen,
        [
            none,
            none,
            none,
            Some(3),
            Some(4),
            Some(4),
            Some(6),
            Some(6),
            Some(8),
            Some(9),
            Some(9),
            Some(9)
        ]
    );
    assert_eq!(
        epochs,
        [(1, Some(3)), (2, Some(6)), (3, Some(9))],
        "the hook runs before the epoch's checkpoint"
    );
    assert_eq!(saved_step(&path), Some(12));
    assert_eq!(
        end,
        Position {
            epoch: 3,
            step: 0,
            loss_sum: 0.0
        }
    );
}

#[test]
fn a_step_limit_stops_mid_epoch_and_saves_there() {
    let dir = scratch("limit");
    let path = dir.join("l.ckpt");
    for (limit, position, epochs_ended) in [(6, (1, 2), 1), (8, (2, 0), 2), (20, (3, 0), 3)] {
        let trainer = Trainer::new(3)
            .checkpoint(&path, 0)
            .max_steps(limit)
            .progress_bar(false);
        let mut ended = 0;
        let end = trainer
            .run(
                &mut net(1.0),
                &mut Adam::new(0.01),
                &mut data(10, 3),
                Position::start(),
                |m, x, l| gradient(m, x, l),
                |_, _| {
                    ended += 1;
                    Ok::<(), Infallible>(())
                },
            )
            .expect("runs");
        assert_eq!((end.epoch, end.step), position, "limit {limit}");
        assert_eq!(ended, epochs_ended, "limit {limit}");
        assert_eq!(saved_step(&path), Some(limit.min(12)), "limit {limit}");
    }
}

#[test]
fn load_into_reads_the_model_out_of_a_training_checkpoint() {
    let dir = scratch("model_from_training");
    let path = dir.join("t.ckpt");
    let trainer = Trainer::new(1).checkpoint(&path, 0).progress_bar(false);
    let mut trained = net(1.0);
    train(
        &trainer,
        &mut trained,
        &mut Adam::new(0.01),
        &mut data(10, 3),
    );
    assert_ne!(trained, net(1.0), "training moved the model");
    let mut model = net(7.0);
    load_into(&mut model, &path).expect("the model part");
    assert_eq!(model, trained);
}
