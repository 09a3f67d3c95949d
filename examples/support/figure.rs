//! The look the examples' plots share: an embedded font, and the same legend.

use std::error::Error;

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

/// Registers the embedded DejaVu Sans as the "sans-serif" family, so text is measured and drawn
/// with a font of our own: no system font library is needed.
pub fn use_embedded_font() -> Result<(), Box<dyn Error>> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the embedded DejaVu Sans font did not load".into())
}

/// A series' mark in the legend: a short line in the series' style, from the point plotters
/// gives in backend pixels.
pub fn legend_line(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style)
}

/// Draws the legend of the labelled series at `position`, framed, on a mostly opaque white
/// box so that it stays readable over the curves.
pub fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), Box<dyn Error>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
