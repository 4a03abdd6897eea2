//! List cursors: opaque to callers, bound to the list (its filters) that handed them out.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::error::RepoError;

/// A fingerprint of a list's identity and filters (anything `Debug`).
pub fn fingerprint(list: &impl std::fmt::Debug) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(format!("{list:?}").as_bytes()))
}

/// The cursor continuing after `position` (a backend's continuation key) in the list `fingerprint`.
pub fn encode(position: &Value, fingerprint: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "k": position, "f": fingerprint }).to_string())
}

/// The position a cursor of the list `fingerprint` continues after.
pub fn decode(cursor: &str, fingerprint: &str) -> Result<Value, RepoError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| RepoError::BadCursor)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| RepoError::BadCursor)?;
    if v["f"] != fingerprint {
        return Err(RepoError::BadCursor);
    }
    Ok(v["k"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_list() {
        let f = fingerprint(&("acme", "alert", 1));
        let c = encode(&json!({"sk": "M#01"}), &f);
        assert_eq!(decode(&c, &f).unwrap(), json!({"sk": "M#01"}));
        assert!(matches!(decode(&c, &fingerprint(&("globex", "alert", 1))), Err(RepoError::BadCursor)));
        assert!(matches!(decode("not a cursor", &f), Err(RepoError::BadCursor)));
    }
}
