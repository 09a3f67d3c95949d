//! The text: its characters as ids, the split into training and validation text, random
//! windows for training, and the count-based bigram model that is the baseline.

use std::error::Error;

use rand::RngExt;
use rand::rngs::StdRng;
use surefire::prelude::*;

/// The characters of a text, numbered in their sorted order.
pub struct Vocabulary {
    chars: Vec<char>,
}

impl Vocabulary {
    /// The distinct characters of `text`.
    pub fn of(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocabulary { chars }
    }

    /// The characters as one string, in id order: how a checkpoint stores the vocabulary.
    pub fn to_text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The vocabulary a checkpoint stored with [`to_text`](Vocabulary::to_text).
    pub fn from_text(text: &str) -> Result<Self, Box<dyn Error>> {
        let vocabulary = Vocabulary::of(text);
        if vocabulary.len() != text.chars().count() {
            return Err("the stored vocabulary repeats a character".into());
        }
        Ok(vocabulary)
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// The id of every character of `text`; an error names the first one not in the
    /// vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, Box<dyn Error>> {
        text.chars()
            .map(|c| match self.chars.binary_search(&c) {
                Ok(id) => Ok(id as i64),
                Err(_) => Err(format!("the character {c:?} is not in the vocabulary").into()),
            })
            .collect()
    }

    /// The character of `id`.
    pub fn char(&self, id: i64) -> char {
        self.chars[id as usize]
    }
}

/// A text as ids, cut into its first 90% for training and the rest for validation (the split
/// of the usual tiny Shakespeare experiments).
pub struct Corpus {
    pub vocabulary: Vocabulary,
    pub train: Vec<i64>,
    pub validation: Vec<i64>,
}

impl Corpus {
    /// Reads `text`; `context` is the window length, which both parts must exceed.
    pub fn new(text: &str, context: usize) -> Result<Self, Box<dyn Error>> {
        let vocabulary = Vocabulary::of(text);
        let ids = vocabulary.encode(text)?;
        let cut = ids.len() * 9 / 10;
        let (train, validation) = (ids[..cut].to_vec(), ids[cut..].to_vec());
        if validation.len() <= context {
            return Err(format!(
                "the text has {} characters: too few for windows of {context}",
                ids.len()
            )
            .into());
        }
        Ok(Corpus {
            vocabulary,
            train,
            validation,
        })
    }
}

/// `batch` windows of `context` ids starting at random places of `ids`, and the ids that
/// follow each one: inputs and targets, both `[batch, context]`.
pub fn random_batch(
    ids: &[i64],
    batch: usize,
    context: usize,
    rng: &mut StdRng,
) -> Result<(Tensor<i64>, Tensor<i64>), Box<dyn Error>> {
    let starts: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(0..ids.len() - context))
        .collect();
    windows(ids, &starts, context)
}

/// The windows of `context` ids at `starts` and their targets, each `[starts.len(), context]`.
pub fn windows(
    ids: &[i64],
    starts: &[usize],
    context: usize,
) -> Result<(Tensor<i64>, Tensor<i64>), Box<dyn Error>> {
    let take = |shift: usize| {
        let data = starts
            .iter()
            .flat_map(|&s| ids[s + shift..s + shift + context].iter().copied())
            .collect();
        Tensor::from_vec(data, &[starts.len(), context])
    };
    Ok((take(0)?, take(1)?))
}

/// The count-based bigram model: the chance of each character after each other, from the
/// pair counts of the training text with one added to every count (Laplace smoothing), so
/// that no pair unseen in training has chance 0.
pub struct Bigram {
    /// `log P(next | previous)`, row `previous`.
    log_probs: Vec<Vec<f64>>,
}

impl Bigram {
    /// Counts the pairs of `ids`.
    pub fn fit(ids: &[i64], vocabulary: usize) -> Self {
        let mut counts = vec![vec![1.0f64; vocabulary]; vocabulary];
        for pair in ids.windows(2) {
            counts[pair[0] as usize][pair[1] as usize] += 1.0;
        }
        let log_probs = counts
            .into_iter()
            .map(|row| {
                let total: f64 = row.iter().sum();
                row.into_iter().map(|c| (c / total).ln()).collect()
            })
            .collect();
        Bigram { log_probs }
    }

    /// The mean negative log-likelihood of every character of `ids` after its predecessor,
    /// in nats per character.
    pub fn loss(&self, ids: &[i64]) -> f64 {
        let total: f64 = ids
            .windows(2)
            .map(|pair| -self.log_probs[pair[0] as usize][pair[1] as usize])
            .sum();
        total / (ids.len() - 1) as f64
    }
}
