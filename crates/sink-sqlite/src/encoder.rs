//! Column values.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 UTC with microseconds: text order is time order.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `v` as a JSON string.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
