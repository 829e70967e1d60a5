//! Integration tests of llm-security-core, linked into one binary.

// Every built-in rule against its own positive and negative examples.
mod rules;
// The engine's contract: verdicts, spans, limits, configuration switches, hostile input.
mod engine;
// The pipeline: batching, retries, recovery, drops, flush and shutdown.
mod pipeline;
// Built-in sinks and the event wire format.
mod events;
// Output validation: corpus, streaming at every split, redaction properties.
mod output;
// Unicode attacks: the data-driven corpus and sanitize properties.
mod unicode;
// The semantic tier in the cascade (feature `semantic`, real model).
#[cfg(feature = "semantic")]
mod semantic;
