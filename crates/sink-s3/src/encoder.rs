//! Object keys and bodies.

use std::collections::BTreeMap;
use std::io::Write as _;

use llm_security_core::SecurityEvent;

/// One object: its key and body (before compression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key.
    pub key: String,
    /// Newline-delimited JSON of the events.
    pub ndjson: Vec<u8>,
}

/// The objects for `events`: one per hour, keyed by the hour's first event id and count.
pub fn objects(prefix: &str, events: &[&SecurityEvent], gzip: bool) -> Vec<Object> {
    let mut by_hour: BTreeMap<String, Vec<&SecurityEvent>> = BTreeMap::new();
    for e in events {
        by_hour
            .entry(e.timestamp.format("dt=%Y-%m-%d/hour=%H").to_string())
            .or_default()
            .push(e);
    }
    by_hour
        .into_iter()
        .map(|(partition, group)| {
            let mut ndjson = Vec::with_capacity(group.len() * 1024);
            for e in &group {
                if serde_json::to_writer(&mut ndjson, e).is_ok() {
                    ndjson.push(b'\n');
                }
            }
            let extension = if gzip { "ndjson.gz" } else { "ndjson" };
            Object {
                key: format!(
                    "{prefix}/{partition}/{}-{}.{extension}",
                    group[0].id,
                    group.len()
                ),
                ndjson,
            }
        })
        .collect()
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
