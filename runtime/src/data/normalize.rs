//! Per-channel standardization with statistics of the training set.

use crate::tensor::{ShapeError, Tensor};

/// The per-channel mean and standard deviation used by
/// [`normalize_channels`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    /// The mean of each channel over the training set.
    pub mean: Vec<f32>,
    /// The (population) standard deviation of each channel over the
    /// training set.
    pub std: Vec<f32>,
}

/// Standardizes `train` and `test` channel by channel, `x ← (x − mean) /
/// std`, with the mean and standard deviation of each channel computed on
/// `train` only; returns them.
///
/// Axis 0 counts images. Images `[n, c, ...]` with three or more axes have
/// their `channels` on axis 1; flat images `[n, d]` are one channel
/// (`channels == 1`). Fails when the shapes do not fit `channels`, when
/// `test`'s images are shaped unlike `train`'s, when `train` is empty, or
/// when a channel is constant on `train`.
pub fn normalize_channels(
    train: &mut Tensor<f32>,
    test: &mut Tensor<f32>,
    channels: usize,
) -> Result<ChannelStats, ShapeError> {
    check_layout(train.shape(), channels)?;
    if train.shape().get(1..) != test.shape().get(1..) {
        return Err(ShapeError::Mismatch {
            op: OP,
            lhs: train.shape().to_vec(),
            rhs: test.shape().to_vec(),
        });
    }
    if train.is_empty() {
        return Err(ShapeError::Empty {
            op: OP,
            what: "the training set".to_string(),
        });
    }
    let plane = train.len() / train.shape()[0] / channels;
    let stats = channel_stats(train.data(), channels, plane)?;
    apply(train.data_mut(), &stats, plane);
    apply(test.data_mut(), &stats, plane);
    Ok(stats)
}

/// The op name in errors.
const OP: &str = "normalize_channels";

/// Fails unless `shape` is `[n, channels, ...]` or `[n, d]` with one channel.
fn check_layout(shape: &[usize], channels: usize) -> Result<(), ShapeError> {
    let fits = match shape {
        [] | [_] => false,
        [_, _] => channels == 1,
        [_, c, ..] => *c == channels,
    };
    if fits && channels > 0 {
        Ok(())
    } else {
        Err(ShapeError::InvalidArgument {
            op: OP,
            message: format!(
                "shape {shape:?} does not have {channels} channels \
                 (expected [n, {channels}, ...] or [n, d] with 1 channel)"
            ),
        })
    }
}

/// The mean and population standard deviation of each channel of `data`,
/// laid out as images of `channels` planes of `plane` values; computed in
/// two passes in `f64`.
fn channel_stats(data: &[f32], channels: usize, plane: usize) -> Result<ChannelStats, ShapeError> {
    let count = (data.len() / channels) as f64;
    let mean: Vec<f64> = channel_sums(data, channels, plane, |_, x| x)
        .into_iter()
        .map(|s| s / count)
        .collect();
    let var = channel_sums(data, channels, plane, |c, x| (x - mean[c]).powi(2));
    let mut stats = ChannelStats {
        mean: Vec::with_capacity(channels),
        std: Vec::with_capacity(channels),
    };
    for (c, (m, v)) in mean.iter().zip(var).enumerate() {
        let std = (v / count).sqrt();
        let usable = std.is_finite() && std > 0.0;
        if !usable {
            return Err(ShapeError::InvalidArgument {
                op: OP,
                message: format!(
                    "channel {c} of the training set has standard deviation {std}, \
                     so it cannot be standardized"
                ),
            });
        }
        stats.mean.push(*m as f32);
        stats.std.push(std as f32);
    }
    Ok(stats)
}

/// The sum of `f(channel, x)` over the values `x` of each channel of `data`
/// (images of `channels` planes of `plane` values).
fn channel_sums(
    data: &[f32],
    channels: usize,
    plane: usize,
    f: impl Fn(usize, f64) -> f64,
) -> Vec<f64> {
    let mut sums = vec![0.0f64; channels];
    for (i, block) in data.chunks_exact(plane).enumerate() {
        let c = i % channels;
        sums[c] += block.iter().map(|&x| f(c, f64::from(x))).sum::<f64>();
    }
    sums
}

/// Standardizes `data`, images of channels of `plane` values, in place.
fn apply(data: &mut [f32], stats: &ChannelStats, plane: usize) {
    let channels = stats.mean.len();
    for (i, block) in data.chunks_exact_mut(plane).enumerate() {
        let c = i % channels;
        let (mean, inv_std) = (stats.mean[c], 1.0 / stats.std[c]);
        for x in block {
            *x = (*x - mean) * inv_std;
        }
    }
}
