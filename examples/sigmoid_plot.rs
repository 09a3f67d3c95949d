//! The tutorial's figure: the sigmoid over 200 evenly spaced points in [-10, 10], with its
//! derivative on the same axes, the derivative computed by `backward` (not by the formula).
//! Writes `sigmoid.svg` and `sigmoid.png`.
//!
//! ```sh
//! cargo run --release --example sigmoid_plot -- --out plots
//! ```

mod support;

use std::error::Error;
use std::path::PathBuf;

use plotters::coord::Shift;
use plotters::prelude::*;
use support::figure;
use surefire::prelude::*;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> Result<(), Box<dyn Error>> {
    let out = parse_out_dir()?;
    std::fs::create_dir_all(&out)?;

    // 200 points, and the sigmoid of each.
    let x = Tensor::<f64>::linspace(-10.0, 10.0, 200).require_grad();
    let y = x.sigmoid();
    // An elementwise function has a diagonal Jacobian, so one backward pass seeded with ones
    // gives the derivative at every point.
    let grads = y.backward_with(&Tensor::ones(&[200]));
    let slope = grads.get(&x).ok_or("x is a leaf of the graph")?.to_vec();
    let (xs, ys) = (x.to_vec(), y.to_vec());

    check(&ys, &slope)?;
    let peak = slope.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "sigmoid over {} points in [{}, {}]",
        xs.len(),
        xs[0],
        xs[199]
    );
    println!(
        "  sigmoid(0) = {}, its derivative there (by backward) = {}",
        sigmoid_at_zero().0,
        sigmoid_at_zero().1
    );
    println!(
        "  the curve rises monotonically from {:.3e} to {:.6}",
        ys[0], ys[199]
    );
    println!(
        "  the largest derivative on the grid is {peak:.6} (at x = ±{:.4})",
        xs[100]
    );

    figure::use_embedded_font()?;
    let svg = out.join("sigmoid.svg");
    draw(
        SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area(),
        &xs,
        &ys,
        &slope,
    )?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area(),
        &xs,
        &ys,
        &slope,
    )?;
    let png = out.join("sigmoid.png");
    write_png(&png, &pixels)?;
    println!("wrote {} and {}", svg.display(), png.display());
    Ok(())
}

/// sigmoid(0) and its derivative, both by the library.
fn sigmoid_at_zero() -> (f64, f64) {
    let zero = Tensor::<f64>::scalar(0.0).require_grad();
    let s = zero.sigmoid();
    let slope = s.backward().get(&zero).map_or(f64::NAN, Tensor::item);
    (s.item(), slope)
}

/// The facts the figure shows, checked: sigmoid(0) = 0.5 with derivative 0.25, a monotone
/// curve, and the backward derivative equal to s (1 - s).
fn check(ys: &[f64], slope: &[f64]) -> Result<(), Box<dyn Error>> {
    let (s0, d0) = sigmoid_at_zero();
    if s0 != 0.5 || d0 != 0.25 {
        return Err(
            format!("sigmoid(0) = {s0} with derivative {d0}, expected 0.5 and 0.25").into(),
        );
    }
    if !ys.windows(2).all(|w| w[1] > w[0]) {
        return Err("the sigmoid curve is not increasing".into());
    }
    for (i, (&s, &d)) in ys.iter().zip(slope).enumerate() {
        if (d - s * (1.0 - s)).abs() > 1e-6 {
            return Err(format!(
                "point {i}: backward gives {d}, s (1 - s) is {}",
                s * (1.0 - s)
            )
            .into());
        }
    }
    // The grid straddles 0 symmetrically, so the two middle points hold the peak.
    let peak = slope.iter().cloned().fold(f64::MIN, f64::max);
    if (slope[99] != peak && slope[100] != peak) || peak > 0.25 {
        return Err(format!("the derivative peaks at {peak}, not beside 0 below 0.25").into());
    }
    Ok(())
}

fn draw<DB>(
    root: DrawingArea<DB, Shift>,
    xs: &[f64],
    ys: &[f64],
    slope: &[f64],
) -> Result<(), Box<dyn Error>>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "The sigmoid and its derivative (by backward)",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-10.0..10.0, -0.02..1.02)?;
    chart.configure_mesh().x_desc("x").y_desc("value").draw()?;
    let points = |values: &[f64]| {
        xs.iter()
            .copied()
            .zip(values.iter().copied())
            .collect::<Vec<_>>()
    };
    chart
        .draw_series(LineSeries::new(points(ys), BLUE.stroke_width(2)))?
        .label("sigmoid(x) = 1 / (1 + e^-x)")
        .legend(figure::legend_line(BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(points(slope), RED.stroke_width(2)))?
        .label("d sigmoid / dx, from backward")
        .legend(figure::legend_line(RED.stroke_width(2)));
    figure::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

fn write_png(path: &PathBuf, rgb: &[u8]) -> Result<(), Box<dyn Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(rgb)?;
    Ok(())
}

const USAGE: &str = "\
usage: sigmoid_plot [OPTIONS]

Writes DIR/sigmoid.svg and DIR/sigmoid.png.

options:
  --out DIR    output folder (default: the current folder)
  -h, --help   this text";

/// `--out DIR` (default: the current directory); `--help` prints the usage.
fn parse_out_dir() -> Result<PathBuf, Box<dyn Error>> {
    let mut out = PathBuf::from(".");
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            support::Long("out") => out = args.text()?.into(),
            _ => return Err(support::unexpected(arg)),
        }
    }
    Ok(out)
}
