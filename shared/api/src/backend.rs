//! What the API reads besides the tenant repositories: the synced catalog snapshots, the
//! catalog status, and the integrity checks over the archived releases. The store answers
//! them from DynamoDB and S3; [`FixedCatalogs`] from catalogs held in memory (tests, tools).
use std::collections::HashMap;

use async_trait::async_trait;
use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_store::Store;
use mitre_store::integrity::{RepairReport, VerifyReport};
use mitre_store::items::DomainState;

use crate::error::ApiError;

/// The catalog's side of the store.
#[async_trait]
pub trait CatalogBackend: Send + Sync {
    /// The snapshot key of every synced domain (one Query).
    async fn snapshot_keys(&self) -> Result<HashMap<Domain, String>, ApiError>;
    /// The snapshot stored under `key`.
    async fn snapshot(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError>;
    /// Domain states, the last verification report and the number of flagged mappings.
    async fn status(&self) -> Result<(Vec<(Domain, DomainState)>, Option<VerifyReport>, i64), ApiError>;
    /// Runs a fresh verification and stores its report.
    async fn verify(&self) -> Result<VerifyReport, ApiError>;
    /// The stored report of the last verification, if it checked the releases synced now.
    async fn last_verify(&self) -> Result<Option<VerifyReport>, ApiError>;
    async fn repair(&self, dry_run: bool, actor: &str, request_id: &str) -> Result<RepairReport, ApiError>;
    /// The run records of a domain, newest first.
    async fn runs(&self, domain: Domain) -> Result<Vec<mitre_store::items::RunRecord>, ApiError>;
}

#[async_trait]
impl CatalogBackend for Store {
    async fn snapshot_keys(&self) -> Result<HashMap<Domain, String>, ApiError> {
        Ok(self.domain_states().await?.into_iter().filter_map(|(d, s)| s.snapshot_key.map(|k| (d, k))).collect())
    }

    async fn snapshot(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.get_object(key).await?)
    }

    async fn status(&self) -> Result<(Vec<(Domain, DomainState)>, Option<VerifyReport>, i64), ApiError> {
        Ok(self.catalog_status().await?)
    }

    async fn verify(&self) -> Result<VerifyReport, ApiError> {
        Ok(Store::verify(self).await?)
    }

    async fn last_verify(&self) -> Result<Option<VerifyReport>, ApiError> {
        let (states, report, _) = self.catalog_status().await?;
        Ok(report.filter(|r| r.is_current(&states)))
    }

    async fn repair(&self, dry_run: bool, actor: &str, request_id: &str) -> Result<RepairReport, ApiError> {
        Ok(Store::repair(self, dry_run, actor, request_id).await?)
    }

    async fn runs(&self, domain: Domain) -> Result<Vec<mitre_store::items::RunRecord>, ApiError> {
        Ok(Store::runs(self, domain).await?)
    }
}

/// Catalogs held in memory, as if each domain had been synced once. There is no archive
/// behind them: verify and repair answer 503.
pub struct FixedCatalogs {
    snapshots: HashMap<Domain, (String, Vec<u8>, DomainState)>,
}

impl FixedCatalogs {
    pub fn new(catalogs: &[DomainCatalog]) -> std::io::Result<FixedCatalogs> {
        let mut snapshots = HashMap::new();
        for c in catalogs {
            let key = format!("memory/{}/{}", c.domain, c.version);
            let state = DomainState { version: Some(c.version.clone()), snapshot_key: Some(key.clone()), ..DomainState::default() };
            snapshots.insert(c.domain, (key, c.encode()?, state));
        }
        Ok(FixedCatalogs { snapshots })
    }
}

#[async_trait]
impl CatalogBackend for FixedCatalogs {
    async fn snapshot_keys(&self) -> Result<HashMap<Domain, String>, ApiError> {
        Ok(self.snapshots.iter().map(|(d, (k, _, _))| (*d, k.clone())).collect())
    }

    async fn snapshot(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.snapshots.values().find(|(k, _, _)| k == key).map(|(_, bytes, _)| bytes.clone()))
    }

    async fn status(&self) -> Result<(Vec<(Domain, DomainState)>, Option<VerifyReport>, i64), ApiError> {
        let mut states: Vec<(Domain, DomainState)> = self.snapshots.iter().map(|(d, (_, _, s))| (*d, s.clone())).collect();
        states.sort_by_key(|(d, _)| *d);
        Ok((states, None, 0))
    }

    async fn verify(&self) -> Result<VerifyReport, ApiError> {
        Err(ApiError::Unavailable("verification needs the archived releases of a synced store".into()))
    }

    async fn last_verify(&self) -> Result<Option<VerifyReport>, ApiError> {
        Ok(None)
    }

    async fn repair(&self, _dry_run: bool, _actor: &str, _request_id: &str) -> Result<RepairReport, ApiError> {
        Err(ApiError::Unavailable("repair needs the archived releases of a synced store".into()))
    }

    async fn runs(&self, _domain: Domain) -> Result<Vec<mitre_store::items::RunRecord>, ApiError> {
        Ok(Vec::new())
    }
}
