//! cargo-fuzz target for `llm_security_fuzz::server_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::server_config(data));
