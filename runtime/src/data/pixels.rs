//! Turning pixel bytes into `f32` values.

/// A pixel byte scaled from `0..=255` to `[0, 1]` (`byte / 255`).
pub(crate) fn scale(byte: u8) -> f32 {
    f32::from(byte) / 255.0
}
