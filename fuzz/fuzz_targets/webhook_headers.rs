//! cargo-fuzz target for `llm_security_fuzz::webhook_headers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::webhook_headers(data));
