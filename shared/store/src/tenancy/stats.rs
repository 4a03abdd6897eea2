//! Statistics in the table (see `mitre_domain::stats`): presence records beside the tenant's
//! mappings, and counters in one partition per tenant and domain (`T#{tenant}#STATS#{domain}`),
//! one item per bucket shard, so that a read is one Query whatever the number of mappings.
use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use mitre_attack::Domain;
use mitre_domain::stats::{Aggregates, Bucket, BucketKey, Counter, Dim, Presence, PresenceKey, StatsChange, Window};
use mitre_domain::{RepoError, StatsRepo, TenantId};

use crate::ddb::{Item, Query, key, n};
use crate::error::StoreError;
use crate::{Store, keys};

fn presence_key(tenant: &str, k: &PresenceKey) -> (String, String) {
    let (dim, v) = match &k.dim {
        Dim::Technique(t) => ('T', t),
        Dim::Tactic(a) => ('A', a),
    };
    (keys::mapping_pk(tenant, k.kind.as_str()), keys::presence_sk(k.domain, dim, v, k.field, &k.entity))
}

fn bucket_sk(b: &BucketKey) -> String {
    match &b.bucket {
        Bucket::All => keys::stats_all_sk(b.shard),
        Bucket::Month(m) => keys::stats_month_sk(m, b.shard),
    }
}

fn presence_of(item: &Item) -> Result<Presence, StoreError> {
    let bad = || StoreError::Corrupt("a statistics presence record without months or version".into());
    let months = item.get("months").and_then(|m| m.as_m().ok()).ok_or_else(bad)?;
    let version = item.get("v").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let months = months.iter().map(|(m, c)| c.as_n().ok().and_then(|c| c.parse().ok()).map(|c| (m.clone(), c)).ok_or_else(bad)).collect::<Result<_, _>>()?;
    Ok(Presence { months, version })
}

impl Store {
    /// The presence records of `wanted` as stored (absent ones left out): one consistent
    /// BatchGetItem. Keys DynamoDB left unprocessed (it does so when throttled) make the read
    /// [`StoreError::Unavailable`], for whoever retries the write.
    pub(super) async fn presence(&self, tenant: &str, wanted: &BTreeSet<PresenceKey>) -> Result<HashMap<PresenceKey, Presence>, StoreError> {
        let mut by_key: HashMap<(String, String), PresenceKey> = wanted.iter().map(|k| (presence_key(tenant, k), k.clone())).collect();
        let mut out = HashMap::new();
        for item in self.batch_get_consistent(by_key.keys().cloned().collect::<Vec<_>>()).await? {
            let (Some(pk), Some(sk)) = (item.get("pk").and_then(|v| v.as_s().ok()), item.get("sk").and_then(|v| v.as_s().ok())) else { continue };
            if let Some(k) = by_key.remove(&(pk.clone(), sk.clone())) {
                out.insert(k, presence_of(&item)?);
            }
        }
        Ok(out)
    }

    /// The transaction items of a statistics change: each presence record written or removed
    /// on condition that it is as read, then one ADD per counter item.
    pub(super) fn stats_items(&self, tenant: &str, change: &StatsChange) -> Result<(Vec<TransactWriteItem>, usize), StoreError> {
        let t = &self.table;
        let mut items = Vec::new();
        for (k, (before, after)) in &change.presence {
            let (pk, sk) = presence_key(tenant, k);
            let item = match after {
                Some(p) => {
                    let mut item = key(&pk, &sk);
                    item.insert("months".into(), AttributeValue::M(p.months.iter().map(|(m, c)| (m.clone(), n(c))).collect()));
                    item.insert("v".into(), n(p.version));
                    let put = Put::builder().table_name(t).set_item(Some(item));
                    let put = match before {
                        Some(b) => put.condition_expression("v = :v").expression_attribute_values(":v", n(b.version)),
                        None => put.condition_expression("attribute_not_exists(pk)"),
                    };
                    TransactWriteItem::builder().put(put.build()?).build()
                }
                None => {
                    let version = before.as_ref().map(|b| b.version).unwrap_or_default();
                    let del = Delete::builder()
                        .table_name(t)
                        .set_key(Some(key(&pk, &sk)))
                        .condition_expression("v = :v")
                        .expression_attribute_values(":v", n(version));
                    TransactWriteItem::builder().delete(del.build()?).build()
                }
            };
            items.push(item);
        }
        let presence = items.len();
        for (b, deltas) in &change.deltas {
            let mut u = Update::builder().table_name(t).set_key(Some(key(keys::stats_pk(tenant, b.domain), bucket_sk(b))));
            let mut adds = Vec::new();
            for (i, (c, d)) in deltas.counts.iter().enumerate() {
                u = u.expression_attribute_names(format!("#c{i}"), c.name()).expression_attribute_values(format!(":d{i}"), n(d));
                adds.push(format!("#c{i} :d{i}"));
            }
            items.push(TransactWriteItem::builder().update(u.update_expression(format!("ADD {}", adds.join(", "))).build()?).build());
        }
        Ok((items, presence))
    }
}

/// Sums the counters of the items a statistics Query read.
fn sum_items(items: Vec<Item>) -> Aggregates {
    let mut out = Aggregates::default();
    for item in items {
        for (name, v) in item {
            if let (Some(c), Ok(v)) = (Counter::parse(&name), v.as_n()) {
                out.add(c, v.parse().unwrap_or(0));
            }
        }
    }
    out
}

#[async_trait]
impl StatsRepo for Store {
    async fn statistics(&self, tenant: &TenantId, domain: Domain, window: &Window) -> Result<Aggregates, RepoError> {
        let mut q = Query { pk: keys::stats_pk(tenant.as_str(), domain), ..Query::default() };
        if window.is_all() {
            q.sk_prefix = Some(keys::STATS_ALL_PREFIX.into());
        } else {
            q.sk_between = Some(keys::stats_month_range(window.from.as_deref(), window.to.as_deref()));
        }
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.query_page(&q, start.take(), None).await?;
            items.extend(page);
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(sum_items(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddb::s;

    #[test]
    fn counters_are_summed_from_their_attributes_only() {
        let c = Counter::TechniqueEntities { kind: mitre_domain::MappingKind::Case, technique: "T1078".into() };
        let item = |v: i64| Item::from([("pk".into(), s("T#a#STATS#enterprise-attack")), ("sk".into(), s("ALL#00")), (c.name(), n(v))]);
        let total = sum_items(vec![item(2), item(3), item(-5), item(4)]);
        assert_eq!(total.get(&c), 4);
        assert_eq!(total.counts.len(), 1);
    }
}
