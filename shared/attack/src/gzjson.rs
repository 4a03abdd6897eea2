//! Gzip-compressed JSON: the one encoding of the documents the module computes and keeps
//! (catalog snapshots, release changes, tenants' inference histories).
use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` as JSON, gzip-compressed at `level` (0 to 9).
pub fn encode<T: Serialize>(value: &T, level: u32) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    serde_json::to_writer(&mut gz, value)?;
    gz.finish()
}

/// The `T` in `bytes`, reading at most `limit` bytes of JSON; errors name `what` ("the snapshot
/// is not readable: ...").
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str, limit: u64) -> Result<T, String> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes).take(limit).read_to_end(&mut text).map_err(|e| format!("{what} is not readable: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| format!("{what} is not readable: {e}"))
}
