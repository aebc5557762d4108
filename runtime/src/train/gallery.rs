//! [`plot_predictions`]: a PNG of images next to bar charts of the class
//! probabilities a model gave them (the seeds' "3 right, 3 wrong" figure).

use std::path::Path;

use plotters::prelude::*;

use super::plot::{register, PlotError};
use crate::tensor::Tensor;

/// One image and what a model made of it.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// The image, `[1, C, H, W]` or `[C, H, W]` with 1 or 3 channels, in any
    /// range (it is rescaled to its own minimum and maximum for display).
    pub image: Tensor<f32>,
    /// The true class.
    pub label: usize,
    /// The probability of each class.
    pub probabilities: Vec<f64>,
}

/// Pixels per image pixel.
const SCALE: u32 = 4;
/// Height of one row of the figure.
const ROW: u32 = 170;
/// Width of the figure.
const WIDTH: u32 = 1000;

/// Draws one row per prediction: the image, then a bar per class (the true
/// class green, the predicted one red when it differs, others blue) with
/// the class names, and writes the figure to `path` as a PNG.
pub fn plot_predictions(
    path: impl AsRef<Path>,
    title: &str,
    predictions: &[Prediction],
    class_names: &[&str],
) -> Result<(), PlotError> {
    let path = path.as_ref();
    register()?;
    if predictions.is_empty() {
        return Err(PlotError::NoData {
            path: path.to_path_buf(),
        });
    }
    draw(path, title, predictions, class_names).map_err(|e| PlotError::Draw {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn draw(
    path: &Path,
    title: &str,
    predictions: &[Prediction],
    class_names: &[&str],
) -> Result<(), Box<dyn std::error::Error>> {
    let height = 50 + ROW * predictions.len() as u32;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    let rows = root.split_evenly((predictions.len(), 1));
    for (area, p) in rows.iter().zip(predictions) {
        let (left, right) = area.split_horizontally(170);
        draw_image(&left, &p.image)?;
        draw_bars(&right, p, class_names)?;
    }
    root.present()?;
    Ok(())
}

/// The image scaled up, its values mapped to its own range.
fn draw_image<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    image: &Tensor<f32>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let shape = image.shape();
    let (c, h, w) = match *shape {
        [1, c, h, w] | [c, h, w] => (c, h, w),
        _ => {
            return Err(format!("an image must be [1, C, H, W] or [C, H, W], not {shape:?}").into())
        }
    };
    let data = image.data();
    let (lo, hi) = data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let level = |v: f32| (255.0 * (v - lo) / span).clamp(0.0, 255.0) as u8;
    let plane = h * w;
    for y in 0..h {
        for x in 0..w {
            let at = |ch: usize| level(data[ch.min(c - 1) * plane + y * w + x]);
            let color = RGBColor(at(0), at(1), at(2));
            let (x0, y0) = (10 + x as i32 * SCALE as i32, 10 + y as i32 * SCALE as i32);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + SCALE as i32, y0 + SCALE as i32)],
                color.filled(),
            ))?;
        }
    }
    Ok(())
}

/// The class-probability bars of one prediction.
fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Prediction,
    class_names: &[&str],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let classes = p.probabilities.len();
    let predicted = (0..classes)
        .max_by(|&a, &b| p.probabilities[a].total_cmp(&p.probabilities[b]))
        .unwrap_or(0);
    let name = |k: usize| class_names.get(k).copied().unwrap_or("?");
    let caption = format!(
        "true: {}, predicted: {} ({:.2})",
        name(p.label),
        name(predicted),
        p.probabilities.get(predicted).copied().unwrap_or(0.0)
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(5)
        .x_label_area_size(22)
        .y_label_area_size(40)
        .build_cartesian_2d((0..classes).into_segmented(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(classes)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(k) if *k < classes => name(*k).to_string(),
            _ => String::new(),
        })
        .y_labels(3)
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series(p.probabilities.iter().enumerate().map(|(k, &v)| {
        let color = if k == p.label {
            RGBColor(44, 160, 44)
        } else if k == predicted {
            RGBColor(214, 39, 40)
        } else {
            RGBColor(31, 119, 180)
        };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(k), 0.0),
                (SegmentValue::Exact(k + 1), v),
            ],
            color.filled(),
        );
        bar.set_margin(0, 0, 6, 6);
        bar
    }))?;
    Ok(())
}
