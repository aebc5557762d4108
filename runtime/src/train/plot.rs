//! [`plot_curves`]: PNG line plots of per-epoch series (loss, accuracy).
//!
//! Text is drawn with DejaVu Sans, embedded from `runtime/assets/fonts/` (see its
//! license there), so plots need no system fonts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use thiserror::Error;

/// The embedded font, registered as plotters' `sans-serif`.
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The image size in pixels.
const SIZE: (u32, u32) = (800, 500);

/// One colour per series, cycled.
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A plot could not be drawn or written.
#[derive(Debug, Error)]
pub enum PlotError {
    /// No series has a finite value.
    #[error("{}: nothing to plot (no finite values)", path.display())]
    NoData {
        /// The image's path.
        path: PathBuf,
    },
    /// The embedded font could not be loaded.
    #[error("the embedded plot font is invalid")]
    Font,
    /// Drawing or encoding the image failed.
    #[error("{}: cannot draw the plot: {detail}", path.display())]
    Draw {
        /// The image's path.
        path: PathBuf,
        /// What plotters reported.
        detail: String,
    },
}

/// Draws each `(name, values)` series as a line over epochs `1..=len` with
/// a legend, and writes the plot to `path` as an 800×500 PNG.
///
/// The y axis spans the finite values with a 5% margin; non-finite values
/// are left out.
pub fn plot_curves(
    path: impl AsRef<Path>,
    title: &str,
    series: &[(&str, &[f64])],
    y_label: &str,
) -> Result<(), PlotError> {
    let path = path.as_ref();
    register()?;
    let Some((lo, hi)) = y_range(series) else {
        return Err(PlotError::NoData {
            path: path.to_path_buf(),
        });
    };
    let epochs = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    draw(path, title, series, y_label, epochs, lo..hi).map_err(|e| PlotError::Draw {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Draws the two standard curves of a training run from its log's columns:
/// `loss.png` (`train_loss`) and `accuracy.png` (`train_accuracy`,
/// `test_accuracy`) in `out`, titled after `name`; returns each file's path
/// or why it could not be drawn.
pub fn plot_metrics(
    log: &super::MetricsLog,
    out: &Path,
    name: &str,
) -> Vec<Result<PathBuf, PlotError>> {
    let column = |c| log.column(c).unwrap_or_default();
    let (loss, train, test) = (
        column("train_loss"),
        column("train_accuracy"),
        column("test_accuracy"),
    );
    let loss_series: [(&str, &[f64]); 1] = [("train loss (mean over the epoch)", &loss)];
    let accuracy_series: [(&str, &[f64]); 2] = [("train", &train), ("test", &test)];
    [
        (
            "loss.png",
            format!("{name}: training loss"),
            &loss_series[..],
            "cross-entropy",
        ),
        (
            "accuracy.png",
            format!("{name}: accuracy"),
            &accuracy_series[..],
            "accuracy",
        ),
    ]
    .into_iter()
    .map(|(file, title, series, y_label)| {
        let path = out.join(file);
        plot_curves(&path, &title, series, y_label).map(|()| path)
    })
    .collect()
}

/// Registers the embedded font once per process.
pub(super) fn register() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// The y range covering every finite value, widened by 5% (or by 1 when
/// all values are equal).
fn y_range(series: &[(&str, &[f64])]) -> Option<(f64, f64)> {
    let finite = series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold(None, |acc: Option<(f64, f64)>, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })?;
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    Some((lo - pad, hi + pad))
}

/// The right-hand corner away from the curves' ends: lower right when
/// they end high (accuracy), upper right when they end low (loss).
fn legend_corner(series: &[(&str, &[f64])], y_mid: f64) -> SeriesLabelPosition {
    let ends: Vec<f64> = series
        .iter()
        .filter_map(|(_, v)| v.iter().rev().find(|v| v.is_finite()).copied())
        .collect();
    let mean = ends.iter().sum::<f64>() / ends.len().max(1) as f64;
    if mean > y_mid {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// Draws the chart; errors are plotters' own.
fn draw(
    path: &Path,
    title: &str,
    series: &[(&str, &[f64])],
    y_label: &str,
    epochs: usize,
    y: std::ops::Range<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let last = epochs.max(2) as i32;
    let y_mid = 0.5 * (y.start + y.end);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(1..last, y)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .x_labels(epochs.clamp(2, 20))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(i32, f64)> = (1..)
            .zip(values.iter().copied())
            .filter(|(_, v)| v.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(legend_corner(series, y_mid))
        .draw()?;
    root.present()?;
    Ok(())
}
