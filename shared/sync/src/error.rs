use mitre_attack::BundleError;
use mitre_store::StoreError;
use thiserror::Error;

/// Why a sync run did not complete.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error("source {source_name}: {message}")]
    Source { source_name: String, message: String },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("another sync of {domain} holds the lease until {until}")]
    Locked { domain: String, until: String },
    #[error("the lease of {0} was lost during the run")]
    LeaseLost(String),
    #[error("refusing to remove {removed} of {stored} stored objects of {domain} in one run; rerun with --force if this is intended")]
    MassRemoval { domain: String, removed: usize, stored: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A repository (the tenants' mappings, principals, histories) could not be read or written.
    #[error(transparent)]
    Repo(#[from] mitre_domain::RepoError),
}
