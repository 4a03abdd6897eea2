//! The tenant side of the ATT&CK module: technique mappings of alerts, incidents, cases and
//! observables, principals and their roles, the audit log; the rules they follow; and the
//! repository traits the handlers depend on, with in-memory implementations and the contract
//! every implementation keeps. No I/O beyond what a repository does.
pub mod audit;
pub mod contract;
pub mod cursor;
pub mod error;
pub mod mapping;
pub mod memory;
pub mod repo;
pub mod role;
pub mod tenant;
pub mod time;

pub use audit::AuditEntry;
pub use error::{Invalid, RepoError, WriteError};
pub use mapping::{DetectionMethod, ImpactLevel, Mapping, MappingInput, MappingKind, MitigationStatus, Precondition, Resolved};
pub use memory::MemoryRepos;
pub use repo::{AuditFilter, AuditLog, MappingFilter, MappingRepo, Page, PrincipalRepo, TacticFilter};
pub use role::{Principal, Role, normalize_principal};
pub use tenant::TenantId;
pub use time::Timestamp;

#[cfg(test)]
mod tests {
    use crate::contract;
    use crate::memory::MemoryRepos;

    #[tokio::test]
    async fn memory_repositories_keep_the_contract() {
        let repo = MemoryRepos::new();
        contract::mappings_keep_their_rules(&repo).await;
        contract::tenants_never_meet(&repo).await;
        contract::lists_filter_and_page(&repo).await;
        contract::principals_are_registered_and_removed(&repo).await;
        contract::the_audit_log_reads_newest_first(&repo).await;
    }
}
