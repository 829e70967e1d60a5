//! Output validation beyond the rule packs: personal data with checksums, exfiltration links,
//! system-prompt leaks, high-entropy secrets assigned to secret-looking names, and awareness
//! of fenced code blocks. Streaming lives in [`stream`].

mod exfil;
mod fences;
mod generic;
mod leak;
mod pii;
pub(crate) mod stream;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) use fences::fenced_ranges;
pub use leak::SystemPrompt;
pub(crate) use leak::{CanaryKey, canary_threats};

use crate::threat::Threat;

/// Which kinds of personal data output validation reports. All on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiConfig {
    /// E-mail addresses (reserved example/test domains excepted).
    pub email: bool,
    /// Phone numbers in E.164 and common national formats.
    pub phone: bool,
    /// Payment card numbers that pass the Luhn check and have a known issuer prefix.
    pub payment_card: bool,
    /// IBANs that pass the ISO 13616 mod-97 check.
    pub iban: bool,
    /// US social security numbers in valid ranges (dashed or spaced).
    pub us_ssn: bool,
    /// Public IPv4 and IPv6 addresses (private, loopback and documentation ranges excepted).
    pub ip_address: bool,
}

impl Default for PiiConfig {
    fn default() -> Self {
        Self {
            email: true,
            phone: true,
            payment_card: true,
            iban: true,
            us_ssn: true,
            ip_address: true,
        }
    }
}

impl PiiConfig {
    /// No personal data checks.
    pub fn none() -> Self {
        Self {
            email: false,
            phone: false,
            payment_card: false,
            iban: false,
            us_ssn: false,
            ip_address: false,
        }
    }
}

/// Output validation settings (part of [`SecurityConfig`](crate::SecurityConfig)).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Provider-specific and generic secret detection.
    pub secrets: bool,
    /// Which personal data to report.
    pub pii: PiiConfig,
    /// Links, images and embeds that send data to third parties.
    pub exfiltration: bool,
    /// Domains that links and images may point to (a domain allows its subdomains). Everything
    /// else counts as outside.
    pub allowed_domains: Vec<String>,
    /// HTML/JS that runs when rendered (outside fenced code blocks).
    pub script_injection: bool,
    /// ANSI/OSC escape sequences.
    pub terminal_injection: bool,
    /// Secret used to sign and verify canary tokens. Set the same value on every instance that
    /// must recognize each other's canaries; when absent, each engine draws a random one.
    /// Never logged.
    pub canary_secret: Option<String>,
}

impl std::fmt::Debug for OutputConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputConfig")
            .field("secrets", &self.secrets)
            .field("pii", &self.pii)
            .field("exfiltration", &self.exfiltration)
            .field("allowed_domains", &self.allowed_domains)
            .field("script_injection", &self.script_injection)
            .field("terminal_injection", &self.terminal_injection)
            .field(
                "canary_secret",
                &self.canary_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            secrets: true,
            pii: PiiConfig::default(),
            exfiltration: true,
            allowed_domains: Vec::new(),
            script_injection: true,
            terminal_injection: true,
            canary_secret: None,
        }
    }
}

/// Per-request context for output validation.
#[derive(Debug, Clone, Default)]
pub struct OutputContext {
    pub(crate) system_prompt: Option<Arc<SystemPrompt>>,
}

impl OutputContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Flags outputs that reproduce a significant part of this system prompt.
    pub fn with_system_prompt(mut self, prompt: Arc<SystemPrompt>) -> Self {
        self.system_prompt = Some(prompt);
        self
    }
}

/// Runs the code-based output checks (everything except the rule packs and canaries).
pub(crate) fn scan(
    text: &str,
    view: &crate::detect::View<'_>,
    config: &OutputConfig,
    ctx: &OutputContext,
) -> Vec<Threat> {
    let mut threats = Vec::new();
    if config.secrets {
        threats.extend(generic::scan(text));
    }
    threats.extend(pii::scan(text, &config.pii));
    if config.exfiltration {
        threats.extend(exfil::scan(text, &config.allowed_domains));
    }
    if let Some(prompt) = &ctx.system_prompt {
        threats.extend(prompt.scan(view));
    }
    threats
}
