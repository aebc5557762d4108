//! The shuffling mini-batch iterator.

use crate::data::Batches;
use crate::tensor::{ShapeError, Tensor};

/// `n` one-channel 2 × 2 images whose four pixels all equal the image's
/// index, labelled with that index, in batches of `batch_size`.
fn indexed(n: usize, batch_size: usize, seed: u64) -> Batches {
    let data = (0..n).flat_map(|i| [i as f32; 4]).collect();
    let images = Tensor::from_vec(data, &[n, 1, 2, 2]).expect("data fits shape");
    Batches::new(images, (0..n).collect(), batch_size, seed).expect("valid batches")
}

/// The labels of every batch of one epoch, checking each batch's images
/// against its labels on the way.
fn epoch_labels(batches: &mut Batches) -> Vec<Vec<usize>> {
    batches
        .epoch()
        .map(|(images, labels)| {
            assert_eq!(images.shape(), &[labels.len(), 1, 2, 2]);
            let expected: Vec<f32> = labels.iter().flat_map(|&i| [i as f32; 4]).collect();
            assert_eq!(images.data(), expected.as_slice());
            labels
        })
        .collect()
}

#[test]
fn every_index_once_per_epoch_in_a_new_order() {
    let mut batches = indexed(10, 3, 7);
    assert_eq!(batches.batches_per_epoch(), 4);
    let mut orders = Vec::new();
    for _ in 0..3 {
        let epoch = epoch_labels(&mut batches);
        let sizes: Vec<usize> = epoch.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        let order: Vec<usize> = epoch.concat();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1]);
    assert_ne!(orders[1], orders[2]);
    assert_ne!(orders[0], (0..10).collect::<Vec<_>>(), "shuffled");
}

#[test]
fn drop_last_leaves_out_the_partial_batch() {
    let mut batches = indexed(10, 3, 7).drop_last(true);
    assert_eq!(batches.batches_per_epoch(), 3);
    let epoch = batches.epoch();
    assert_eq!(epoch.len(), 3);
    let labels: Vec<Vec<usize>> = epoch.map(|(_, labels)| labels).collect();
    assert!(labels.iter().all(|batch| batch.len() == 3));
    let mut seen: Vec<usize> = labels.concat();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 9, "9 distinct examples, one left out");
}

#[test]
fn same_seed_same_batches_other_seed_other_batches() {
    let (mut a, mut b, mut c) = (indexed(50, 8, 1), indexed(50, 8, 1), indexed(50, 8, 2));
    for _ in 0..2 {
        let (ea, eb, ec) = (
            epoch_labels(&mut a),
            epoch_labels(&mut b),
            epoch_labels(&mut c),
        );
        assert_eq!(ea, eb);
        assert_ne!(ea, ec);
    }
}

#[test]
fn exact_multiple_has_no_partial_batch() {
    let mut batches = indexed(6, 3, 0);
    let mut epoch = batches.epoch();
    assert_eq!(epoch.len(), 2);
    assert!(epoch.next().is_some());
    assert_eq!(epoch.len(), 1);
    assert!(epoch.next().is_some());
    assert!(epoch.next().is_none());
}

#[test]
fn rejects_bad_arguments() {
    let images = Tensor::<f32>::zeros(&[4, 2]);
    let err = Batches::new(images.clone(), vec![0, 1, 2], 2, 0).expect_err("3 labels, 4 rows");
    assert_eq!(err.to_string(), "Batches::new: 3 labels for 4 rows");
    let err = Batches::new(images, vec![0; 4], 0, 0).expect_err("batch size 0");
    assert!(matches!(err, ShapeError::InvalidArgument { .. }));
    let err = Batches::new(Tensor::scalar(1.0), Vec::new(), 1, 0).expect_err("no axes");
    assert!(matches!(err, ShapeError::Rank { .. }));
}

#[test]
fn orders_are_those_of_std_rng_seeded_the_same_way() {
    // The generator is ChaCha12 held directly (so its state can be saved);
    // the orders must stay those of `StdRng`, which earlier runs used.
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut batches = indexed(20, 20, 5);
    let mut rng = StdRng::seed_from_u64(5);
    let mut order: Vec<usize> = (0..20).collect();
    for _ in 0..3 {
        order.shuffle(&mut rng);
        assert_eq!(epoch_labels(&mut batches), vec![order.clone()]);
    }
}

#[test]
fn a_saved_state_continues_the_sequence_part_way_through_an_epoch() {
    let mut original = indexed(10, 3, 7);
    epoch_labels(&mut original);
    original.shuffle();
    let state = original.shuffle_state();
    let done: Vec<Vec<usize>> = original.current_epoch(0).take(2).map(|b| b.1).collect();
    let rest: Vec<Vec<usize>> = original.current_epoch(2).map(|b| b.1).collect();
    assert_eq!(rest.len(), 2, "batches 3 and 4 of 4");
    let later = [epoch_labels(&mut original), epoch_labels(&mut original)];

    let mut resumed = indexed(10, 3, 99);
    resumed.set_shuffle_state(&state).expect("same examples");
    assert_eq!(resumed.shuffle_state(), state);
    let all: Vec<Vec<usize>> = resumed.current_epoch(0).map(|b| b.1).collect();
    assert_eq!(all, [done, rest.clone()].concat());
    assert_eq!(
        resumed.current_epoch(2).map(|b| b.1).collect::<Vec<_>>(),
        rest
    );
    assert_eq!(
        [epoch_labels(&mut resumed), epoch_labels(&mut resumed)],
        later
    );
    assert_eq!(resumed.current_epoch(4).count(), 0, "past the last batch");
}

#[test]
fn a_state_for_other_data_is_refused_and_changes_nothing() {
    let mut batches = indexed(4, 2, 1);
    batches.shuffle();
    let before = batches.shuffle_state();
    let mut state = indexed(5, 2, 1).shuffle_state();
    let err = batches
        .set_shuffle_state(&state)
        .expect_err("5 examples, not 4");
    assert_eq!(
        err.to_string(),
        "Batches::set_shuffle_state: the order holds 5 examples but the data has 4"
    );
    state.order = vec![0, 1, 1, 3];
    let err = batches
        .set_shuffle_state(&state)
        .expect_err("not a permutation");
    assert!(
        err.to_string()
            .ends_with("example 1 appears twice (again at position 2)"),
        "{err}"
    );
    state.order = vec![0, 1, 2, 4];
    let err = batches.set_shuffle_state(&state).expect_err("out of range");
    assert!(
        err.to_string()
            .ends_with("example 4 at position 3 is out of range (0..4)"),
        "{err}"
    );
    assert_eq!(batches.shuffle_state(), before);
}

#[test]
fn first_takes_the_leading_examples() {
    let data = (0..5).flat_map(|i| [i as f32; 2]).collect();
    let split = crate::data::Split {
        images: Tensor::from_vec(data, &[5, 2]).expect("fits"),
        labels: vec![4, 3, 2, 1, 0],
    };
    let head = split.first(2);
    assert_eq!(head.labels, vec![4, 3]);
    assert_eq!(head.images.shape(), &[2, 2]);
    assert_eq!(head.images.data(), &[0.0, 0.0, 1.0, 1.0]);
    assert_eq!(split.first(9), split);
}
