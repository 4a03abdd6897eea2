//! Entity access records: `T#{tenant}#M#{kind}` / `E#{id}`, beside the mappings of the
//! entity's kind. Each holds the entity's groups (absent: open), the version of its access and
//! the count of the mappings that name it. Every mapping write conditions on the records of its
//! entities being at the version the mapping copies ([`access_parts`]); an access change
//! rewrites the record and the copy on every mapping of the entity in one transaction.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use mitre_domain::access::{Pending, intersection};
use mitre_domain::repo::MAX_ATOMIC_MAPPINGS;
use mitre_domain::{AccessRepo, AuditEntry, EntityAccess, EntityRef, Mapping, MappingFilter, RepoError, Stamp, TenantId, WriteError};
use serde::{Deserialize, Serialize};

use super::mappings::{MappingItem, restamped_put};
use super::{Part, Tx, audit_put, store_write_error};
use crate::ddb::{from_item, key, n, to_item};
use crate::error::StoreError;
use crate::{Store, keys};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    access: EntityAccess,
}

fn record_key(tenant: &str, e: &EntityRef) -> (String, String) {
    (keys::mapping_pk(tenant, e.kind.as_str()), keys::access_sk(&e.id))
}

/// The condition that an entity's record is at `version` (absent counts as version 0) with no
/// change of a large entity under way.
fn at_version(version: u64) -> &'static str {
    if version == 0 { "attribute_not_exists(pk) OR (version = :v AND attribute_not_exists(pending))" } else { "version = :v AND attribute_not_exists(pending)" }
}

/// The parts of a write of `m` that hold its copies of its entities' access to the records:
/// with `delta` (1 created, -1 deleted) the mapping is counted in or out of each record (which
/// is created, open, if missing), without it each record is only checked.
pub(crate) fn access_parts(table: &str, m: &Mapping, delta: i64) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut out = Vec::new();
    for e in m.entities() {
        let (pk, sk) = record_key(m.tenant.as_str(), &e);
        let version = m.access.get(&e.kind).map(|s| s.version).unwrap_or(0);
        let item = if delta == 0 {
            let c = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key(pk, sk)))
                .condition_expression(at_version(version))
                .expression_attribute_values(":v", n(version))
                .build()?;
            TransactWriteItem::builder().condition_check(c).build()
        } else {
            let u = Update::builder()
                .table_name(table)
                .set_key(Some(key(pk, sk)))
                .update_expression("SET entity = if_not_exists(entity, :e), version = if_not_exists(version, :zero) ADD mappings :d")
                .condition_expression(at_version(version))
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":d", n(delta))
                .expression_attribute_values(":e", AttributeValue::M(to_item(&e)?))
                .build()?;
            TransactWriteItem::builder().update(u).build()
        };
        out.push(item);
    }
    Ok(out)
}

impl Store {
    async fn access_record(&self, tenant: &TenantId, e: &EntityRef) -> Result<EntityAccess, StoreError> {
        let (pk, sk) = record_key(tenant.as_str(), e);
        Ok(self.get_item::<AccessItem>(&pk, &sk).await?.map(|i| i.access).unwrap_or_else(|| EntityAccess::open(e.clone())))
    }

    /// Every mapping that names `e`, as stored, from the entity's index partition.
    async fn items_naming(&self, tenant: &TenantId, e: &EntityRef) -> Result<Vec<MappingItem>, StoreError> {
        let filter = MappingFilter { entities: vec![e.clone()], ..MappingFilter::default() };
        let q = super::mappings::mapping_query(tenant, None, &filter).map_err(|e| StoreError::Config(e.to_string()))?;
        self.query_all(&q).await?.into_iter().map(from_item::<MappingItem>).collect()
    }
}

impl Store {
    /// The mappings naming `e`, once the entity's index partition shows at least the `count`
    /// its record holds: the index follows the table, and the change must rewrite every one.
    /// A mapping written meanwhile changes the count, which the change's condition catches.
    async fn settled_items(&self, tenant: &TenantId, e: &EntityRef, count: i64) -> Result<Result<Vec<MappingItem>, WriteError>, StoreError> {
        for wait in 0..20u64 {
            let items = self.items_naming(tenant, e).await?;
            if items.len() as i64 >= count {
                return Ok(Ok(items));
            }
            tokio::time::sleep(Duration::from_millis(25 * (wait + 1))).await;
        }
        Ok(Err(WriteError::Contended))
    }

    /// The Put of the entity's record as `stored`, while it is as `before` was read.
    fn record_put(&self, tenant: &TenantId, before: &EntityAccess, stored: EntityAccess) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = record_key(tenant.as_str(), &before.entity);
        let condition = if before.version == 0 { "attribute_not_exists(pk) OR (version = :v AND mappings = :n)" } else { "version = :v AND mappings = :n" };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&AccessItem { pk, sk, access: stored })?))
            .condition_expression(condition)
            .expression_attribute_values(":v", n(before.version))
            .expression_attribute_values(":n", n(before.mappings))
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a change's transaction: Stale when the record moved on, Contended when a mapping did.
    async fn finish(&self, tenant: &TenantId, before: &EntityAccess, tx: Tx) -> Result<(), WriteError> {
        match self.transact(tx).await.map_err(store_write_error)? {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Record) => {
                let now = self.access_record(tenant, &before.entity).await.map_err(store_write_error)?;
                if now.version != before.version { Err(WriteError::Stale) } else { Err(WriteError::Contended) }
            }
            Err(c) if c.condition_failed(Part::Item) || c.any(&["TransactionConflict"]) => Err(WriteError::Contended),
            Err(c) => Err(store_write_error(c.into_error())),
        }
    }

    /// The change of an entity with more mappings than one transaction holds (or the resumption
    /// of one interrupted). 1: the record takes the new access with the change pending, which
    /// stops mapping writes of the entity, with the audit entry. 2: every mapping gets the
    /// intersection of the accesses it may carry and the new one (who may see it under both).
    /// 3: every mapping gets the new access. 4: the record drops the pending change. Before step
    /// 2 ends a mapping shows only to principals the old access admits, after it only to those
    /// the new one admits: no read ever shows a mapping outside the access in force. Interrupted,
    /// the pending record keeps writes stopped until the next change of the entity resumes.
    async fn change_in_passes(&self, tenant: &TenantId, before: &EntityAccess, after: &EntityAccess, audit: AuditEntry) -> Result<(), WriteError> {
        let e = &before.entity;
        // what the mappings may carry now: the record's access, or any stage of the interrupted change
        let from = match &before.pending {
            None => before.groups.clone(),
            Some(p) => intersection([p.from.as_ref(), p.to.as_ref()]),
        };
        let pending = Pending { from: from.clone(), to: after.groups.clone() };
        let locked = EntityAccess { mappings: before.mappings, pending: Some(pending), ..after.clone() };
        let tx = (|| {
            Ok::<_, StoreError>(
                Tx::default().with(Part::Record, self.record_put(tenant, before, locked.clone())?).with(Part::Audit, audit_put(&self.table, audit)?),
            )
        })()
        .map_err(store_write_error)?;
        self.finish(tenant, before, tx).await?;
        let through = Stamp { version: after.version, groups: intersection([from.as_ref(), after.groups.as_ref()]) };
        for stamp in [through, after.stamp()] {
            self.restamp_all(tenant, e, before.mappings, &stamp).await?;
        }
        let (pk, sk) = record_key(tenant.as_str(), e);
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("REMOVE pending")
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(after.version))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // a later change took over (and finishes the work)
            Err(err) if err.as_service_error().is_some_and(|x| x.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(store_write_error(StoreError::dynamo("UpdateItem", err))),
        }
    }

    /// Gives every mapping naming `e` the copy `stamp`, a transaction of up to 100 at a time,
    /// each on condition that the mapping is as read (mapping writes of the entity are stopped;
    /// a repair may still move one: then its group is read again).
    async fn restamp_all(&self, tenant: &TenantId, e: &EntityRef, count: i64, stamp: &Stamp) -> Result<(), WriteError> {
        for _ in 0..5 {
            let items = self.settled_items(tenant, e, count).await.map_err(store_write_error)??;
            let todo: Vec<&MappingItem> = items.iter().filter(|i| i.mapping.access.get(&e.kind) != Some(stamp)).collect();
            if todo.is_empty() {
                return Ok(());
            }
            let mut clean = true;
            for chunk in todo.chunks(100) {
                let tx = chunk
                    .iter()
                    .try_fold(Tx::default(), |tx, item| Ok::<_, StoreError>(tx.with(Part::Item, restamped_put(&self.table, item, e.kind, stamp)?)))
                    .map_err(store_write_error)?;
                match self.transact(tx).await.map_err(store_write_error)? {
                    Ok(()) => {}
                    Err(c) if c.condition_failed(Part::Item) || c.any(&["TransactionConflict"]) => clean = false,
                    Err(c) => return Err(store_write_error(c.into_error())),
                }
            }
            if clean {
                return Ok(());
            }
        }
        Err(WriteError::Contended)
    }
}

#[async_trait]
impl AccessRepo for Store {
    async fn entity_access(&self, tenant: &TenantId, entities: &[EntityRef]) -> Result<Vec<EntityAccess>, RepoError> {
        match entities {
            [] => Ok(Vec::new()),
            [e] => Ok(vec![self.access_record(tenant, e).await?]),
            _ => {
                // one consistent BatchGetItem for the (at most two) entities of a mapping
                let items = self.batch_get_consistent(entities.iter().map(|e| record_key(tenant.as_str(), e))).await?;
                let found: Vec<EntityAccess> = items.into_iter().map(|i| from_item::<AccessItem>(i).map(|a| a.access)).collect::<Result<_, _>>()?;
                Ok(entities.iter().map(|e| found.iter().find(|a| &a.entity == e).cloned().unwrap_or_else(|| EntityAccess::open(e.clone()))).collect())
            }
        }
    }

    async fn change_access(&self, tenant: &TenantId, before: &EntityAccess, after: &EntityAccess, audit: AuditEntry) -> Result<(), WriteError> {
        let items = self.settled_items(tenant, &before.entity, before.mappings).await.map_err(store_write_error)??;
        if items.len() > MAX_ATOMIC_MAPPINGS || before.pending.is_some() {
            return self.change_in_passes(tenant, before, after, audit).await;
        }
        let e = &before.entity;
        let t = &self.table;
        let tx = (|| {
            let mut tx = Tx::default()
                .with(Part::Record, self.record_put(tenant, before, EntityAccess { mappings: before.mappings, ..after.clone() })?)
                .with(Part::Audit, audit_put(t, audit)?);
            for item in &items {
                tx.push(Part::Item, restamped_put(t, item, e.kind, &after.stamp())?);
            }
            Ok::<_, StoreError>(tx)
        })()
        .map_err(store_write_error)?;
        self.finish(tenant, before, tx).await
    }
}
