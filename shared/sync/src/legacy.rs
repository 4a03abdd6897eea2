//! What the sync still does only for tables written by older versions (when it can be deleted:
//! see `mitre_store::legacy`, which `mitre migrate` reports from).
use mitre_attack::{Manifest, object_type_of};
use mitre_store::items::{self, DomainState};

/// The per-relationship items a domain synced with an item schema before relationship packs
/// still holds (as its manifest names them): the run that writes the packs deletes them, once.
pub(crate) fn relationship_items(state: &DomainState, stored: &Manifest) -> Vec<String> {
    if state.item_schema < items::RELATIONSHIP_PACKS_SCHEMA {
        stored.ids().filter(|id| object_type_of(id) == "relationship").map(str::to_string).collect()
    } else {
        Vec::new()
    }
}
