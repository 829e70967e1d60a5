//! The semantic tier of llm-security: a small sentence-embedding model run on the CPU, inside
//! the process, offline, and a classifier over its embeddings.
//!
//! Phrase rules and hashed n-gram models catch what they have seen; a paraphrase slips past
//! them. A sentence encoder maps texts with the same meaning close together, so a classifier
//! over its embeddings recognizes "disregard what you were told before" even when it only ever
//! saw "ignore previous instructions". It costs milliseconds instead of microseconds, so the
//! engine consults it only for inputs the fast tier is unsure about (see `llm-security-core`'s
//! `semantic` feature).
//!
//! - [`Encoder`] loads `all-MiniLM-L6-v2` (a BERT-family model, Apache-2.0) from a local folder
//!   holding `config.json`, `tokenizer.json` and `model.safetensors`. Nothing is downloaded; a
//!   missing or malformed folder is a clear [`SemanticError`].
//! - [`Head`] is a logistic regression over the 384-dimensional embedding, trained by
//!   `llm-security train --semantic` and shipped in this crate ([`Head::shipped`]).
//! - [`SemanticModel`] puts the two together: [`SemanticModel::score`] gives the probability
//!   that a text is an attack, taking the highest score over windows of a long text.

mod encoder;
mod error;
mod head;

pub use encoder::{DIM, Embedding, Encoder, EncoderLimits, Window};
pub use error::SemanticError;
pub use head::{Head, TrainOptions};

use std::path::Path;

/// An encoder with its classification head: the whole semantic tier.
#[derive(Debug)]
pub struct SemanticModel {
    encoder: Encoder,
    head: Head,
}

impl SemanticModel {
    /// Loads the encoder from `dir` and pairs it with the shipped head.
    ///
    /// # Errors
    /// When the folder is missing, incomplete or holds another kind of model.
    pub fn load(dir: &Path) -> Result<Self, SemanticError> {
        Ok(Self::new(Encoder::load(dir)?, Head::shipped()?))
    }

    /// Pairs an encoder with a head.
    #[must_use]
    pub fn new(encoder: Encoder, head: Head) -> Self {
        Self { encoder, head }
    }

    /// The encoder.
    #[must_use]
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The head.
    #[must_use]
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The probability, in `[0, 1]`, that `text` is a prompt injection or jailbreak, from the
    /// most suspicious of its windows (see [`Encoder::windows`]), and where that window is.
    ///
    /// # Errors
    /// When the tokenizer or the model fails on this input.
    pub fn score(&self, text: &str) -> Result<Verdict, SemanticError> {
        let windows = self.encoder.windows(text)?;
        let tokens: Vec<Vec<u32>> = windows.iter().map(|w| w.tokens.clone()).collect();
        let embeddings = self.encoder.embed_tokens(&tokens)?;
        let mut best = Verdict {
            probability: 0.0,
            start: 0,
            end: text.len(),
        };
        for (w, e) in windows.iter().zip(&embeddings) {
            let p = self.head.probability(e);
            if p > best.probability {
                best = Verdict {
                    probability: p,
                    start: w.start,
                    end: w.end,
                };
            }
        }
        Ok(best)
    }
}

/// What the semantic tier says about one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The probability that the text is an attack, from its most suspicious window.
    pub probability: f32,
    /// First byte of that window in the text.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}
