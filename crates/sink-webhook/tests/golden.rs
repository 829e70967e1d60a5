//! The payload and signature of a fixed event never change by accident.

use llm_security_sink_webhook::{Secret, encode, sign};
use llm_security_testkit::{assert_golden, canonical_json, sample_event};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[test]
fn payload_and_signature() {
    let body = encode(&sample_event(0));
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_golden(
        format!("{FIXTURES}/payload.json"),
        &canonical_json(&payload),
    );
    // The signature covers the exact bytes sent; the payload is a struct, so its field order does
    // not depend on serde_json features.
    let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let signature = sign(
        &[secret],
        "msg_019000000000700080000000000000000",
        1_764_158_400,
        &body,
    );
    assert_golden(
        format!("{FIXTURES}/signature.txt"),
        &format!("{signature}\n"),
    );
}
