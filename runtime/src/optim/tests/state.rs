//! Saving and restoring optimiser state: stable names, exact continuation,
//! and states that do not fit, which change nothing.

use super::{gradient, model, model_start};
use crate::optim::{Adagrad, Adam, AdamW, Optimizer, OptimizerState, RmsProp, Sgd, StateError};
use crate::tensor::Tensor;

type Model = Vec<Tensor<f64>>;

/// A boxed optimiser of the test model.
type Boxed = Box<dyn Optimizer<Model>>;

/// Takes steps `from..to` (numbered as in [`gradient`]).
fn steps(opt: &mut dyn Optimizer<Model>, params: &mut Model, from: usize, to: usize) {
    for t in from..to {
        opt.step(params, &model(&gradient(t)));
    }
}

/// The bits of every element, for bit-for-bit comparison.
fn bits(params: &Model) -> Vec<u64> {
    params
        .iter()
        .flat_map(|t| t.data().iter().map(|x| x.to_bits()))
        .collect()
}

/// Every optimiser, freshly built twice (the run and the resumed copy).
fn pairs() -> Vec<(Boxed, Boxed)> {
    fn two<O: Optimizer<Model> + Clone + 'static>(o: O) -> (Boxed, Boxed) {
        (Box::new(o.clone()), Box::new(o))
    }
    vec![
        two(Sgd::new(0.05).with_momentum(0.9).with_weight_decay(0.01)),
        two(Sgd::new(0.05).with_momentum(0.9).with_nesterov(true)),
        two(Adagrad::new(0.1)),
        two(RmsProp::new(0.01).with_alpha(0.9)),
        two(Adam::new(0.01).with_betas(0.8, 0.99)),
        two(AdamW::new(0.01)),
    ]
}

#[test]
fn a_restored_optimizer_continues_exactly() {
    for (mut run, mut resumed) in pairs() {
        let mut params = model(&model_start());
        steps(run.as_mut(), &mut params, 1, 4);
        run.set_learning_rate(0.003);
        let state = run.state(&params);
        assert!(
            !state.tensors.is_empty(),
            "{}: state after 3 steps",
            state.kind
        );
        let kind = state.kind.clone();
        let mut copy = params.clone();
        resumed
            .load_state(&copy, state.clone())
            .expect("same optimiser");
        assert_eq!(resumed.state(&copy), state, "{kind}: round trip");
        assert_eq!(
            resumed.learning_rate(),
            0.003,
            "{kind}: learning rate restored"
        );
        steps(run.as_mut(), &mut params, 4, 8);
        steps(resumed.as_mut(), &mut copy, 4, 8);
        assert_eq!(
            bits(&copy),
            bits(&params),
            "{kind}: same steps after the restore"
        );
        assert_eq!(resumed.state(&copy), run.state(&params), "{kind}");
    }
}

#[test]
fn without_the_state_the_steps_differ() {
    // What the restore prevents: a resumed run whose optimiser starts afresh.
    for (mut run, mut fresh) in pairs() {
        let kind = run.state(&model(&model_start())).kind;
        let mut params = model(&model_start());
        steps(run.as_mut(), &mut params, 1, 4);
        let mut copy = params.clone();
        steps(run.as_mut(), &mut params, 4, 6);
        steps(fresh.as_mut(), &mut copy, 4, 6);
        assert_ne!(bits(&copy), bits(&params), "{kind}");
    }
}

#[test]
fn names_are_slot_and_parameter_path() {
    let mut params = model(&model_start());
    let mut adam = Adam::new(0.01);
    let state = Optimizer::<Model>::state(&adam, &params);
    assert!(state.tensors.is_empty(), "no moments before the first step");
    assert_eq!(state.counters, vec![("steps".to_string(), 0)]);
    steps(&mut adam, &mut params, 1, 3);
    let state = adam.state(&params);
    let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["m.0", "v.0", "m.1", "v.1"]);
    assert_eq!(state.kind, "adam");
    assert_eq!(state.counters, vec![("steps".to_string(), 2)]);
    let hyper: Vec<&str> = state
        .hyperparameters
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(hyper, ["beta1", "beta2", "eps", "weight_decay"]);
    // m after two steps of β1 = 0.9 from 0: 0.1·g1·0.9 + 0.1·g2.
    let (g1, g2) = (gradient(1)[0], gradient(2)[0]);
    let m0 = state.tensors[0].1.data()[0];
    assert!((m0 - (0.09 * g1 + 0.1 * g2)).abs() < 1e-15, "m.0[0] = {m0}");

    let mut sgd = Sgd::new(0.1).with_momentum(0.5);
    steps(&mut sgd, &mut params, 1, 2);
    let state = sgd.state(&params);
    assert_eq!(state.kind, "sgd");
    let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["velocity.0", "velocity.1"]);
    assert_eq!(
        state.tensors[1].1.data()[0],
        gradient(1)[3],
        "v = g after one step"
    );
}

#[test]
fn a_fresh_state_restores_a_fresh_optimizer() {
    let params = model(&model_start());
    let mut stepped = Adam::new(0.01);
    steps(&mut stepped, &mut params.clone(), 1, 3);
    let fresh = Optimizer::<Model>::state(&Adam::new(0.01), &params);
    stepped.load_state(&params, fresh.clone()).expect("fits");
    assert_eq!(stepped.steps(), 0);
    assert_eq!(stepped.state(&params), fresh);
}

/// Loads `state` into `opt`, expects `error`, and checks that `opt`'s state
/// is what it was.
fn refused(
    opt: &mut dyn Optimizer<Model>,
    params: &Model,
    state: OptimizerState<f64>,
    error: &str,
) {
    let before = opt.state(params);
    let err = opt.load_state(params, state).expect_err(error);
    assert_eq!(err.to_string(), error);
    assert_eq!(opt.state(params), before, "unchanged after: {error}");
}

#[test]
fn states_that_do_not_fit_are_refused_and_change_nothing() {
    let mut params = model(&model_start());
    let mut adam = Adam::new(0.01);
    steps(&mut adam, &mut params, 1, 3);
    let saved = adam.state(&params);
    let mut other = Adam::new(0.02);
    steps(&mut other, &mut params.clone(), 1, 2);

    let mut sgd = Sgd::new(0.1).with_momentum(0.9);
    refused(
        &mut sgd,
        &params,
        saved.clone(),
        "the state is of optimiser `adam`, but the optimiser is `sgd`",
    );
    refused(
        &mut AdamW::new(0.01),
        &params,
        saved.clone(),
        "the state is of optimiser `adam`, but the optimiser is `adamw`",
    );
    refused(
        &mut other.clone().with_betas(0.9, 0.99),
        &params,
        saved.clone(),
        "hyperparameter `beta2` is 0.999 in the state but 0.99 in the optimiser",
    );

    let mut missing = saved.clone();
    missing.tensors.remove(3);
    refused(
        &mut other,
        &params,
        missing,
        "tensor `v.1` is missing from the state",
    );
    let mut extra = saved.clone();
    extra.tensors.push(("m.2".to_string(), Tensor::zeros(&[1])));
    refused(
        &mut other,
        &params,
        extra,
        "tensor `m.2` in the state is not one of this optimiser's for this model",
    );
    let mut counter = saved.clone();
    counter.counters.clear();
    refused(
        &mut other,
        &params,
        counter,
        "counter `steps` is missing from the state",
    );
    let mut reshaped = params.clone();
    reshaped[1] = Tensor::zeros(&[4]);
    let before = other.state(&params);
    let err = other.load_state(&reshaped, saved).expect_err("shape");
    assert_eq!(
        err,
        StateError::Shape {
            name: "m.1".to_string(),
            saved: vec![2, 2],
            model: vec![4],
        }
    );
    assert_eq!(other.state(&params), before);
}
