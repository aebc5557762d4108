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
