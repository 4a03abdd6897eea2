//! The tenant side of the ATT&CK module: technique mappings of alerts, incidents, cases and
//! observables, principals and their roles, the audit log; the rules they follow; and the
//! repository traits the handlers depend on. With the `testing` feature, in-memory
//! implementations and the contract every implementation keeps. No I/O beyond what a
//! repository does.
pub mod access;
pub mod audit;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod cursor;
pub mod error;
pub mod insight;
pub mod mapping;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod metrics;
pub mod repo;
pub mod retry;
pub mod review;
pub mod role;
pub mod stats;
pub mod sync;
pub mod tenant;
pub mod time;

pub use access::{EntityAccess, EntityRef, Need, Sight, Stamp};
pub use audit::AuditEntry;
pub use error::{BoxError, Invalid, RepoError, WriteError};
pub use insight::{HistoryRecord, ReleaseChangeRecord};
pub use mapping::{DetectionMethod, ImpactLevel, Mapping, MappingInput, MappingKind, MitigationStatus, Precondition, Resolved};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryRepos;
pub use repo::{AccessRepo, AuditFilter, AuditLog, FeedbackRepo, InsightRepo, MappingFilter, MappingRepo, Page, PrincipalRepo, StatsRepo, TacticFilter};
pub use retry::RetryPolicy;
pub use role::{Principal, Role, normalize_principal};
pub use sync::SyncRequest;
pub use tenant::TenantId;
pub use time::Timestamp;

/// A new time-ordered id (ULID), strictly increasing within this process, so that entries made
/// in the same millisecond keep the order they were made in.
pub fn new_id() -> String {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let made = GENERATOR.lock().ok().and_then(|mut g| g.get_or_insert_with(ulid::Generator::new).generate().ok());
    match made {
        Some(id) => id.to_string(),
        // a poisoned lock or a millisecond's ids exhausted: a random one of this millisecond
        None => ulid::Ulid::new().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::contract;
    use crate::memory::MemoryRepos;

    #[test]
    fn ids_increase_within_a_millisecond() {
        let ids: Vec<String> = (0..1000).map(|_| crate::new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn memory_repositories_keep_the_contract() {
        let repo = MemoryRepos::new();
        contract::mappings_keep_their_rules(&repo).await;
        contract::tenants_never_meet(&repo).await;
        contract::lists_filter_and_page(&repo).await;
        contract::principals_are_registered_and_removed(&repo).await;
        contract::the_audit_log_reads_newest_first(&repo).await;
        contract::statistics_equal_a_recount(&repo).await;
        contract::access_follows_the_entity(&repo).await;
        contract::a_large_entity_changes_access(&repo).await;
        contract::lists_filter_on_review_fields(&repo).await;
        contract::insights_are_kept_by_release_and_tenant(&repo).await;
        contract::reviews_teach_their_tenant_alone(&repo).await;
    }
}
