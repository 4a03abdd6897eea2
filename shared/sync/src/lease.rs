//! The sync lease: a conditional write with an expiry, so that two runs of one domain never write at once.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use mitre_attack::Domain;

use async_trait::async_trait;
use mitre_store::ddb::{key, s, to_item};
use mitre_store::items::LeaseItem;
use mitre_store::{Store, StoreError, keys};

use crate::error::SyncError;

/// A lease outlives any Lambda run (15 minutes); a crashed holder blocks the next run at most this long.
pub const LEASE_SECONDS: i64 = 20 * 60;

#[derive(Debug, Clone)]
pub struct Lease {
    pub domain: Domain,
    pub owner: String,
}

/// What a sync does to the table besides writing objects: the lease of a domain and the
/// dirty mark of a run that writes.
#[async_trait]
pub trait SyncTable {
    /// Takes the domain's lease for `owner`, unless another run holds it.
    async fn acquire_lease(&self, domain: Domain, owner: &str) -> Result<Lease, SyncError>;
    async fn renew_lease(&self, lease: &Lease) -> Result<(), SyncError>;
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;
    /// Marks a domain as being written, naming the manifest of the run that writes it.
    async fn mark_dirty(&self, domain: Domain, pending_manifest_key: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl SyncTable for Store {
    async fn acquire_lease(&self, domain: Domain, owner: &str) -> Result<Lease, SyncError> {
        let now = Utc::now();
        let item = LeaseItem {
            pk: keys::sync_pk(domain),
            sk: keys::LEASE_SK.to_string(),
            owner: owner.to_string(),
            expires_at: now.timestamp() + LEASE_SECONDS,
            acquired_at: mitre_domain::Timestamp::from_datetime(now),
        };
        let res = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            // A lease this owner already holds is taken again: when the answer to the first
            // PutItem was lost, the SDK's retry finds the run's own lease.
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR #o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .return_values_on_condition_check_failure(aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Lease { domain, owner: owner.to_string() }),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let until = c
                        .item()
                        .and_then(|i| i.get("expires_at"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .and_then(|t| Utc.timestamp_opt(t, 0).single())
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "unknown".into());
                    Err(SyncError::Locked { domain: domain.to_string(), until })
                }
                _ => Err(StoreError::dynamo("PutItem", e).into()),
            },
        }
    }

    async fn renew_lease(&self, lease: &Lease) -> Result<(), SyncError> {
        let res = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::sync_pk(lease.domain), keys::LEASE_SK)))
            .update_expression("SET expires_at = :e")
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(&lease.owner))
            .expression_attribute_values(":e", AttributeValue::N((Utc::now().timestamp() + LEASE_SECONDS).to_string()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Err(SyncError::LeaseLost(lease.domain.to_string())),
            Err(e) => Err(StoreError::dynamo("UpdateItem", e).into()),
        }
    }

    /// Gives the lease up if this run still holds it.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let res = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::sync_pk(lease.domain), keys::LEASE_SK)))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(&lease.owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::dynamo("DeleteItem", e)),
        }
    }

    async fn mark_dirty(&self, domain: Domain, pending_manifest_key: &str) -> Result<(), StoreError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::CATALOG_PK, keys::domain_sk(domain))))
            .update_expression("SET dirty = :t, pending_manifest_key = :k, #d = :d")
            .expression_attribute_names("#d", "domain")
            .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":k", s(pending_manifest_key))
            .expression_attribute_values(":d", s(domain.as_str()))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }
}
