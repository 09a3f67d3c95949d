//! The loss curves as an SVG figure.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::support::figure;

/// The estimated losses at each evaluation step, and the bigram model's validation loss.
pub struct Curves {
    /// `(step, training loss, validation loss)`, in nats per character.
    pub points: Vec<(usize, f64, f64)>,
    /// The bigram model's validation loss.
    pub bigram: f64,
}

/// Draws the training and validation curves, and the bigram baseline dashed, to `path`.
pub fn loss_curves(path: &Path, curves: &Curves) -> Result<(), Box<dyn Error>> {
    figure::use_embedded_font()?;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let values = curves.points.iter().flat_map(|&(_, t, v)| [t, v]);
    let top = values.chain([curves.bigram]).fold(0.0, f64::max) * 1.05;
    let last = curves.points.last().map_or(1, |p| p.0.max(1));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Character transformer on tiny Shakespeare: loss per character",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("nats per character")
        .draw()?;
    let training: Vec<(usize, f64)> = curves.points.iter().map(|p| (p.0, p.1)).collect();
    let validation: Vec<(usize, f64)> = curves.points.iter().map(|p| (p.0, p.2)).collect();
    let series = [
        (
            "training (mean of the batches since the last point)",
            BLUE,
            training,
        ),
        ("validation", RED, validation),
    ];
    for (label, color, points) in series {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(figure::legend_line(color.stroke_width(2)));
    }
    let floor = [(0, curves.bigram), (last, curves.bigram)];
    chart
        .draw_series(DashedLineSeries::new(floor, 6, 4, BLACK.stroke_width(1)))?
        .label("bigram counts, validation")
        .legend(figure::legend_line(BLACK.stroke_width(1)));
    figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}
