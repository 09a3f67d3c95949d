//! The loss curves as an SVG figure.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::support::figure;

/// The mean squared error at the start and after each epoch: on the training set (after an
/// epoch, the mean of its batches' losses, each taken before its step), on the test set, and
/// the test MSE of the rule that made the data.
pub struct Curves {
    /// One value per epoch, the first before any training.
    pub train: Vec<f64>,
    /// One value per epoch, the first before any training.
    pub test: Vec<f64>,
    /// The floor: no model of this data should beat it by more than chance.
    pub rule: f64,
}

/// Draws the train and test curves, and the rule's MSE as a dashed line, to `path`.
pub fn loss_curves(path: &Path, curves: &Curves) -> Result<(), Box<dyn Error>> {
    figure::use_embedded_font()?;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = curves
        .train
        .iter()
        .chain(&curves.test)
        .cloned()
        .fold(0.0, f64::max)
        * 1.05;
    let epochs = curves.train.len() - 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Lung-disease network: mean squared error per epoch",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..epochs.max(1), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("MSE")
        .draw()?;
    let series = [
        (
            &curves.train,
            BLUE,
            "train (its batches, each before its step)",
        ),
        (&curves.test, RED, "test"),
    ];
    for (values, color, label) in series {
        chart
            .draw_series(LineSeries::new(
                values.iter().copied().enumerate(),
                color.stroke_width(2),
            ))?
            .label(label)
            .legend(figure::legend_line(color.stroke_width(2)));
    }
    let floor = [(0, curves.rule), (epochs.max(1), curves.rule)];
    chart
        .draw_series(DashedLineSeries::new(floor, 6, 4, BLACK.stroke_width(1)))?
        .label("test MSE of the rule that made the data")
        .legend(figure::legend_line(BLACK.stroke_width(1)));
    figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}
