//! DynamoDB helpers: typed get/put/query and batch writes with bounded parallelism,
//! retry of UnprocessedItems under the batch retry policy.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{StreamExt, stream};
use mitre_domain::RetryPolicy;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Store, error::StoreError};

pub type Item = HashMap<String, AttributeValue>;

/// At most this many write requests go into one BatchWriteItem call.
pub const BATCH_SIZE: usize = 25;

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(format!("cannot encode item: {e}")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build()?).build())
}

pub fn delete_request(pk: impl Into<String>, sk: impl Into<String>) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(key(pk, sk))).build()?).build())
}

/// A continuation key as an opaque cursor bound to one list (its fingerprint).
pub fn key_cursor(key: &Item, fingerprint: &str) -> String {
    let k: serde_json::Map<String, serde_json::Value> =
        key.iter().filter_map(|(n, v)| v.as_s().ok().map(|s| (n.clone(), serde_json::Value::String(s.clone())))).collect();
    mitre_domain::cursor::encode(&serde_json::Value::Object(k), fingerprint)
}

/// The continuation key of a cursor of the list `fingerprint`.
pub fn cursor_key(cursor: &str, fingerprint: &str) -> Result<Item, mitre_domain::RepoError> {
    let v = mitre_domain::cursor::decode(cursor, fingerprint)?;
    let k = v.as_object().ok_or(mitre_domain::RepoError::BadCursor)?;
    k.iter().map(|(n, v)| v.as_str().map(|s| (n.clone(), AttributeValue::S(s.to_string()))).ok_or(mitre_domain::RepoError::BadCursor)).collect()
}

/// One Query: a partition of the table or of an index, optionally a sort key prefix and a filter.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pub index: Option<&'a str>,
    pub pk: String,
    pub sk_prefix: Option<String>,
    /// A sort key range (inclusive), instead of a prefix.
    pub sk_between: Option<(String, String)>,
    pub filter: Filter,
    pub newest_first: bool,
}

/// A filter expression: conditions joined by AND, every attribute named `#name`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    conditions: Vec<String>,
    names: std::collections::BTreeMap<String, String>,
    values: std::collections::BTreeMap<String, AttributeValue>,
}

impl Filter {
    fn name(&mut self, attr: &str) -> String {
        let n = format!("#{attr}");
        self.names.insert(n.clone(), attr.to_string());
        n
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    /// `attr op value` (op one of =, <, <=, >, >=).
    pub fn compare(&mut self, attr: &str, op: &str, value: impl Into<String>) -> &mut Self {
        let (n, v) = (self.name(attr), self.value(s(value)));
        self.conditions.push(format!("{n} {op} {v}"));
        self
    }

    /// `attr = value`, or, on items without `attr`, `fallback_attr = fallback`.
    pub fn equals_or_absent_then(&mut self, attr: &str, value: impl Into<String>, fallback_attr: &str, fallback: impl Into<String>) -> &mut Self {
        let (n, v) = (self.name(attr), self.value(s(value)));
        let (fnm, fv) = (self.name(fallback_attr), self.value(s(fallback)));
        self.conditions.push(format!("({n} = {v} OR (attribute_not_exists({n}) AND {fnm} = {fv}))"));
        self
    }

    /// `attr op number` (op one of =, <, <=, >, >=).
    pub fn compare_number(&mut self, attr: &str, op: &str, value: i64) -> &mut Self {
        let (n, v) = (self.name(attr), self.value(AttributeValue::N(value.to_string())));
        self.conditions.push(format!("{n} {op} {v}"));
        self
    }

    /// Items that have `attr` (present) or do not.
    pub fn exists(&mut self, attr: &str, present: bool) -> &mut Self {
        let n = self.name(attr);
        self.conditions.push(if present { format!("attribute_exists({n})") } else { format!("attribute_not_exists({n})") });
        self
    }

    /// Items whose list at `path` (attribute names) is absent or holds one of `values`.
    pub fn absent_or_contains_any(&mut self, path: &[&str], values: &[String]) -> &mut Self {
        let path = path.iter().map(|a| self.name(a)).collect::<Vec<_>>().join(".");
        let mut alternatives = vec![format!("attribute_not_exists({path})")];
        for v in values {
            let v = self.value(s(v));
            alternatives.push(format!("contains({path}, {v})"));
        }
        self.conditions.push(format!("({})", alternatives.join(" OR ")));
        self
    }

    pub fn expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }
}

/// What [`Store::batch_write`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchWritten {
    pub requests: u64,
    /// Write capacity units consumed, index writes included.
    pub write_units: f64,
}

impl Store {
    pub async fn get_item<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<T>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        crate::metrics::record_capacity(crate::metrics::capacity_of(out.consumed_capacity()));
        out.item.map(from_item).transpose()
    }

    /// A stored relationship as the bundle had it, read from its pack (one GetItem).
    /// The items of `keys` (pk, sk) that exist: one consistent BatchGetItem (at most 100 keys).
    /// Keys DynamoDB left unprocessed (it does so when throttled) make the read
    /// [`StoreError::Unavailable`], for whoever retries.
    pub async fn batch_get_consistent(&self, keys: impl IntoIterator<Item = (String, String)>) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = keys.into_iter().map(|(pk, sk)| key(pk, sk)).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder().consistent_read(true).set_keys(Some(keys)).build()?;
        let got = self
            .ddb
            .batch_get_item()
            .request_items(&self.table, request)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
        crate::metrics::record_capacity(Some(got.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum()));
        if let Some(rest) = got.unprocessed_keys.as_ref().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()) {
            return Err(StoreError::unprocessed("BatchGetItem", rest.keys().len()));
        }
        Ok(got.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default())
    }

    pub async fn relationship(&self, domain: mitre_attack::Domain, stix_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let bucket = crate::items::relationship_bucket(stix_id);
        let Some(pack) =
            self.get_item::<crate::items::RelationshipPackItem>(&crate::keys::relationship_pack_pk(domain, bucket), crate::keys::RELATIONSHIPS_SK).await?
        else {
            return Ok(None);
        };
        Ok(pack.relationships()?.into_iter().find(|r| r.get("id").and_then(|v| v.as_str()) == Some(stix_id)))
    }

    /// Every item of a partition (optionally of a sort key prefix), following pagination.
    pub async fn query_partition(&self, index: Option<&str>, pk: &str, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        self.query_all(&Query { index, pk: pk.to_string(), sk_prefix: sk_prefix.map(str::to_string), ..Query::default() }).await
    }

    /// Every item `q` selects, following pagination.
    pub async fn query_all(&self, q: &Query<'_>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (page, next) = self.query_page(q, start.take(), None).await?;
            items.extend(page);
            match next {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }

    /// Up to `limit` items of a filtered Query, reading on while the filter drops items (at most
    /// 20 calls), and the key to continue from.
    pub async fn query_filled(&self, q: &Query<'_>, mut start: Option<Item>, limit: usize) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut items = Vec::new();
        let mut next = None;
        for _ in 0..20 {
            let remaining = i32::try_from(limit - items.len()).unwrap_or(i32::MAX);
            let (page, last) = self.query_page(q, start.take(), Some(remaining)).await?;
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
    pub async fn query_page(&self, q: &Query<'_>, start: Option<Item>, limit: Option<i32>) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let (pk_name, sk_name) = match q.index {
            Some(i) => (format!("{i}pk"), format!("{i}sk")),
            None => ("pk".to_string(), "sk".to_string()),
        };
        let mut req = self
            .ddb
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_string))
            .expression_attribute_names("#p", &pk_name)
            .expression_attribute_values(":p", s(&q.pk))
            .set_exclusive_start_key(start)
            .set_limit(limit)
            .scan_index_forward(!q.newest_first)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
        req = match (&q.sk_prefix, &q.sk_between) {
            (_, Some((low, high))) => req
                .key_condition_expression("#p = :p AND #s BETWEEN :lo AND :hi")
                .expression_attribute_names("#s", &sk_name)
                .expression_attribute_values(":lo", s(low))
                .expression_attribute_values(":hi", s(high)),
            (Some(prefix), None) => req
                .key_condition_expression("#p = :p AND begins_with(#s, :s)")
                .expression_attribute_names("#s", &sk_name)
                .expression_attribute_values(":s", s(prefix)),
            (None, None) => req.key_condition_expression("#p = :p"),
        };
        if let Some(expr) = q.filter.expression() {
            req = req.filter_expression(expr);
            for (k, v) in &q.filter.names {
                req = req.expression_attribute_names(k, v);
            }
            for (k, v) in &q.filter.values {
                req = req.expression_attribute_values(k, v.clone());
            }
        }
        let out = req.send().await.map_err(|e| StoreError::dynamo("Query", e))?;
        crate::metrics::record_capacity(crate::metrics::capacity_of(out.consumed_capacity()));
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// Writes every request of `requests` (made as they are needed; the first that could not
    /// be made stops the writes) in BatchWriteItem calls, `concurrency` at a time, retrying
    /// unprocessed items with backoff. Returns the number of requests written and the write
    /// units they consumed (as DynamoDB reports them, index writes included). `on_batch` is
    /// told how many requests each finished batch carried.
    pub async fn batch_write<I>(&self, requests: I, concurrency: usize, on_batch: &(dyn Fn(usize) + Sync)) -> Result<BatchWritten, StoreError>
    where
        I: IntoIterator<Item = Result<WriteRequest, StoreError>>,
    {
        let written = AtomicU64::new(0);
        let units_milli = AtomicU64::new(0);
        let mut iter = requests.into_iter().peekable();
        let batches = std::iter::from_fn(move || {
            iter.peek()?;
            Some(iter.by_ref().take(BATCH_SIZE).collect::<Result<Vec<_>, _>>())
        });
        let mut results = stream::iter(batches)
            .map(|batch| {
                let (written, units_milli) = (&written, &units_milli);
                async move {
                    let batch = batch?;
                    let n = batch.len();
                    let units = self.write_batch(batch).await?;
                    written.fetch_add(n as u64, Ordering::Relaxed);
                    units_milli.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
                    on_batch(n);
                    Ok::<_, StoreError>(())
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some(r) = results.next().await {
            r?;
        }
        drop(results);
        Ok(BatchWritten { requests: written.into_inner(), write_units: units_milli.into_inner() as f64 / 1000.0 })
    }

    /// One batch, retried under [`RetryPolicy::BATCH`] (each call made once) until every request
    /// is processed: unprocessed items and throttling are both tried again. The write units it
    /// consumed.
    async fn write_batch(&self, batch: Vec<WriteRequest>) -> Result<f64, StoreError> {
        let pending = std::sync::Mutex::new(batch);
        let units_milli = AtomicU64::new(0);
        let attempt = || async {
            let batch = pending.lock().map_err(|_| StoreError::Config("a batch's lock was poisoned".into()))?.clone();
            let out = self
                .ddb
                .batch_write_item()
                .request_items(&self.table, batch)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes)
                .customize()
                .config_override(aws_sdk_dynamodb::config::Builder::default().retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()))
                .send()
                .await
                .map_err(|e| StoreError::dynamo("BatchWriteItem", e))?;
            // With INDEXES, a table's CapacityUnits are its own and its indexes' together.
            let consumed: f64 = out.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum();
            crate::metrics::record_capacity(Some(consumed));
            units_milli.fetch_add((consumed * 1000.0).round() as u64, Ordering::Relaxed);
            match out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).filter(|rest| !rest.is_empty()) {
                Some(rest) => {
                    let left = rest.len();
                    *pending.lock().map_err(|_| StoreError::Config("a batch's lock was poisoned".into()))? = rest;
                    Err(StoreError::unprocessed("BatchWriteItem", left))
                }
                None => Ok(()),
            }
        };
        RetryPolicy::BATCH.run(attempt, StoreError::is_transient).await?;
        Ok(units_milli.into_inner() as f64 / 1000.0)
    }
}
