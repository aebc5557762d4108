//! The seed's optimiser comparison: the same 784-512-256-10 ReLU MLP trained
//! on MNIST with SGD + momentum, Adagrad, RMSprop and Adam (each from its
//! paper, `adjoint::optim`), gradients from `#[differentiable]`. Prints the
//! training objective and test accuracy per epoch for each, writes them to
//! one CSV (`optimizer,epoch,train_loss,test_accuracy`), and plots the
//! objective of all four against the epoch in one PNG.
//!
//! Run: `cargo run --release --example mnist_optimizers` (`--help` for options).

use adjoint::data::{mnist, Split};
use adjoint::optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
use adjoint::prelude::*;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line options.
#[derive(Parser)]
#[command(about = "Compare SGD+momentum, Adagrad, RMSprop and Adam on MNIST")]
struct Args {
    /// Passes over the training set per optimiser.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Examples per gradient step.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Seed of the initialisation and the shuffling (the same for every optimiser).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory holding the four MNIST files.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))]
    data: PathBuf,
    /// Where to write optimizers.csv.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/mnist_optimizers"))]
    out: PathBuf,
}

/// The seed's network.
#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    w3: Tensor,
    b3: Tensor,
}

#[differentiable]
fn loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h1 = (x.matmul(&p.w1) + &p.b1).relu();
    let h2 = (h1.matmul(&p.w2) + &p.b2).relu();
    cross_entropy(&(h2.matmul(&p.w3) + &p.b3), labels)
}

fn init(seed: u64) -> Mlp {
    let mut rng = StdRng::seed_from_u64(seed);
    Mlp {
        w1: Tensor::he_normal(784, 512, &mut rng),
        b1: Tensor::zeros(&[512]),
        w2: Tensor::he_normal(512, 256, &mut rng),
        b2: Tensor::zeros(&[256]),
        w3: Tensor::he_normal(256, 10, &mut rng),
        b3: Tensor::zeros(&[10]),
    }
}

/// The fraction of `split` the model classifies correctly.
fn accuracy(p: &Mlp, split: &Split) -> f64 {
    adjoint::train::accuracy(split, 1000, |x| {
        let h1 = (&x.matmul(&p.w1) + &p.b1).relu();
        let h2 = (&h1.matmul(&p.w2) + &p.b2).relu();
        &h2.matmul(&p.w3) + &p.b3
    })
}

/// Trains a fresh model with `opt`; returns (train loss, test accuracy) per epoch.
fn train(opt: &mut dyn Optimizer<Mlp>, data: &mnist::Mnist, args: &Args) -> Vec<(f64, f64)> {
    let mut model = init(args.seed);
    let Ok(mut batches) = data.train.batches(args.batch_size, args.seed) else {
        return Vec::new();
    };
    let reports = adjoint::train::fit(
        &mut model,
        opt,
        &mut batches,
        args.epochs,
        |m, x, labels| {
            let g = loss_grad(m, x, labels);
            (g.value, g.p)
        },
        |m| accuracy(m, &data.test),
        |_| {},
    );
    reports.iter().map(|r| (r.train_loss, r.metric)).collect()
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.batch_size == 0 {
        eprintln!("error: --batch-size must be at least 1");
        return ExitCode::FAILURE;
    }
    let data = match mnist::load(&args.data) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut optimizers: Vec<(&str, Box<dyn Optimizer<Mlp>>)> = vec![
        ("sgd_momentum", Box::new(Sgd::new(0.05).with_momentum(0.9))),
        ("adagrad", Box::new(Adagrad::new(0.01))),
        ("rmsprop", Box::new(RmsProp::new(1e-4))),
        ("adam", Box::new(Adam::new(1e-3))),
    ];
    let mut csv = String::from("optimizer,epoch,train_loss,test_accuracy\n");
    let mut summary = Vec::new();
    let mut objectives: Vec<(&str, Vec<f64>)> = Vec::new();
    for (name, opt) in optimizers.iter_mut() {
        let curve = train(opt.as_mut(), &data, &args);
        for (e, (l, a)) in curve.iter().enumerate() {
            println!(
                "{name:>12} epoch {:>2}: objective {l:.4}  test accuracy {a:.4}",
                e + 1
            );
            csv.push_str(&format!("{name},{},{l},{a}\n", e + 1));
        }
        objectives.push((name, curve.iter().map(|c| c.0).collect()));
        let best = curve.iter().map(|c| c.1).fold(0.0, f64::max);
        summary.push((name.to_string(), curve.last().map_or(0.0, |c| c.1), best));
    }
    let path = args.out.join("optimizers.csv");
    match std::fs::create_dir_all(&args.out).and_then(|_| std::fs::write(&path, csv)) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("warning: cannot write {}: {e}", path.display()),
    }
    let plot_path = args.out.join("objective.png");
    let series: Vec<(&str, &[f64])> = objectives.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    match adjoint::train::plot_curves(
        &plot_path,
        "MNIST MLP: training objective",
        &series,
        "cross-entropy",
    ) {
        Ok(()) => println!("wrote {}", plot_path.display()),
        Err(e) => eprintln!("warning: cannot plot: {e}"),
    }
    for (name, last, best) in &summary {
        println!("{name:>12}: final test accuracy {last:.4}, best {best:.4}");
    }
    let adam = summary.iter().find(|s| s.0 == "adam").map_or(0.0, |s| s.1);
    println!("test accuracy: {adam:.4}");
    ExitCode::SUCCESS
}
