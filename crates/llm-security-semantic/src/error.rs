//! Errors of the semantic tier.

use std::path::PathBuf;

/// What can go wrong loading or running the semantic tier.
#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    /// A file the model folder must hold is not there.
    #[error(
        "semantic model folder {dir}: {file} is missing (expected all-MiniLM-L6-v2: config.json, tokenizer.json, model.safetensors)"
    )]
    MissingFile {
        /// The folder.
        dir: PathBuf,
        /// The missing file's name.
        file: &'static str,
    },
    /// A file is there but is not what the encoder needs.
    #[error("semantic model folder {dir}: {file} is not usable: {reason}")]
    BadModel {
        /// The folder.
        dir: PathBuf,
        /// The file's name.
        file: &'static str,
        /// Why.
        reason: String,
    },
    /// A classification head could not be read.
    #[error("semantic head: {0}")]
    BadHead(String),
    /// The tokenizer failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The model failed while running.
    #[error("encoder: {0}")]
    Inference(#[from] candle_core::Error),
}
