//! The figures: the loss curves of both models, and the test digits the CNN gets wrong.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::data::SIDE;
use crate::support::figure;

/// One model's mean cross-entropy on the training and the test digits after each epoch.
pub struct Curve {
    pub name: &'static str,
    pub train: Vec<f64>,
    pub test: Vec<f64>,
}

/// Draws both models' curves (training solid, test dashed) to `path`.
pub fn loss_curves(path: &Path, curves: &[Curve]) -> Result<(), Box<dyn Error>> {
    figure::use_embedded_font()?;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let epochs = curves.iter().map(|c| c.train.len()).max().unwrap_or(1);
    let values = curves.iter().flat_map(|c| c.train.iter().chain(&c.test));
    let top = values.copied().fold(0.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Digits (8×8, UCI): cross-entropy per epoch",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1..epochs.max(2), 0.0..top.max(1e-3))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("mean cross-entropy (nats)")
        .draw()?;
    for (curve, color) in curves.iter().zip([BLUE, RED]) {
        let points = |v: &[f64]| {
            v.iter()
                .enumerate()
                .map(|(i, &l)| (i + 1, l))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(LineSeries::new(points(&curve.train), color.stroke_width(2)))?
            .label(format!("{}, training", curve.name))
            .legend(figure::legend_line(color.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(
                points(&curve.test),
                6,
                4,
                color.stroke_width(2),
            ))?
            .label(format!("{}, test", curve.name))
            .legend(figure::legend_line(color.stroke_width(1)));
    }
    figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

/// A test digit the CNN got wrong: its pixels (0–1), its label and the CNN's guess.
pub struct Mistake {
    pub pixels: [f32; SIDE * SIDE],
    pub label: i64,
    pub guess: i64,
}

/// Draws `mistakes` in a grid of 8 per row to `path`, each captioned "label → guess".
pub fn mistakes_grid(path: &Path, mistakes: &[Mistake]) -> Result<(), Box<dyn Error>> {
    figure::use_embedded_font()?;
    const PER_ROW: usize = 8;
    const CELL: i32 = 10;
    const TILE: i32 = CELL * SIDE as i32;
    let (pad, caption) = (12, 18);
    let rows = mistakes.len().div_ceil(PER_ROW).max(1);
    let width = PER_ROW as i32 * (TILE + pad) + pad;
    let height = 40 + rows as i32 * (TILE + caption + pad) + pad;
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "Test digits the CNN gets wrong ({}): label → guess",
        mistakes.len()
    );
    root.draw(&Text::new(title, (pad, 12), ("sans-serif", 18)))?;
    for (n, m) in mistakes.iter().enumerate() {
        let x0 = pad + (n % PER_ROW) as i32 * (TILE + pad);
        let y0 = 40 + (n / PER_ROW) as i32 * (TILE + caption + pad);
        for (p, &v) in m.pixels.iter().enumerate() {
            let (r, c) = ((p / SIDE) as i32, (p % SIDE) as i32);
            // Ink dark on white, as the digits were written.
            let shade = (255.0 * (1.0 - v)).round().clamp(0.0, 255.0) as u8;
            let cell = [
                (x0 + c * CELL, y0 + r * CELL),
                (x0 + (c + 1) * CELL, y0 + (r + 1) * CELL),
            ];
            root.draw(&Rectangle::new(
                cell,
                RGBColor(shade, shade, shade).filled(),
            ))?;
        }
        root.draw(&Rectangle::new([(x0, y0), (x0 + TILE, y0 + TILE)], BLACK))?;
        let text = format!("{} → {}", m.label, m.guess);
        root.draw(&Text::new(
            text,
            (x0 + 14, y0 + TILE + 3),
            ("sans-serif", 14),
        ))?;
    }
    root.present()?;
    Ok(())
}
