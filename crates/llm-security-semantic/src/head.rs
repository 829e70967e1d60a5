//! The classification head: logistic regression over the sentence embedding.

use serde::{Deserialize, Serialize};

use crate::{DIM, SemanticError};

/// The head shipped with this crate, trained by `llm-security train --semantic`.
const SHIPPED: &str = include_str!("../model/head.json");

/// Name of the encoder a head was trained for; a head is only meaningful on its own encoder.
const ENCODER: &str = "all-MiniLM-L6-v2";

/// Logistic regression from an embedding to the probability of an attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// The encoder whose embeddings the head reads.
    encoder: String,
    /// One weight per embedding dimension.
    weights: Vec<f32>,
    /// The intercept, including the prior shift.
    bias: f32,
    /// Where the weights came from (sources and licences), for the model card.
    #[serde(default)]
    trained_on: Vec<String>,
}

/// Settings of [`Head::train`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Full-batch gradient steps.
    pub steps: usize,
    /// Step size.
    pub learning_rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
    /// Prior probability of an attack assumed after training on balanced classes; the bias is
    /// moved so that a text with no evidence scores this.
    pub attack_prior: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            steps: 400,
            learning_rate: 2.0,
            l2: 1e-4,
            // Chosen with whole sources held out: the prior table of docs/semantic-eval.md.
            attack_prior: 0.02,
        }
    }
}

impl Head {
    /// The head shipped with the crate.
    ///
    /// # Errors
    /// Only if the shipped file is damaged (a build problem, caught by the tests).
    pub fn shipped() -> Result<Self, SemanticError> {
        Self::from_json(SHIPPED)
    }

    /// Reads a head written by [`Head::to_json`].
    ///
    /// # Errors
    /// [`SemanticError::BadHead`] when the text is not a head for this encoder.
    pub fn from_json(text: &str) -> Result<Self, SemanticError> {
        let head: Self =
            serde_json::from_str(text).map_err(|e| SemanticError::BadHead(e.to_string()))?;
        if head.encoder != ENCODER {
            return Err(SemanticError::BadHead(format!(
                "trained for encoder {:?}, not {ENCODER}",
                head.encoder
            )));
        }
        if head.weights.len() != DIM || !head.weights.iter().all(|w| w.is_finite()) {
            return Err(SemanticError::BadHead(format!(
                "expected {DIM} finite weights, found {}",
                head.weights.len()
            )));
        }
        if !head.bias.is_finite() {
            return Err(SemanticError::BadHead("the bias is not finite".to_owned()));
        }
        Ok(head)
    }

    /// The head as pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Sources and licences the head was trained on.
    #[must_use]
    pub fn trained_on(&self) -> &[String] {
        &self.trained_on
    }

    /// Records where the training rows came from.
    #[must_use]
    pub fn with_trained_on(mut self, trained_on: Vec<String>) -> Self {
        self.trained_on = trained_on;
        self
    }

    /// The probability that the text behind `embedding` is an attack.
    #[must_use]
    pub fn probability(&self, embedding: &[f32]) -> f32 {
        sigmoid(self.logit(embedding))
    }

    fn logit(&self, embedding: &[f32]) -> f32 {
        self.bias
            + self
                .weights
                .iter()
                .zip(embedding)
                .map(|(w, x)| w * x)
                .sum::<f32>()
    }

    /// Fits a head to `(embedding, is_attack)` examples with class-balanced weights, then moves
    /// the bias to the prior of [`TrainOptions::attack_prior`]. Deterministic: the same
    /// examples give the same head.
    #[must_use]
    pub fn train(examples: &[(Embedding, bool)], options: TrainOptions) -> Self {
        let attacks = examples.iter().filter(|e| e.1).count().max(1) as f32;
        let benign = examples.iter().filter(|e| !e.1).count().max(1) as f32;
        let n = examples.len().max(1) as f32;
        let weight_of = |attack: bool| {
            if attack {
                n / (2.0 * attacks)
            } else {
                n / (2.0 * benign)
            }
        };
        let mut head = Self {
            encoder: ENCODER.to_owned(),
            weights: vec![0.0; DIM],
            bias: 0.0,
            trained_on: Vec::new(),
        };
        // Full-batch gradient descent with Nesterov momentum: the loss is convex and the data
        // small, so this converges without tuning per run.
        let mut velocity = vec![0.0f32; DIM + 1];
        let momentum = 0.9f32;
        for _ in 0..options.steps {
            let mut look = head.clone();
            for (w, v) in look.weights.iter_mut().zip(&velocity) {
                *w += momentum * v;
            }
            look.bias += momentum * velocity[DIM];
            let mut grad = vec![0.0f32; DIM + 1];
            for (x, attack) in examples {
                let g = (look.probability(x) - f32::from(u8::from(*attack))) * weight_of(*attack);
                for (gi, xi) in grad.iter_mut().zip(x) {
                    *gi += g * xi;
                }
                grad[DIM] += g;
            }
            for (i, gi) in grad.iter_mut().enumerate() {
                *gi /= n;
                if i < DIM {
                    *gi += options.l2 * look.weights[i];
                }
            }
            for (i, v) in velocity.iter_mut().enumerate() {
                *v = momentum * *v - options.learning_rate * grad[i];
                if i < DIM {
                    head.weights[i] += *v;
                } else {
                    head.bias += *v;
                }
            }
        }
        let prior = options.attack_prior.clamp(1e-4, 1.0 - 1e-4);
        head.bias += (prior / (1.0 - prior)).ln();
        head
    }
}

use crate::Embedding;

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}
