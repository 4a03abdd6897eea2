//! Reading what the sync stored: domain states, run records and audit entries.
use mitre_attack::Domain;

use crate::ddb::from_item;
use crate::error::StoreError;
use crate::items::{AuditEntry, AuditItem, DomainState, DomainStateItem, RunItem, RunRecord};
use crate::{Store, keys};

impl Store {
    pub async fn domain_state(&self, domain: Domain) -> Result<Option<DomainState>, StoreError> {
        Ok(self.get_item::<DomainStateItem>(keys::CATALOG_PK, &keys::domain_sk(domain)).await?.map(|i| i.state))
    }

    /// Every domain that was ever synced, with its state: one Query.
    pub async fn domain_states(&self) -> Result<Vec<(Domain, DomainState)>, StoreError> {
        let items = self.query_partition(None, keys::CATALOG_PK, Some("DOMAIN#")).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let i: DomainStateItem = from_item(item)?;
            out.push((i.domain, i.state));
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }

    /// The run records of a domain, newest first.
    pub async fn runs(&self, domain: Domain) -> Result<Vec<RunRecord>, StoreError> {
        let items = self.query_partition(None, &keys::sync_pk(domain), Some("RUN#")).await?;
        let mut runs: Vec<RunRecord> = items.into_iter().map(|i| from_item::<RunItem>(i).map(|r| r.run)).collect::<Result<_, _>>()?;
        runs.reverse();
        Ok(runs)
    }

    /// Audit entries of a tenant, oldest first.
    pub async fn audit_entries(&self, tenant: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let items = self.query_partition(None, &keys::audit_pk(tenant), None).await?;
        items.into_iter().map(|i| from_item::<AuditItem>(i).map(|a| a.entry)).collect()
    }
}
