//! The data: a synthetic cohort drawn from a documented rule, its 80/20 split, and the
//! standardisation of its features.

use std::error::Error;

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use surefire::prelude::*;

/// One person of the synthetic cohort.
#[derive(Clone, Copy, Debug)]
pub struct Person {
    /// Years, 18 to 90.
    pub age: f64,
    /// Cigarettes a day: 0 for the 55% who never smoked, else 1 to 40.
    pub smoking: f64,
    /// Air pollution of the area of residence, 0 (clean countryside) to 10 (a heavily
    /// polluted city).
    pub area: f64,
    /// 1 if a parent or sibling had lung disease (20% of people), else 0.
    pub history: f64,
}

impl Person {
    /// The ground truth: a logistic rule,
    /// `P(disease) = sigmoid(-8 + 0.07 age + 0.1 smoking + 0.3 area + 1.8 history)`.
    pub fn true_chance(&self) -> f64 {
        let logit =
            -8.0 + 0.07 * self.age + 0.1 * self.smoking + 0.3 * self.area + 1.8 * self.history;
        1.0 / (1.0 + (-logit).exp())
    }

    /// Someone drawn from the cohort's population (the ranges on the fields).
    fn random(rng: &mut StdRng) -> Self {
        let smoker = rng.random::<f64>() < 0.45;
        Person {
            age: rng.random_range(18.0..90.0),
            smoking: if smoker {
                rng.random_range(1.0f64..40.0).round()
            } else {
                0.0
            },
            area: rng.random_range(0.0..10.0),
            history: f64::from(u8::from(rng.random::<f64>() < 0.2)),
        }
    }

    /// The inputs in the network's order: age, smoking, area, history.
    fn features(&self) -> [f64; 4] {
        [self.age, self.smoking, self.area, self.history]
    }
}

/// A cohort in a random order, the first 80% for training and the rest for testing.
pub struct Cohort {
    people: Vec<Person>,
    /// Whether each person has the disease.
    sick: Vec<bool>,
    n_train: usize,
}

impl Cohort {
    /// `n` people, shuffled, each one's disease a coin flip with the rule's chance.
    pub fn draw(n: usize, rng: &mut StdRng) -> Self {
        let mut people: Vec<Person> = (0..n).map(|_| Person::random(rng)).collect();
        people.shuffle(rng);
        let sick = people
            .iter()
            .map(|p| rng.random::<f64>() < p.true_chance())
            .collect();
        Cohort {
            people,
            sick,
            n_train: n * 4 / 5,
        }
    }

    /// The training people and whether each is sick.
    pub fn train(&self) -> (&[Person], &[bool]) {
        (&self.people[..self.n_train], &self.sick[..self.n_train])
    }

    /// The test people and whether each is sick.
    pub fn test(&self) -> (&[Person], &[bool]) {
        (&self.people[self.n_train..], &self.sick[self.n_train..])
    }

    /// The fraction of the whole cohort with the disease.
    pub fn prevalence(&self) -> f64 {
        self.sick.iter().filter(|&&s| s).count() as f64 / self.sick.len() as f64
    }
}

/// The labels `[n, 1]`: 1 for sick, 0 for healthy.
pub fn labels(sick: &[bool]) -> Result<Tensor, TensorError> {
    Tensor::from_vec(
        sick.iter().map(|&s| f32::from(u8::from(s))).collect(),
        &[sick.len(), 1],
    )
}

/// Feature means and standard deviations of the training rows.
pub struct Scaler {
    mean: [f64; 4],
    /// Per feature; the report divides by it to turn slopes per standard deviation into
    /// slopes per raw unit.
    pub std: [f64; 4],
}

impl Scaler {
    /// The statistics of `people` (the training rows only: the test rows must not leak in).
    pub fn fit(people: &[Person]) -> Self {
        let n = people.len() as f64;
        let mut mean = [0.0; 4];
        let mut std = [0.0; 4];
        for j in 0..4 {
            mean[j] = people.iter().map(|p| p.features()[j]).sum::<f64>() / n;
            std[j] = (people
                .iter()
                .map(|p| (p.features()[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
        }
        Scaler { mean, std }
    }

    /// The standardised feature matrix `[n, 4]`.
    pub fn transform(&self, people: &[Person]) -> Result<Tensor, TensorError> {
        let data = people
            .iter()
            .flat_map(|p| {
                (0..4).map(move |j| ((p.features()[j] - self.mean[j]) / self.std[j]) as f32)
            })
            .collect();
        Tensor::from_vec(data, &[people.len(), 4])
    }

    /// The means and the standard deviations, each as comma-separated text for a checkpoint.
    pub fn to_metadata(&self) -> [String; 2] {
        let join = |v: &[f64; 4]| {
            v.iter()
                .map(|x| format!("{x:e}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        [join(&self.mean), join(&self.std)]
    }

    /// The scaler that [`Scaler::to_metadata`] wrote.
    pub fn from_metadata(mean: &str, std: &str) -> Result<Self, Box<dyn Error>> {
        let parse = |text: &str| -> Result<[f64; 4], Box<dyn Error>> {
            let values: Vec<f64> = text.split(',').map(str::parse).collect::<Result<_, _>>()?;
            values
                .try_into()
                .map_err(|_| "the checkpoint's scaler needs 4 values".into())
        };
        Ok(Scaler {
            mean: parse(mean)?,
            std: parse(std)?,
        })
    }
}
