//! cargo-fuzz target for `llm_security_fuzz::event_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::event_json(data));
