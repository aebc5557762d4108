use super::scratch;
use crate::train::metrics::{MetricsError, MetricsLog};

#[test]
fn header_once_and_each_row_flushed() {
    let dir = scratch("metrics");
    let path = dir.join("m.csv");
    let mut log = MetricsLog::new(&path).expect("create");
    log.record(1, &[("train_loss", 0.5), ("test_accuracy", 0.9)])
        .expect("row 1");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "epoch,train_loss,test_accuracy\n1,0.5,0.9\n"
    );
    log.record(2, &[("train_loss", 0.25), ("test_accuracy", 0.95)])
        .expect("row 2");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "epoch,train_loss,test_accuracy\n1,0.5,0.9\n2,0.25,0.95\n"
    );
    assert_eq!(log.column("train_loss"), Some(vec![0.5, 0.25]));
    assert_eq!(log.column("nope"), None);
    assert_eq!(log.epochs(), [1, 2]);
}

#[test]
fn other_columns_are_rejected() {
    let dir = scratch("metrics_columns");
    let mut log = MetricsLog::new(dir.join("m.csv")).expect("create");
    log.record(1, &[("a", 1.0)]).expect("row 1");
    let err = log.record(2, &[("b", 1.0)]).expect_err("other column");
    assert!(
        matches!(err, MetricsError::Columns { epoch: 2, .. }),
        "{err}"
    );
}

#[test]
fn resume_keeps_rows_up_to_the_checkpoint_and_appends() {
    let dir = scratch("metrics_resume");
    let path = dir.join("m.csv");
    let mut log = MetricsLog::new(&path).expect("create");
    for e in 1..=3 {
        log.record(e, &[("loss", 1.0 / e as f64)]).expect("row");
    }
    drop(log);
    let mut log = MetricsLog::resume(&path, 2).expect("resume");
    assert_eq!(log.column("loss"), Some(vec![1.0, 0.5]));
    log.record(3, &[("loss", 0.125)]).expect("row 3");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "epoch,loss\n1,1\n2,0.5\n3,0.125\n"
    );

    std::fs::write(&path, "epoch,loss\n1,x\n").expect("write");
    let err = MetricsLog::resume(&path, 1).err().expect("bad number");
    assert!(matches!(err, MetricsError::Parse { line: 2, .. }), "{err}");

    let fresh = MetricsLog::resume(dir.join("absent.csv"), 5).expect("absent file");
    assert_eq!(fresh.epochs(), Vec::<usize>::new());
}
