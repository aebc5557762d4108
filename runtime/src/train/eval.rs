//! [`accuracy`]: the classification accuracy of a model on a data split,
//! evaluated in chunks so the whole split never has to pass at once.

use crate::data::Split;
use crate::tensor::{Device, Tensor};

/// The fraction of `split` whose arg-max class of `logits(images)` equals
/// its label, evaluating `chunk` images at a time (`[chunk, ...]` in, on
/// the host; `[chunk, classes]` out, on any device). An empty split has
/// accuracy 0.
///
/// # Panics
/// If logits on a CUDA device cannot be copied back (a driver error).
pub fn accuracy(
    split: &Split,
    chunk: usize,
    mut logits: impl FnMut(&Tensor<f32>) -> Tensor<f32>,
) -> f64 {
    let n = split.len();
    if n == 0 {
        return 0.0;
    }
    let chunk = chunk.max(1);
    let mut correct = 0;
    for start in (0..n).step_by(chunk) {
        let rows: Vec<usize> = (start..(start + chunk).min(n)).collect();
        let scores = logits(&split.images.select(0, &rows));
        let scores = scores
            .to_device(Device::Cpu)
            .unwrap_or_else(|e| panic!("accuracy: copying the logits to the host: {e}"));
        let predicted = scores.argmax_axis(1);
        correct += predicted
            .iter()
            .zip(&rows)
            .filter(|(p, &i)| **p == split.labels[i])
            .count();
    }
    correct as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_arg_max_matches_across_chunks() {
        let images = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0], &[5, 1]).expect("shape");
        let split = Split {
            images,
            labels: vec![0, 1, 0, 1, 1],
        };
        let logits = |x: &Tensor<f32>| {
            let data: Vec<f32> = x
                .data()
                .iter()
                .flat_map(|v| {
                    if (*v as usize) % 2 == 1 {
                        [0.0, 1.0]
                    } else {
                        [1.0, 0.0]
                    }
                })
                .collect();
            Tensor::from_vec(data, &[x.shape()[0], 2]).expect("shape")
        };
        // Predictions 0, 1, 0, 1, 0 against labels 0, 1, 0, 1, 1: 4 of 5.
        assert_eq!(accuracy(&split, 2, logits), 0.8);
        assert_eq!(accuracy(&split, 100, logits), 0.8);
        let empty = Split {
            images: Tensor::zeros(&[0, 1]),
            labels: Vec::new(),
        };
        assert_eq!(accuracy(&empty, 10, logits), 0.0);
    }
}
