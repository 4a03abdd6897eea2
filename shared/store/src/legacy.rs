//! What the store still does only for data written by older versions. Each item says when it
//! can be deleted; `mitre migrate` reports whether a deployment still holds such data.
//!
//! - Mappings stored before statistics were kept carry no `counted` flag. A write of one finds
//!   its condition (`counted = true`) failing, asks [`uncounted_at`] and writes again on the
//!   condition that it is uncounted, counting it. Delete this, and the `old_counted` branches
//!   of the mapping writes, once `mitre migrate` reports no uncounted mapping.
use crate::tenancy::MappingItem;
use crate::{Store, StoreError, keys};
use mitre_domain::Mapping;

/// Whether `m` is stored at its version but not yet counted in the statistics (stored before
/// statistics were kept): read only when a write's condition failed.
pub(crate) async fn uncounted_at(store: &Store, m: &Mapping) -> Result<bool, StoreError> {
    let pk = keys::mapping_pk(m.tenant.as_str(), m.kind.as_str());
    Ok(store.get_item::<MappingItem>(&pk, &keys::mapping_sk(&m.id)).await?.is_some_and(|i| i.mapping.version == m.version && !i.counted))
}
