//! Release changes (`CHANGES#{domain}`, one item per release change) and tenants' inference
//! histories (`T#{tenant}#INFER`, one item per domain). Each is one item read with one call.
use async_trait::async_trait;
use mitre_attack::Domain;
use mitre_domain::insight::{MAX_ENCODED, release_key};
use mitre_domain::{HistoryRecord, InsightRepo, ReleaseChangeRecord, RepoError, TenantId};
use serde::{Deserialize, Serialize};

use crate::ddb::{Query, from_item, to_item};
use crate::error::StoreError;
use crate::{Store, keys};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChangesItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: ReleaseChangeRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HistoryItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: HistoryRecord,
}

fn keys_of(from: &str, to: &str) -> Option<(String, String)> {
    Some((release_key(from)?, release_key(to)?))
}

fn too_large(what: &str, n: usize) -> RepoError {
    StoreError::Corrupt(format!("{what} is {n} bytes encoded, more than the {MAX_ENCODED} an item holds")).into()
}

impl Store {
    async fn put<T: Serialize>(&self, item: &T) -> Result<(), StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map(|out| crate::metrics::record_capacity(crate::metrics::capacity_of(out.consumed_capacity())))
            .map_err(|e| StoreError::dynamo("PutItem", e))
    }
}

#[async_trait]
impl InsightRepo for Store {
    async fn put_release_changes(&self, record: &ReleaseChangeRecord) -> Result<(), RepoError> {
        let Some((from, to)) = keys_of(&record.from, &record.to) else {
            return Err(StoreError::Corrupt(format!("releases {:?} and {:?} are not comparable", record.from, record.to)).into());
        };
        if record.changes.len() > MAX_ENCODED {
            return Err(too_large("the release change", record.changes.len()));
        }
        let item = ChangesItem { pk: keys::changes_pk(record.domain), sk: keys::changes_sk(&from, &to), record: record.clone() };
        Ok(self.put(&item).await?)
    }

    async fn release_changes(&self, domain: Domain, pair: Option<(&str, &str)>) -> Result<Option<ReleaseChangeRecord>, RepoError> {
        let pk = keys::changes_pk(domain);
        let item = match pair {
            Some((from, to)) => {
                let Some((from, to)) = keys_of(from, to) else { return Ok(None) };
                self.get_item::<ChangesItem>(&pk, &keys::changes_sk(&from, &to)).await?
            }
            None => {
                let q = Query { pk, sk_prefix: Some("R#".into()), newest_first: true, ..Query::default() };
                let (items, _) = self.query_page(&q, None, Some(1)).await?;
                items.into_iter().next().map(from_item::<ChangesItem>).transpose()?
            }
        };
        Ok(item.map(|i| i.record))
    }

    async fn put_history(&self, record: &HistoryRecord) -> Result<(), RepoError> {
        if record.history.len() > MAX_ENCODED {
            return Err(too_large("the history", record.history.len()));
        }
        let item = HistoryItem { pk: keys::history_pk(record.tenant.as_str()), sk: keys::history_sk(record.domain), record: record.clone() };
        Ok(self.put(&item).await?)
    }

    async fn history(&self, tenant: &TenantId, domain: Domain) -> Result<Option<HistoryRecord>, RepoError> {
        Ok(self.get_item::<HistoryItem>(&keys::history_pk(tenant.as_str()), &keys::history_sk(domain)).await?.map(|i| i.record))
    }
}
