//! cargo-fuzz target for `llm_security_fuzz::analyze`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::analyze(data));
