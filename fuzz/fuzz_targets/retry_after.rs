//! cargo-fuzz target for `llm_security_fuzz::retry_after`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::retry_after(data));
