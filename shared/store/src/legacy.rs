//! What the store and the sync still do only for data written by older versions, each with the
//! condition under which it can be deleted. `mitre migrate` reports, from the deployment's own
//! data, which of them it still needs ([`still_needed`]).
//!
//! - **Uncounted mappings.** Mappings stored before statistics were kept carry no `counted`
//!   flag. A write of one finds its condition (`counted = true`) failing, asks
//!   [`uncounted_at`] and writes again on the condition that it is uncounted, counting it (the
//!   `old_counted` branches of the mapping writes in `tenancy/mappings.rs`). Deletable once no
//!   stored mapping is uncounted (`mitre migrate --apply` counts them).
//! - **The mapping index layout in list cursors.** Mappings stored when each kind had its own
//!   entity index partitions are re-keyed by `mitre migrate --apply`; until then, and while a
//!   cursor handed out before that may still be used, list cursors carry
//!   [`MAPPING_INDEX_LAYOUT`] so that an older cursor is refused rather than misread.
//!   Deletable once no stored mapping has the per-kind keys (cursors are short-lived).
//! - **Per-relationship catalog items.** A domain synced with an item schema before
//!   relationship packs holds one item per relationship; its next sync deletes them and writes
//!   the packs whatever it was told (`mitre_sync`'s pipeline). Deletable once every domain's
//!   state has an item schema of at least [`crate::items::RELATIONSHIP_PACKS_SCHEMA`].
use serde::Serialize;

use crate::integrity::MigrateReport;
use crate::tenancy::MappingItem;
use crate::{Store, StoreError, keys};
use mitre_domain::Mapping;

/// The layout of the mapping indexes; 2: every kind's mappings of an entity in one partition.
pub const MAPPING_INDEX_LAYOUT: u32 = 2;

/// Whether `m` is stored at its version but not yet counted in the statistics (stored before
/// statistics were kept): read only when a write's condition failed.
pub(crate) async fn uncounted_at(store: &Store, m: &Mapping) -> Result<bool, StoreError> {
    let pk = keys::mapping_pk(m.tenant.as_str(), m.kind.as_str());
    Ok(store.get_item::<MappingItem>(&pk, &keys::mapping_sk(&m.id)).await?.is_some_and(|i| i.mapping.version == m.version && !i.counted))
}

/// One path kept for older data, and whether this deployment still needs it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LegacyPath {
    pub name: &'static str,
    /// Where it lives.
    pub code: &'static str,
    /// The deployment's own data still needs it: how many items (or domains) of the older kind.
    pub remaining: usize,
    pub deletable_when: &'static str,
}

impl LegacyPath {
    pub fn needed(&self) -> bool {
        self.remaining > 0
    }
}

/// The legacy paths and what of this deployment's data still needs each, from a migrate run's
/// report (its counts are of the data as it was before the run: after an applied run without
/// failures, the mapping paths are no longer needed) and the domains' states.
pub async fn still_needed(store: &Store, report: &MigrateReport) -> Result<Vec<LegacyPath>, StoreError> {
    let left = |n: usize| if report.dry_run || !report.failed.is_empty() { n } else { 0 };
    let old_relationship_domains = store.domain_states().await?.into_iter().filter(|(_, s)| s.item_schema < crate::items::RELATIONSHIP_PACKS_SCHEMA).count();
    Ok(vec![
        LegacyPath {
            name: "uncounted mappings",
            code: "mitre_store::legacy::uncounted_at and the old_counted branches of the mapping writes",
            remaining: left(report.counted),
            deletable_when: "no stored mapping is uncounted (mitre migrate --apply counts them)",
        },
        LegacyPath {
            name: "per-kind entity index keys",
            code: "mitre_store::legacy::MAPPING_INDEX_LAYOUT in list cursors, Store::reindex_mapping",
            remaining: left(report.reindexed),
            deletable_when: "no stored mapping has the per-kind entity keys (mitre migrate --apply re-keys them)",
        },
        LegacyPath {
            name: "per-relationship catalog items",
            code: "mitre_sync::legacy (the sync deletes them and writes relationship packs)",
            remaining: old_relationship_domains,
            deletable_when: "every domain has been synced with relationship packs (its next sync does it)",
        },
    ])
}
