//! Tenant data: the principal registry, technique mappings and the audit log.
//!
//! | item | pk | sk | gsi1 | gsi2 | gsi3 |
//! | --- | --- | --- | --- | --- | --- |
//! | principal | `P#{arn}` | `P` | `PRINCIPALS` / `{arn}` | | |
//! | mapping | `T#{tenant}#M#{kind}` | `M#{id}` | `T#{tenant}#M#{kind}#{alert,incident,observable}_id#{v}` / `{id}` | `T#{tenant}#M#{kind}#case_id#{v}` / `{id}` | `MT#{technique}` / `T#{tenant}#{kind}#{id}` |
//! | uniqueness guard | `T#{tenant}#M#{kind}` | `U#{entities}#{technique}#{tactic}` | | | |
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use crate::ddb::{Item, from_item, key, s, to_item};
use crate::error::StoreError;
use crate::items::{AuditEntry, AuditItem};
use crate::{Store, keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
    Superuser,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            "superuser" => Some(Role::Superuser),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Superuser => "superuser",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub principal: String,
    pub tenant: String,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PrincipalItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    principal: Principal,
}

pub fn principal_pk(arn: &str) -> String {
    format!("P#{arn}")
}

/// The four kinds of mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingKind {
    Alert,
    Incident,
    Case,
    Observable,
}

impl MappingKind {
    pub const ALL: [MappingKind; 4] = [MappingKind::Alert, MappingKind::Incident, MappingKind::Case, MappingKind::Observable];

    pub fn as_str(self) -> &'static str {
        match self {
            MappingKind::Alert => "alert",
            MappingKind::Incident => "incident",
            MappingKind::Case => "case",
            MappingKind::Observable => "observable",
        }
    }

    /// The entity fields of this kind, the first in gsi1 and `case_id` in gsi2.
    pub fn entity_fields(self) -> &'static [&'static str] {
        match self {
            MappingKind::Alert => &["alert_id", "case_id"],
            MappingKind::Case => &["case_id", "alert_id"],
            MappingKind::Incident => &["incident_id"],
            MappingKind::Observable => &["observable_id"],
        }
    }
}

/// One observation of an ATT&CK technique on an alert, incident, case or observable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub id: String,
    pub kind: MappingKind,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observable_id: Option<String>,
    pub technique: String,
    pub technique_name: String,
    pub domain: mitre_attack::Domain,
    /// The tactic's shortname (kill-chain phase) when the mapping was last written, for reading.
    pub tactic: String,
    /// The tactic's identity: its STIX id, which a tactic keeps when ATT&CK renames it.
    /// Absent on mappings written before identities were stored (until `mitre migrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic_id: Option<String>,
    pub confidence_score: u8,
    pub detection_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
    pub impact_level: String,
    pub mitigation_status: String,
    pub first_observed: String,
    pub last_observed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Earlier techniques of this mapping (ATT&CK upgrades move mappings of revoked techniques).
    #[serde(default)]
    pub history: Vec<serde_json::Value>,
    /// Set when an analyst must look at the mapping (for example its technique was deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_review: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_by: String,
    pub updated_at: String,
    pub version: u64,
}

impl Mapping {
    pub fn entity(&self, field: &str) -> Option<&str> {
        match field {
            "alert_id" => self.alert_id.as_deref(),
            "case_id" => self.case_id.as_deref(),
            "incident_id" => self.incident_id.as_deref(),
            "observable_id" => self.observable_id.as_deref(),
            _ => None,
        }
    }

    /// What identifies the tactic in keys: its STIX id, or the shortname for mappings written
    /// before identities were stored.
    pub fn tactic_key(&self) -> &str {
        self.tactic_id.as_deref().unwrap_or(&self.tactic)
    }

    pub fn guard_sk(&self) -> String {
        let entities: Vec<&str> = self.kind.entity_fields().iter().map(|f| self.entity(f).unwrap_or("-")).collect();
        format!("U#{}#{}#{}", entities.join("#"), self.technique, self.tactic_key())
    }
}

pub fn mapping_pk(tenant: &str, kind: MappingKind) -> String {
    format!("T#{tenant}#M#{}", kind.as_str())
}

pub fn mapping_sk(id: &str) -> String {
    format!("M#{id}")
}

/// The index and partition that list mappings of `kind` linked to `field` = `value`.
pub fn entity_index(tenant: &str, kind: MappingKind, field: &str, value: &str) -> (&'static str, String) {
    let index = if field == "case_id" && kind != MappingKind::Case || field == "alert_id" && kind == MappingKind::Case { "gsi2" } else { "gsi1" };
    (index, format!("T#{tenant}#M#{}#{field}#{value}", kind.as_str()))
}

pub fn technique_gsi(technique: &str) -> String {
    format!("MT#{technique}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MappingItem {
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
    #[serde(flatten)]
    mapping: Mapping,
}

fn mapping_item(m: &Mapping) -> MappingItem {
    let fields = m.kind.entity_fields();
    let slot = |field: &str| m.entity(field).map(|v| entity_index(&m.tenant, m.kind, field, v));
    let mut g1 = None;
    let mut g2 = None;
    for f in fields {
        if let Some((index, pk)) = slot(f) {
            if index == "gsi1" {
                g1 = Some(pk);
            } else {
                g2 = Some(pk);
            }
        }
    }
    MappingItem {
        pk: mapping_pk(&m.tenant, m.kind),
        sk: mapping_sk(&m.id),
        gsi1sk: g1.as_ref().map(|_| m.id.clone()),
        gsi1pk: g1,
        gsi2sk: g2.as_ref().map(|_| m.id.clone()),
        gsi2pk: g2,
        gsi3pk: technique_gsi(&m.technique),
        gsi3sk: format!("T#{}#{}#{}", m.tenant, m.kind.as_str(), m.id),
        mapping: m.clone(),
    }
}

/// How a write of tenant data went.
#[derive(Debug)]
pub enum WriteError {
    /// The item changed since it was read (its version differs) or is gone.
    Stale,
    /// Another mapping already holds this entity, technique and tactic.
    Duplicate,
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

/// The partition of mapping counters: one item per (technique, tactic) in use across all
/// tenants, and `REVIEW`, the number of mappings flagged for an analyst. Verification reads
/// these instead of every mapping, so its cost follows the techniques in use, not the data.
pub const STATS_PK: &str = "MAPSTATS";
/// The flagged-mapping counter lives beside the domain states, so `status` reads both in one Query.
pub const REVIEW_SK: &str = "REVIEW";

fn counter(table: &str, sk: String, delta: i64, of: Option<&Mapping>) -> TransactWriteItem {
    let pk = if of.is_some() { STATS_PK } else { keys::CATALOG_PK };
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":d", AttributeValue::N(delta.to_string()));
    let expr = match of {
        Some(m) => {
            u = u.expression_attribute_values(":t", s(&m.technique)).expression_attribute_values(":a", s(&m.tactic));
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
    TransactWriteItem::builder().update(u.update_expression(expr).build().expect("update")).build()
}

/// The use counter of the mapping's (technique, tactic identity).
fn use_counter(table: &str, m: &Mapping, delta: i64) -> TransactWriteItem {
    counter(table, format!("T#{}#{}", m.technique, m.tactic_key()), delta, Some(m))
}

fn review_delta(old: Option<&Mapping>, new: Option<&Mapping>) -> i64 {
    let flagged = |m: Option<&Mapping>| m.is_some_and(|m| m.needs_review.is_some()) as i64;
    flagged(new) - flagged(old)
}

fn audit_put(table: &str, entry: AuditEntry) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(to_item(&AuditItem::new(entry))?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("put"),
        )
        .build())
}

fn cancellation_reasons(e: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>) -> Option<Vec<String>> {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect())
        }
        _ => None,
    }
}

impl Store {
    // ---- principals ----

    pub async fn principal(&self, arn: &str) -> Result<Option<Principal>, StoreError> {
        Ok(self.get_item::<PrincipalItem>(&principal_pk(arn), "P").await?.map(|i| i.principal))
    }

    pub async fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        let items = self.query_partition(Some("gsi1"), "PRINCIPALS", None).await?;
        items.into_iter().map(|i| from_item::<PrincipalItem>(i).map(|p| p.principal)).collect()
    }

    /// Registers or changes a principal, with its audit entry, in one transaction.
    pub async fn put_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), StoreError> {
        let item = PrincipalItem { pk: principal_pk(&p.principal), sk: "P".into(), gsi1pk: "PRINCIPALS".into(), gsi1sk: p.principal.clone(), principal: p.clone() };
        let put = Put::builder().table_name(&self.table).set_item(Some(to_item(&item)?)).build().expect("put");
        self.ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(audit_put(&self.table, audit)?)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
        Ok(())
    }

    /// Removes a principal (if it is still as read), with its audit entry.
    pub async fn delete_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), WriteError> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(principal_pk(&p.principal), "P")))
            .condition_expression("updated_at = :u")
            .expression_attribute_values(":u", s(&p.updated_at))
            .build()
            .expect("delete");
        match self
            .ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(del).build())
            .transact_items(audit_put(&self.table, audit)?)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if cancellation_reasons(&e).is_some_and(|r| r.first().is_some_and(|c| c == "ConditionalCheckFailed")) => Err(WriteError::Stale),
            Err(e) => Err(StoreError::dynamo("TransactWriteItems", e).into()),
        }
    }

    // ---- mappings ----

    pub async fn mapping(&self, tenant: &str, kind: MappingKind, id: &str) -> Result<Option<Mapping>, StoreError> {
        Ok(self.get_item::<MappingItem>(&mapping_pk(tenant, kind), &mapping_sk(id)).await?.map(|i| i.mapping))
    }

    /// The mapping holding this entity, technique and tactic, if any.
    pub async fn mapping_by_guard(&self, m: &Mapping) -> Result<Option<Mapping>, StoreError> {
        #[derive(Deserialize)]
        struct Guard {
            mapping_id: String,
        }
        match self.get_item::<Guard>(&mapping_pk(&m.tenant, m.kind), &m.guard_sk()).await? {
            Some(g) => self.mapping(&m.tenant, m.kind, &g.mapping_id).await,
            None => Ok(None),
        }
    }

    /// Creates a mapping, its uniqueness guard and its audit entry atomically.
    pub async fn create_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let table = &self.table;
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(&mapping_item(m))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("put");
        let guard = Put::builder()
            .table_name(table)
            .set_item(Some(HashMap::from([
                ("pk".to_string(), s(mapping_pk(&m.tenant, m.kind))),
                ("sk".to_string(), s(m.guard_sk())),
                ("mapping_id".to_string(), s(&m.id)),
            ])))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("put");
        match self
            .ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().put(guard).build())
            .transact_items(audit_put(table, audit)?)
            .transact_items(use_counter(table, m, 1))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if cancellation_reasons(&e).is_some_and(|r| r.get(1).is_some_and(|c| c == "ConditionalCheckFailed")) => Err(WriteError::Duplicate),
            Err(e) => Err(StoreError::dynamo("TransactWriteItems", e).into()),
        }
    }

    /// Replaces `old` (at its version) by `new` (whose version is one more), moving the
    /// uniqueness guard when technique or tactic changed, with the audit entry; all or nothing.
    pub async fn update_mapping(&self, old: &Mapping, new: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let table = &self.table;
        let mut items = vec![TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(to_item(&mapping_item(new))?))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", AttributeValue::N(old.version.to_string()))
                    .build()
                    .expect("put"),
            )
            .build()];
        let moved = old.guard_sk() != new.guard_sk();
        if moved {
            items.push(
                TransactWriteItem::builder()
                    .delete(Delete::builder().table_name(table).set_key(Some(key(mapping_pk(&old.tenant, old.kind), old.guard_sk()))).build().expect("delete"))
                    .build(),
            );
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(table)
                            .set_item(Some(HashMap::from([
                                ("pk".to_string(), s(mapping_pk(&new.tenant, new.kind))),
                                ("sk".to_string(), s(new.guard_sk())),
                                ("mapping_id".to_string(), s(&new.id)),
                            ])))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("put"),
                    )
                    .build(),
            );
        }
        items.push(audit_put(table, audit)?);
        if (old.technique.as_str(), old.tactic_key()) != (new.technique.as_str(), new.tactic_key()) {
            items.push(use_counter(table, old, -1));
            items.push(use_counter(table, new, 1));
        }
        let review = review_delta(Some(old), Some(new));
        if review != 0 {
            items.push(counter(table, REVIEW_SK.into(), review, None));
        }
        match self.ddb.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_reasons(&e) {
                Some(r) if r.first().is_some_and(|c| c == "ConditionalCheckFailed") => Err(WriteError::Stale),
                Some(r) if moved && r.get(2).is_some_and(|c| c == "ConditionalCheckFailed") => Err(WriteError::Duplicate),
                _ => Err(StoreError::dynamo("TransactWriteItems", e).into()),
            },
        }
    }

    /// Deletes a mapping at its version, with its guard and audit entry.
    pub async fn delete_mapping(&self, m: &Mapping, audit: AuditEntry) -> Result<(), WriteError> {
        let table = &self.table;
        let del = Delete::builder()
            .table_name(table)
            .set_key(Some(key(mapping_pk(&m.tenant, m.kind), mapping_sk(&m.id))))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(m.version.to_string()))
            .build()
            .expect("delete");
        let guard = Delete::builder().table_name(table).set_key(Some(key(mapping_pk(&m.tenant, m.kind), m.guard_sk()))).build().expect("delete");
        let mut items = vec![
            TransactWriteItem::builder().delete(del).build(),
            TransactWriteItem::builder().delete(guard).build(),
            audit_put(table, audit)?,
            use_counter(table, m, -1),
        ];
        let review = review_delta(Some(m), None);
        if review != 0 {
            items.push(counter(table, REVIEW_SK.into(), review, None));
        }
        match self.ddb.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) if cancellation_reasons(&e).is_some_and(|r| r.first().is_some_and(|c| c == "ConditionalCheckFailed")) => Err(WriteError::Stale),
            Err(e) => Err(StoreError::dynamo("TransactWriteItems", e).into()),
        }
    }

    /// Up to `limit` items of a filtered Query, reading on while the filter drops items (at most
    /// 20 calls), and the key to continue from.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_filled(
        &self,
        index: Option<&str>,
        pk: &str,
        sk_prefix: Option<&str>,
        filter: Option<(&str, HashMap<String, AttributeValue>)>,
        names: &[String],
        mut start: Option<Item>,
        limit: usize,
        newest_first: bool,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut items = Vec::new();
        let mut next = None;
        for _ in 0..20 {
            let remaining = (limit - items.len()) as i32;
            let (page, last) = self
                .query_page_inner(index, pk, sk_prefix, filter.clone(), names, start.take(), Some(remaining), newest_first)
                .await?;
            items.extend(page);
            next = last;
            if items.len() >= limit || next.is_none() {
                break;
            }
            start = next.clone();
        }
        Ok((items, next))
    }

    /// One Query call: the page and the key to continue from (None on the last page).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn query_page_inner(
        &self,
        index: Option<&str>,
        pk: &str,
        sk_prefix: Option<&str>,
        filter: Option<(&str, HashMap<String, AttributeValue>)>,
        names: &[String],
        start: Option<Item>,
        limit: Option<i32>,
        newest_first: bool,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let (pk_name, sk_name) = match index {
            Some(i) => (format!("{i}pk"), format!("{i}sk")),
            None => ("pk".to_string(), "sk".to_string()),
        };
        let mut q = self
            .ddb
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#p", &pk_name)
            .expression_attribute_values(":p", s(pk))
            .set_exclusive_start_key(start)
            .set_limit(limit)
            .scan_index_forward(!newest_first)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
        q = match sk_prefix {
            Some(prefix) => q
                .key_condition_expression("#p = :p AND begins_with(#s, :s)")
                .expression_attribute_names("#s", &sk_name)
                .expression_attribute_values(":s", s(prefix)),
            None => q.key_condition_expression("#p = :p"),
        };
        for n in names {
            q = q.expression_attribute_names(n, n.trim_start_matches('#'));
        }
        if let Some((expr, values)) = filter {
            q = q.filter_expression(expr);
            for (k, v) in values {
                q = q.expression_attribute_values(k, v);
            }
        }
        let out = q.send().await.map_err(|e| StoreError::dynamo("Query", e))?;
        crate::metrics::record(crate::metrics::capacity_of(out.consumed_capacity()));
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }
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
        m.technique == self.technique && m.tactic_key() == self.tactic_id.as_deref().unwrap_or(&self.tactic)
    }
}

impl Store {
    /// Every (technique, tactic) that mappings use, across tenants: one Query.
    pub async fn technique_uses(&self) -> Result<Vec<TechniqueUse>, StoreError> {
        let items = self.query_partition(None, STATS_PK, Some("T#")).await?;
        let uses: Vec<TechniqueUse> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(uses.into_iter().filter(|u| u.count > 0).collect())
    }

    /// How many mappings are flagged for an analyst.
    pub async fn review_count(&self) -> Result<i64, StoreError> {
        #[derive(Deserialize)]
        struct C {
            count: i64,
        }
        Ok(self.get_item::<C>(keys::CATALOG_PK, REVIEW_SK).await?.map(|c| c.count).unwrap_or(0))
    }

    /// Every mapping of `technique`, in every tenant.
    pub async fn mappings_of_technique(&self, technique: &str) -> Result<Vec<Mapping>, StoreError> {
        let items = self.query_partition(Some("gsi3"), &technique_gsi(technique), None).await?;
        items.into_iter().map(mapping_from_item).collect()
    }
}

pub fn mapping_from_item(item: Item) -> Result<Mapping, StoreError> {
    from_item::<MappingItem>(item).map(|i| i.mapping)
}

pub fn audit_from_item(item: Item) -> Result<AuditEntry, StoreError> {
    from_item::<AuditItem>(item).map(|i| i.entry)
}

pub fn system_tenant() -> &'static str {
    keys::SYSTEM_TENANT
}

/// Now, as stored: RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
