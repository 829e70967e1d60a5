//! Engine options shared by every subcommand.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use llm_security::{SecurityConfig, SecurityEngine, Sensitivity};

/// How the engine is configured: a TOML file, then flags on top.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// A TOML file with the engine configuration (`SecurityConfig` fields).
    #[arg(long, env = "LLM_SECURITY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sensitivity preset.
    #[arg(long, value_enum)]
    sensitivity: Option<SensitivityArg>,
    /// Explicit score threshold in (0, 1], overriding the sensitivity.
    #[arg(long)]
    threshold: Option<f32>,
    /// Longest text accepted, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_input_bytes: Option<usize>,
    /// A classifier model file to use instead of the built-in one (from `llm-security train`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// A domain that links and images in model output may point to (repeatable; subdomains
    /// included).
    #[arg(long = "allow-domain", value_name = "DOMAIN")]
    allowed_domains: Vec<String>,
    /// Add the semantic tier: the all-MiniLM-L6-v2 folder (config.json, tokenizer.json,
    /// model.safetensors). Consulted only for inputs the fast tier is unsure about.
    #[cfg(feature = "semantic")]
    #[arg(long, env = "LLM_SECURITY_SEMANTIC_MODEL", value_name = "DIR")]
    semantic_model: Option<PathBuf>,
    /// The lowest fast-tier score that consults the semantic tier.
    #[cfg(feature = "semantic")]
    #[arg(long, value_name = "SCORE", default_value_t = llm_security::Cascade::default().consult_from)]
    consult_from: f32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SensitivityArg {
    Low,
    Balanced,
    Strict,
}

impl EngineArgs {
    /// The configuration the flags describe.
    pub(crate) fn config(&self) -> anyhow::Result<SecurityConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid configuration in {}", path.display()))?
            }
            None => SecurityConfig::new(),
        };
        if let Some(s) = self.sensitivity {
            config = config.with_sensitivity(match s {
                SensitivityArg::Low => Sensitivity::Low,
                SensitivityArg::Balanced => Sensitivity::Balanced,
                SensitivityArg::Strict => Sensitivity::Strict,
            });
        }
        if let Some(t) = self.threshold {
            config = config.with_threshold(t);
        }
        if let Some(max) = self.max_input_bytes {
            config = config.with_max_input_bytes(max);
        }
        if !self.allowed_domains.is_empty() {
            config
                .output
                .allowed_domains
                .extend(self.allowed_domains.iter().cloned());
        }
        Ok(config)
    }

    /// An engine with that configuration.
    pub(crate) fn engine(&self) -> anyhow::Result<SecurityEngine> {
        let engine = SecurityEngine::try_with_config(self.config()?)?;
        #[cfg(feature = "semantic")]
        let engine = match &self.semantic_model {
            None => engine,
            Some(dir) => engine.with_semantic(
                llm_security::semantic::SemanticModel::load(dir)?,
                llm_security::Cascade {
                    consult_from: self.consult_from,
                },
            ),
        };
        Ok(match &self.model {
            None => engine,
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                engine.with_classifier(llm_security::Classifier::from_bytes(&bytes)?)
            }
        })
    }
}
