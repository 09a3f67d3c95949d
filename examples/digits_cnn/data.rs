//! The digits: parsing the CSV, the seeded split, and the tensors the models read.

use std::error::Error;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use surefire::prelude::*;

/// Pixels per side of a digit.
pub const SIDE: usize = 8;

/// The brightest pixel value in the data.
const WHITE: f32 = 16.0;

/// Digits as pixel rows (each `SIDE · SIDE` values in 0–1) and their labels 0–9.
pub struct Digits {
    pub pixels: Vec<[f32; SIDE * SIDE]>,
    pub labels: Vec<i64>,
}

impl Digits {
    /// Reads the CSV: 64 pixel values from 0 to 16, then the digit, per line, no header.
    pub fn read(path: &Path) -> Result<Self, Box<dyn Error>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the digits from {}: {e}", path.display()))?;
        let mut digits = Digits {
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let fail = |why: String| format!("{} line {}: {why}", path.display(), n + 1);
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != SIDE * SIDE + 1 {
                return Err(fail(format!("{} fields, expected 65", fields.len())).into());
            }
            let mut pixels = [0.0f32; SIDE * SIDE];
            for (p, field) in pixels.iter_mut().zip(&fields) {
                let v: f32 = field
                    .parse()
                    .map_err(|_| fail(format!("pixel {field:?} is not a number")))?;
                if !(0.0..=WHITE).contains(&v) {
                    return Err(fail(format!("pixel {v} is outside 0–16")).into());
                }
                *p = v / WHITE;
            }
            let label: i64 = fields[SIDE * SIDE]
                .parse()
                .ok()
                .filter(|d| (0..10).contains(d))
                .ok_or_else(|| fail(format!("label {:?} is not a digit", fields[64])))?;
            digits.pixels.push(pixels);
            digits.labels.push(label);
        }
        if digits.labels.is_empty() {
            return Err(format!("{} holds no digits", path.display()).into());
        }
        Ok(digits)
    }

    /// A seeded shuffle cut into the first `train` share for training and the rest for
    /// testing.
    pub fn split(&self, train: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let cut = (order.len() as f64 * train).round() as usize;
        let test = order.split_off(cut);
        (order, test)
    }

    /// The digits at `rows` as images `[n, 1, 8, 8]` and their labels `[n]`.
    pub fn tensors(&self, rows: &[usize]) -> Result<(Tensor, Tensor<i64>), Box<dyn Error>> {
        let pixels: Vec<f32> = rows.iter().flat_map(|&r| self.pixels[r]).collect();
        let labels: Vec<i64> = rows.iter().map(|&r| self.labels[r]).collect();
        Ok((
            Tensor::from_vec(pixels, &[rows.len(), 1, SIDE, SIDE])?,
            Tensor::from_vec(labels, &[rows.len()])?,
        ))
    }
}
