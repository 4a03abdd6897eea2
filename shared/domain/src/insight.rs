//! What the module works out from ATT&CK and a tenant's mappings beyond the mappings
//! themselves, kept so that reading it is one call:
//! - the changes between two releases of a domain, computed once when a sync moves the domain
//!   to a new release (from the release it replaced) and shared by every tenant;
//! - a tenant's history for technique inference: the technique sets of its entities, rebuilt by
//!   a job from its mappings (never on the mapping write path) and never shared.
//!
//! Both are stored encoded (the pure crates that compute them own their formats): the records
//! here carry the bytes and what the store keys them by.
use mitre_attack::Domain;
use serde::{Deserialize, Serialize};

use crate::tenant::TenantId;
use crate::time::Timestamp;

/// The changes from release `from` to release `to` of a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChangeRecord {
    pub domain: Domain,
    pub from: String,
    pub to: String,
    pub computed_at: Timestamp,
    /// The encoded changes (`mitre_attack::changes::ReleaseChanges::encode`).
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
}

/// A tenant's history for technique inference in one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub tenant: TenantId,
    pub domain: Domain,
    pub built_at: Timestamp,
    /// The entities whose technique sets the history holds.
    pub entities: u64,
    /// The mappings it was built from.
    pub mappings: u64,
    /// The encoded history (`mitre_views::inference::TenantHistory::encode`).
    #[serde(with = "serde_bytes")]
    pub history: Vec<u8>,
}

/// A release as a key that sorts in release order: `18.1` -> `00018.00001`. None for a
/// release that is not `major.minor` (such a release is never compared).
pub fn release_key(version: &str) -> Option<String> {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    Some(format!("{major:05}.{minor:05}"))
}

/// The largest encoded record the table takes in one item (DynamoDB's limit is 400 KB, with
/// the keys and attribute names).
pub const MAX_ENCODED: usize = 380 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_keys_sort_in_release_order() {
        let mut v = ["9.0", "18.1", "17.1", "18.0", "16.1", "4"].map(|v| (release_key(v).unwrap(), v));
        v.sort();
        assert_eq!(v.map(|(_, v)| v), ["4", "9.0", "16.1", "17.1", "18.0", "18.1"]);
        assert_eq!(release_key("unknown"), None);
        assert_eq!(release_key("18.x"), None);
    }
}
