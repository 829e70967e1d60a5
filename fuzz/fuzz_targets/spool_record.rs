//! cargo-fuzz target for `llm_security_fuzz::spool_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| llm_security_fuzz::spool_record(data));
