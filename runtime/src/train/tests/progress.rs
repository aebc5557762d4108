use crate::train::progress::EpochProgress;

#[test]
fn keeps_the_running_mean_loss() {
    let mut bar = EpochProgress::hidden(1, 3, 4);
    assert_eq!(bar.mean_loss(), 0.0);
    bar.step(1.0);
    bar.step(0.5);
    bar.step(0.0);
    assert_eq!(bar.batches(), 3);
    assert_eq!(bar.mean_loss(), 0.5);
    assert_eq!(bar.finish(), 0.5);
}

#[test]
fn a_resumed_bar_averages_over_the_whole_epoch() {
    let mut first = EpochProgress::hidden(2, 3, 4);
    first.step(1.0);
    first.step(0.5);
    let mut bar = EpochProgress::hidden(2, 3, 4).resumed(first.batches(), first.loss_sum());
    assert_eq!(bar.loss_sum(), 1.5);
    bar.step(0.25);
    bar.step(0.25);
    assert_eq!(bar.batches(), 4);
    assert_eq!(bar.finish(), 0.5);
}
