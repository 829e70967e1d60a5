//! NUL bytes, for stores that cannot hold them.
//!
//! A prompt may carry `\0`, and so may metadata a caller attaches. PostgreSQL refuses it in
//! `text` and `jsonb`; BSON cannot hold it in a key. Refused, it takes its whole batch with it,
//! other users' events included: a cheap way to keep an attack out of the audit trail. Sinks
//! for such stores replace it with [`NUL_STAND_IN`] before writing.

use serde_json::Value;

/// What stands in for NUL: U+FFFD, the Unicode replacement character.
pub const NUL_STAND_IN: char = '\u{FFFD}';

/// Where in a JSON value NUL must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NulIn {
    /// Object keys only, at any depth (BSON).
    Keys,
    /// Object keys and string values, at any depth (PostgreSQL `jsonb`).
    KeysAndStrings,
}

/// `text` with every NUL replaced by [`NUL_STAND_IN`].
pub fn replace_nul(text: &str) -> String {
    text.replace('\0', &NUL_STAND_IN.to_string())
}

/// Whether `value` has a NUL where `scope` says it must not.
pub fn json_has_nul(value: &Value, scope: NulIn) -> bool {
    match value {
        Value::String(s) => scope == NulIn::KeysAndStrings && s.contains('\0'),
        Value::Array(items) => items.iter().any(|v| json_has_nul(v, scope)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || json_has_nul(v, scope)),
        _ => false,
    }
}

/// Replaces every NUL in `value` that `scope` covers with [`NUL_STAND_IN`].
pub fn replace_nul_in_json(value: &mut Value, scope: NulIn) {
    match value {
        Value::String(s) if scope == NulIn::KeysAndStrings && s.contains('\0') => {
            *s = replace_nul(s);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_nul_in_json(v, scope)),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                map.extend(old.into_iter().map(|(k, v)| (replace_nul(&k), v)));
            }
            map.values_mut().for_each(|v| replace_nul_in_json(v, scope));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_becomes_the_replacement_character_where_asked() {
        assert_eq!(replace_nul("a\0b\0"), "a\u{fffd}b\u{fffd}");
        let original = json!({"k\0": ["x\0", {"y\0": "z\0"}], "n": 1});

        let mut keys = original.clone();
        assert!(json_has_nul(&keys, NulIn::Keys));
        replace_nul_in_json(&mut keys, NulIn::Keys);
        assert_eq!(
            keys,
            json!({"k\u{fffd}": ["x\0", {"y\u{fffd}": "z\0"}], "n": 1})
        );
        assert!(!json_has_nul(&keys, NulIn::Keys));
        assert!(json_has_nul(&keys, NulIn::KeysAndStrings));

        let mut all = original;
        replace_nul_in_json(&mut all, NulIn::KeysAndStrings);
        assert_eq!(
            all,
            json!({"k\u{fffd}": ["x\u{fffd}", {"y\u{fffd}": "z\u{fffd}"}], "n": 1})
        );
        assert!(!json_has_nul(&all, NulIn::KeysAndStrings));
    }
}
