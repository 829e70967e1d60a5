//! Golden files for the ECS document and the `_bulk` body.

use llm_security_sink_elastic::{bulk_body, ecs_document};
use llm_security_testkit::{assert_golden, canonical_json, canonical_ndjson, sample_event};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[test]
fn ecs_document_and_bulk_body() {
    let doc = canonical_json(&ecs_document(&sample_event(0)));
    assert_golden(format!("{FIXTURES}/ecs_threat.json"), &doc);
    let (a, b) = (sample_event(0), sample_event(1));
    let body = String::from_utf8(bulk_body("logs-llmsec.detections-default", &[&a, &b])).unwrap();
    assert!(body.ends_with('\n'), "_bulk bodies end with a newline");
    assert_golden(format!("{FIXTURES}/bulk.ndjson"), &canonical_ndjson(&body));
}
