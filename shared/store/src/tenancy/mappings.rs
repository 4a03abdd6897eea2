//! Technique mappings: `T#{tenant}#M#{kind}` / `M#{id}`, listed by entity on gsi1 and gsi2 and
//! by technique on gsi3, with a uniqueness guard per observation and use counters per
//! (technique, tactic) in `MAPSTATS`.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use mitre_domain::stats;
use mitre_domain::{AuditEntry, Mapping, MappingFilter, MappingKind, MappingRepo, Page, RepoError, Sight, Stamp, TenantId, WriteError, cursor};
use serde::{Deserialize, Serialize};

use super::access::access_parts;
use super::{Cancelled, Part, Tx, audit_put, store_write_error};
use crate::ddb::{Filter, Item, Query, from_item, key, s, to_item};
use crate::error::StoreError;
use crate::{Store, keys};

/// A mapping as stored, with its index keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MappingItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    gsi3pk: String,
    gsi3sk: String,
    /// In the tenant's statistics (every mapping written since statistics are kept; older ones
    /// until `mitre migrate` counts them).
    #[serde(default)]
    pub(crate) counted: bool,
    #[serde(flatten)]
    pub mapping: Mapping,
}

impl MappingItem {
    pub fn new(m: &Mapping) -> MappingItem {
        let (tenant, kind) = (m.tenant.as_str(), m.kind.as_str());
        let mut slots: [(Option<String>, Option<String>); 2] = Default::default();
        for field in m.kind.entity_fields() {
            if let Some(v) = m.entity(field) {
                let slot = usize::from(keys::mapping_entity_index(field) == keys::GSI2);
                slots[slot] = (Some(keys::mapping_entity_gsi(tenant, field, v)), Some(keys::mapping_entity_sk(kind, &m.id)));
            }
        }
        let [(gsi1pk, gsi1sk), (gsi2pk, gsi2sk)] = slots;
        MappingItem {
            pk: keys::mapping_pk(tenant, kind),
            sk: keys::mapping_sk(&m.id),
            gsi1pk,
            gsi1sk,
            gsi2pk,
            gsi2sk,
            gsi3pk: keys::technique_gsi(m.technique.as_str()),
            gsi3sk: keys::technique_gsi_sk(tenant, kind, &m.id),
            counted: true,
            mapping: m.clone(),
        }
    }

    fn entity_keys(&self) -> [Option<&String>; 4] {
        [self.gsi1pk.as_ref(), self.gsi1sk.as_ref(), self.gsi2pk.as_ref(), self.gsi2sk.as_ref()]
    }
}

/// The Put of a stored mapping with the copy of its `kind` entity's access replaced by `stamp`
/// and its version bumped, on condition that it is still as read (its keys and statistics kept).
pub(crate) fn restamped_put(table: &str, item: &MappingItem, kind: MappingKind, stamp: &Stamp) -> Result<TransactWriteItem, StoreError> {
    let mut next = item.clone();
    next.mapping.access.insert(kind, stamp.clone());
    next.mapping.version += 1;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(&next)?))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", AttributeValue::N(item.mapping.version.to_string()))
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A mapping as stored, with what `mitre migrate` looks at.
#[derive(Debug, Clone)]
pub struct StoredMapping {
    pub mapping: Mapping,
    /// In the tenant's statistics.
    pub counted: bool,
    /// Its entity index keys are the ones it is written with now.
    pub indexed: bool,
}

pub fn mapping_from_item(item: Item) -> Result<Mapping, StoreError> {
    from_item::<MappingItem>(item).map(|i| i.mapping)
}

fn pk_of(m: &Mapping) -> String {
    keys::mapping_pk(m.tenant.as_str(), m.kind.as_str())
}

fn guard_put(table: &str, m: &Mapping) -> Result<TransactWriteItem, StoreError> {
    let item = HashMap::from([("pk".to_string(), s(pk_of(m))), ("sk".to_string(), s(keys::guard_sk(&m.sameness()))), ("mapping_id".to_string(), s(&m.id))]);
    let put = Put::builder().table_name(table).set_item(Some(item)).condition_expression("attribute_not_exists(pk)").build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn guard_delete(table: &str, m: &Mapping) -> Result<TransactWriteItem, StoreError> {
    let del = Delete::builder().table_name(table).set_key(Some(key(pk_of(m), keys::guard_sk(&m.sameness())))).build()?;
    Ok(TransactWriteItem::builder().delete(del).build())
}

/// `ADD count :d` on a counter; for a use counter also what it counts.
fn counter(table: &str, pk: &str, sk: String, delta: i64, of: Option<&Mapping>) -> Result<TransactWriteItem, StoreError> {
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":d", AttributeValue::N(delta.to_string()));
    let expr = match of {
        Some(m) => {
            u = u.expression_attribute_values(":t", s(m.technique.as_str())).expression_attribute_values(":a", s(&m.tactic));
            match &m.tactic_id {
                Some(id) => {
                    u = u.expression_attribute_values(":i", s(id));
                    "ADD #n :d SET technique = :t, tactic = :a, tactic_id = :i"
                }
                None => "ADD #n :d SET technique = :t, tactic = :a",
            }
        }
        None => "ADD #n :d",
    };
    Ok(TransactWriteItem::builder().update(u.update_expression(expr).build()?).build())
}

/// The use counter of the mapping's (technique, tactic identity).
fn use_counter(table: &str, m: &Mapping, delta: i64) -> Result<TransactWriteItem, StoreError> {
    counter(table, keys::STATS_PK, keys::use_counter_sk(m.technique.as_str(), m.tactic_key()), delta, Some(m))
}

/// The counter of mappings flagged for an analyst, when `old` to `new` changes it.
fn review_counter(table: &str, old: Option<&Mapping>, new: Option<&Mapping>) -> Result<Option<TransactWriteItem>, StoreError> {
    let flagged = |m: Option<&Mapping>| m.is_some_and(|m| m.needs_review.is_some()) as i64;
    let delta = flagged(new) - flagged(old);
    (delta != 0).then(|| counter(table, keys::CATALOG_PK, keys::REVIEW_SK.into(), delta, None)).transpose()
}

/// The condition on a stored mapping being as read: at its version, and counted in the
/// statistics or not (a mapping stored before statistics were kept is not).
fn as_read(old_counted: bool) -> &'static str {
    if old_counted { "version = :v AND counted = :t" } else { "version = :v AND attribute_not_exists(counted)" }
}

fn versioned_put(table: &str, m: &Mapping, at_version: Option<u64>, old_counted: bool) -> Result<TransactWriteItem, StoreError> {
    let b = Put::builder().table_name(table).set_item(Some(to_item(&MappingItem::new(m))?));
    let b = match at_version {
        Some(v) => {
            let b = b.condition_expression(as_read(old_counted)).expression_attribute_values(":v", AttributeValue::N(v.to_string()));
            if old_counted { b.expression_attribute_values(":t", AttributeValue::Bool(true)) } else { b }
        }
        None => b.condition_expression("attribute_not_exists(pk)"),
    };
    Ok(TransactWriteItem::builder().put(b.build()?).build())
}

impl Store {
    /// Counts a mapping stored before statistics were kept (the same item, now marked counted,
    /// with its statistics, all or nothing); false when it was counted or changed meanwhile.
    pub async fn count_mapping(&self, m: &Mapping) -> Result<bool, StoreError> {
        let tx = Tx::default().with(Part::Item, versioned_put(&self.table, m, Some(m.version), false)?);
        match self.transact_with_stats(None, Some(m), true, tx).await? {
            Ok(()) => Ok(true),
            Err(c) if c.condition_failed(Part::Item) => Ok(false),
            Err(c) => Err(c.into_error()),
        }
    }

    /// Rewrites the entity index keys of `m`, as long as it is stored at its version (nothing
    /// else changes: no audit entry, no statistics); false when it changed meanwhile (that
    /// write gave it the keys).
    pub async fn reindex_mapping(&self, m: &Mapping) -> Result<bool, StoreError> {
        let item = MappingItem::new(m);
        let names = ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"];
        let (mut set, mut remove) = (Vec::new(), Vec::new());
        let mut req = self.ddb.update_item().table_name(&self.table).set_key(Some(key(pk_of(m), keys::mapping_sk(&m.id))));
        for (name, value) in names.iter().zip(item.entity_keys()) {
            match value {
                Some(v) => {
                    set.push(format!("#{name} = :{name}"));
                    req = req.expression_attribute_names(format!("#{name}"), *name).expression_attribute_values(format!(":{name}"), s(v));
                }
                None => {
                    remove.push(format!("#{name}"));
                    req = req.expression_attribute_names(format!("#{name}"), *name);
                }
            }
        }
        let mut expr = String::new();
        if !set.is_empty() {
            expr.push_str(&format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let out = req
            .update_expression(expr.trim())
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(m.version.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::dynamo("UpdateItem", e)),
        }
    }

    /// Every mapping of `technique`, in every tenant, as stored: whether it is counted in the
    /// statistics and whether its entity index keys are current (mappings stored before
    /// statistics were kept, or when each kind had its own entity partitions, are not).
    pub async fn stored_mappings_of_technique(&self, technique: &str) -> Result<Vec<StoredMapping>, StoreError> {
        let items = self.query_partition(Some(keys::GSI3), &keys::technique_gsi(technique), None).await?;
        items
            .into_iter()
            .map(|item| {
                let i = from_item::<MappingItem>(item)?;
                let indexed = i.entity_keys() == MappingItem::new(&i.mapping).entity_keys();
                Ok(StoredMapping { counted: i.counted, indexed, mapping: i.mapping })
            })
            .collect()
    }

    /// The write `tx` builds over the stored `old` (to `new`, or a delete), with its statistics:
    /// on condition that `old` is counted in them, and, for a mapping stored before statistics
    /// were kept (see [`crate::legacy`]), once more on condition that it is not.
    async fn write_over(&self, old: &Mapping, new: Option<&Mapping>, tx: impl Fn(bool) -> Result<Tx, WriteError>) -> Result<Result<(), Cancelled>, WriteError> {
        match self.transact_with_stats(Some(old), new, true, tx(true)?).await.map_err(store_write_error)? {
            Err(c) if c.condition_failed(Part::Item) && crate::legacy::uncounted_at(self, old).await.map_err(store_write_error)? => {
                self.transact_with_stats(Some(old), new, false, tx(false)?).await.map_err(store_write_error)
            }
            other => Ok(other),
        }
    }

    /// Runs `base` (the write's own items) with the statistics change of `old` to `new`, all or
    /// nothing, in one attempt: the presence records are read, then written on condition that
    /// they are still as read. When another writer changed them meanwhile, or the transaction
    /// conflicted with another, nothing is written and the write is [`StoreError::Contended`];
    /// throttled, it is [`StoreError::Unavailable`]. Whoever retries does so for the whole write.
    async fn transact_with_stats(
        &self,
        old: Option<&Mapping>,
        new: Option<&Mapping>,
        old_counted: bool,
        base: Tx,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let tenant = old.or(new).map(|m| m.tenant.as_str()).unwrap_or_default();
        let wanted = stats::presence_keys(old.filter(|_| old_counted), new);
        let read = self.presence(tenant, &wanted).await?;
        let (extra, presence) = self.stats_items(tenant, &stats::change_counted(old, new, old_counted, &read))?;
        let mut tx = base;
        for (i, item) in extra.into_iter().enumerate() {
            tx.push(if i < presence { Part::Presence } else { Part::Counter }, item);
        }
        match self.transact(tx).await? {
            Ok(()) => Ok(Ok(())),
            // the write's own conditions decide first: a stale item is stale whatever else happened
            Err(c) if [Part::Item, Part::Guard, Part::OldGuard, Part::Audit].into_iter().any(|p| c.condition_failed(p)) => Ok(Err(c)),
            // a change of an entity's access since the mapping's copy was read, or concurrent writers
            Err(c) if c.condition_failed(Part::Presence) || c.condition_failed(Part::Access) || c.any(&["TransactionConflict"]) => {
                Err(StoreError::Contended { op: "TransactWriteItems" })
            }
            Err(c) if c.any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) => Err(StoreError::Unavailable {
                service: "DynamoDB",
                op: "TransactWriteItems",
                detail: "throttled".into(),
                source: Some(Box::new(c.into_error())),
            }),
            Err(c) => Ok(Err(c)),
        }
    }
}

#[async_trait]
impl MappingRepo for Store {
    async fn mapping(&self, tenant: &TenantId, kind: MappingKind, id: &str) -> Result<Option<Mapping>, RepoError> {
        Ok(self.get_item::<MappingItem>(&keys::mapping_pk(tenant.as_str(), kind.as_str()), &keys::mapping_sk(id)).await?.map(|i| i.mapping))
    }

    async fn same_mapping(&self, m: &Mapping) -> Result<Option<Mapping>, RepoError> {
        #[derive(Deserialize)]
        struct Guard {
            mapping_id: String,
        }
        match self.get_item::<Guard>(&pk_of(m), &keys::guard_sk(&m.sameness())).await? {
            Some(g) => self.mapping(&m.tenant, m.kind, &g.mapping_id).await,
            None => Ok(None),
        }
    }

    async fn create_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let t = &self.table;
        let tx = (|| {
            let mut tx = Tx::default()
                .with(Part::Item, versioned_put(t, m, None, true)?)
                .with(Part::Guard, guard_put(t, m)?)
                .with(Part::Audit, audit_put(t, audit)?)
                .with(Part::Counter, use_counter(t, m, 1)?);
            for a in access_parts(t, m, 1)? {
                tx.push(Part::Access, a);
            }
            Ok::<_, StoreError>(tx)
        })()
        .map_err(store_write_error)?;
        match self.transact_with_stats(None, Some(m), true, tx).await.map_err(store_write_error)? {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Guard) || c.condition_failed(Part::Item) => Err(WriteError::Duplicate),
            Err(c) => Err(store_write_error(c.into_error())),
        }
    }

    async fn update_mapping(&self, old: &Mapping, new: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let t = &self.table;
        let moved = old.sameness() != new.sameness();
        let tx = |old_counted: bool| {
            (|| {
                let mut tx = Tx::default().with(Part::Item, versioned_put(t, new, Some(old.version), old_counted)?);
                if moved {
                    tx.push(Part::OldGuard, guard_delete(t, old)?);
                    tx.push(Part::Guard, guard_put(t, new)?);
                }
                tx.push(Part::Audit, audit_put(t, audit.clone())?);
                if (old.technique.as_str(), old.tactic_key()) != (new.technique.as_str(), new.tactic_key()) {
                    tx.push(Part::Counter, use_counter(t, old, -1)?);
                    tx.push(Part::Counter, use_counter(t, new, 1)?);
                }
                if let Some(c) = review_counter(t, Some(old), Some(new))? {
                    tx.push(Part::Counter, c);
                }
                if let Some(v) = mitre_domain::review::verdict(Some(old), Some(new)) {
                    tx.push(Part::Counter, super::feedback::verdict_counter(t, &old.tenant, &v)?);
                }
                for a in access_parts(t, new, 0)? {
                    tx.push(Part::Access, a);
                }
                Ok::<_, StoreError>(tx)
            })()
            .map_err(store_write_error)
        };
        match self.write_over(old, Some(new), tx).await? {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Item) => Err(WriteError::Stale),
            Err(c) if moved && c.condition_failed(Part::Guard) => Err(WriteError::Duplicate),
            Err(c) => Err(store_write_error(c.into_error())),
        }
    }

    async fn delete_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let t = &self.table;
        let tx = |old_counted: bool| {
            (|| {
                let mut del = Delete::builder()
                    .table_name(t)
                    .set_key(Some(key(pk_of(m), keys::mapping_sk(&m.id))))
                    .condition_expression(as_read(old_counted))
                    .expression_attribute_values(":v", AttributeValue::N(m.version.to_string()));
                if old_counted {
                    del = del.expression_attribute_values(":t", AttributeValue::Bool(true));
                }
                let mut tx = Tx::default()
                    .with(Part::Item, TransactWriteItem::builder().delete(del.build()?).build())
                    .with(Part::OldGuard, guard_delete(t, m)?)
                    .with(Part::Audit, audit_put(t, audit.clone())?)
                    .with(Part::Counter, use_counter(t, m, -1)?);
                if let Some(c) = review_counter(t, Some(m), None)? {
                    tx.push(Part::Counter, c);
                }
                if let Some(v) = mitre_domain::review::verdict(Some(m), None) {
                    tx.push(Part::Counter, super::feedback::verdict_counter(t, &m.tenant, &v)?);
                }
                for a in access_parts(t, m, -1)? {
                    tx.push(Part::Access, a);
                }
                Ok::<_, StoreError>(tx)
            })()
            .map_err(store_write_error)
        };
        match self.write_over(m, None, tx).await? {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Item) => Err(WriteError::Stale),
            Err(c) => Err(store_write_error(c.into_error())),
        }
    }

    async fn list_mappings(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        filter: &MappingFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Mapping>, RepoError> {
        let q = mapping_query(tenant, Some(kind), filter)?;
        // the index layout is part of the list: a cursor of the per-kind entity partitions is refused, not misread
        let fingerprint = cursor::fingerprint(&(tenant, kind, filter, crate::legacy::MAPPING_INDEX_LAYOUT));
        let mut start = cursor.map(|c| crate::ddb::cursor_key(c, &fingerprint)).transpose()?;
        // A cursor names only a mapping the page returned: never one the filter (or the
        // caller's sight) dropped. So a page reads on until it returns one, or the list ends.
        let (page, next) = loop {
            let (page, next) = self.query_filled(&q, start, limit).await?;
            match next {
                Some(k) if page.is_empty() => start = Some(k),
                next => break (page, next),
            }
        };
        let next_cursor = match (next, page.last()) {
            (Some(_), Some(last)) => Some(crate::ddb::key_cursor(&item_key(last, q.index), &fingerprint)),
            _ => None,
        };
        let items = page.into_iter().map(mapping_from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// With an entity condition, the mappings of every kind that name the entity share one
    /// index partition: one Query (a page per 1 MB) instead of one per kind.
    async fn all_mappings(&self, tenant: &TenantId, kinds: &[MappingKind], filter: &MappingFilter) -> Result<Vec<Mapping>, RepoError> {
        if filter.entities.is_empty() {
            return mitre_domain::repo::all_mappings_by_kind(self, tenant, kinds, filter).await;
        }
        let items = self.query_all(&mapping_query(tenant, None, filter)?).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let m = mapping_from_item(item)?;
            if kinds.contains(&m.kind) {
                out.push(m);
            }
        }
        // as kind after kind would list them
        out.sort_by_cached_key(|m| (kinds.iter().position(|k| *k == m.kind), m.id.clone()));
        Ok(out)
    }
}

/// The key of `item` as a Query of `index` continues from: the table's key and the index's.
fn item_key(item: &Item, index: Option<&str>) -> Item {
    let mut names = vec!["pk".to_string(), "sk".to_string()];
    if let Some(i) = index {
        names.extend([format!("{i}pk"), format!("{i}sk")]);
    }
    names.into_iter().filter_map(|n| item.get(&n).map(|v| (n, v.clone()))).collect()
}

/// The Query of a tenant's mappings that pass `filter`: of one kind, or with an entity
/// condition of every kind that has the entity field. The first entity condition picks its
/// index, else a technique picks gsi3, else the kind's partition; every other condition filters.
pub(crate) fn mapping_query(tenant: &TenantId, kind: Option<MappingKind>, filter: &MappingFilter) -> Result<Query<'static>, RepoError> {
    let tenant_s = tenant.as_str();
    let kind_s = kind.map(MappingKind::as_str);
    let mut f = Filter::default();
    let mut access: Option<Query<'static>> = None;
    for e in &filter.entities {
        let (field, value) = (e.field(), e.id.as_str());
        let has_field = |k: MappingKind| k.entity_fields().contains(&field);
        match kind {
            Some(k) if !has_field(k) => return Err(RepoError::Backend(format!("a {k} mapping has no {field}").into())),
            None if !MappingKind::ALL.into_iter().any(has_field) => return Err(RepoError::Backend(format!("no mapping has {field}").into())),
            _ => {}
        }
        if access.is_none() {
            access = Some(Query {
                index: Some(keys::mapping_entity_index(field)),
                pk: keys::mapping_entity_gsi(tenant_s, field, value),
                sk_prefix: kind_s.map(keys::mapping_entity_kind_prefix),
                ..Query::default()
            });
        } else {
            f.compare(field, "=", value);
        }
    }
    if let Some(t) = &filter.technique {
        match (&access, kind_s) {
            (None, Some(k)) => {
                access = Some(Query {
                    index: Some(keys::GSI3),
                    pk: keys::technique_gsi(t.as_str()),
                    sk_prefix: Some(keys::technique_gsi_tenant_prefix(tenant_s, k)),
                    ..Query::default()
                })
            }
            _ => {
                f.compare("technique", "=", t.as_str());
            }
        }
    }
    if let Some(t) = &filter.tactic {
        match &t.stix_id {
            Some(id) => f.equals_or_absent_then("tactic_id", id.as_str(), "tactic", t.shortname.as_str()),
            None => f.compare("tactic", "=", t.shortname.as_str()),
        };
    }
    if let Sight::Groups(groups) = &filter.sight {
        // every entity the mappings may name: open, or restricted to one of the caller's groups
        let groups: Vec<String> = groups.iter().cloned().collect();
        let kinds = kind.map(|k| k.entity_fields().to_vec()).unwrap_or_else(|| MappingKind::ALL.iter().map(|k| k.entity_field()).collect());
        for field in kinds {
            if let Some(k) = MappingKind::of_entity_field(field) {
                f.absent_or_contains_any(&["access", k.as_str(), "groups"], &groups);
            }
        }
    }
    if let Some(d) = filter.detection_method {
        f.compare("detection_method", "=", d.as_str());
    }
    if let Some(i) = filter.impact_level {
        f.compare("impact_level", "=", i.as_str());
    }
    if let Some(m) = filter.mitigation_status {
        f.compare("mitigation_status", "=", m.as_str());
    }
    if let Some(c) = filter.confidence_min {
        f.compare_number("confidence_score", ">=", c.into());
    }
    if let Some(c) = filter.confidence_max {
        f.compare_number("confidence_score", "<=", c.into());
    }
    if let Some(a) = filter.auto_suggested {
        f.compare("detection_method", if a { "=" } else { "<>" }, mitre_domain::DetectionMethod::AutoSuggested.as_str());
    }
    if let Some(r) = filter.needs_review {
        f.exists("needs_review", r);
    }
    if let Some(c) = &filter.created_by {
        f.compare("created_by", "=", c.as_str());
    }
    if let Some(r) = filter.reviewed {
        f.exists("reviewed_by", r);
    }
    if let Some(from) = filter.observed_from {
        f.compare("last_observed", ">=", from.to_string());
    }
    if let Some(to) = filter.observed_to {
        f.compare("first_observed", "<=", to.to_string());
    }
    let mut q = match (access, kind_s) {
        (Some(q), _) => q,
        (None, Some(k)) => Query { pk: keys::mapping_pk(tenant_s, k), sk_prefix: Some(keys::MAPPING_SK_PREFIX.into()), ..Query::default() },
        (None, None) => return Err(RepoError::Backend("a query of every kind of mapping needs an entity condition".into())),
    };
    q.filter = f;
    Ok(q)
}

/// One (technique, tactic) in use, with its mapping count across tenants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TechniqueUse {
    pub technique: String,
    /// The tactic's shortname when a mapping last wrote the counter.
    pub tactic: String,
    /// The tactic's STIX id; absent on counters of mappings written before identities were stored.
    #[serde(default)]
    pub tactic_id: Option<String>,
    pub count: i64,
}

impl TechniqueUse {
    /// Whether `m` is counted here.
    pub fn counts(&self, m: &Mapping) -> bool {
        m.technique.as_str() == self.technique && m.tactic_key() == self.tactic_id.as_deref().unwrap_or(&self.tactic)
    }
}

impl Store {
    /// Every (technique, tactic) that mappings use, across tenants: one Query.
    pub async fn technique_uses(&self) -> Result<Vec<TechniqueUse>, StoreError> {
        let items = self.query_partition(None, keys::STATS_PK, Some(keys::USE_COUNTER_SK_PREFIX)).await?;
        let uses: Vec<TechniqueUse> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(uses.into_iter().filter(|u| u.count > 0).collect())
    }

    /// How many mappings are flagged for an analyst.
    pub async fn review_count(&self) -> Result<i64, StoreError> {
        #[derive(Deserialize)]
        struct C {
            count: i64,
        }
        Ok(self.get_item::<C>(keys::CATALOG_PK, keys::REVIEW_SK).await?.map(|c| c.count).unwrap_or(0))
    }

    /// Every mapping of `technique`, in every tenant.
    pub async fn mappings_of_technique(&self, technique: &str) -> Result<Vec<Mapping>, StoreError> {
        let items = self.query_partition(Some(keys::GSI3), &keys::technique_gsi(technique), None).await?;
        items.into_iter().map(mapping_from_item).collect()
    }
}
