//! DynamoDB helpers: typed get/put/query and batch writes with bounded parallelism,
//! retry of UnprocessedItems and backoff with jitter.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{StreamExt, stream};
use rand::Rng;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Store, error::StoreError};

pub type Item = HashMap<String, AttributeValue>;

/// At most this many write requests go into one BatchWriteItem call.
pub const BATCH_SIZE: usize = 25;
const MAX_ATTEMPTS: u32 = 12;

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(format!("cannot encode item: {e}")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().expect("item set")).build()
}

pub fn delete_request(pk: impl Into<String>, sk: impl Into<String>) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key(pk, sk))).build().expect("key set"))
        .build()
}

/// Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^attempt)].
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = (25u64 << attempt.min(10)).min(5_000);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
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
        crate::metrics::record(crate::metrics::capacity_of(out.consumed_capacity()));
        out.item.map(from_item).transpose()
    }

    /// Every item of a partition (optionally of a sort key prefix), following pagination.
    pub async fn query_partition(&self, index: Option<&str>, pk: &str, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (page, next) = self.query_page_inner(index, pk, sk_prefix, None, &[], start.take(), None, false).await?;
            items.extend(page);
            match next {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }

    /// Writes every request of `requests` in BatchWriteItem calls, `concurrency` at a time,
    /// retrying unprocessed items with backoff. Returns the number of requests written.
    /// `on_batch` is told how many requests each finished batch carried.
    pub async fn batch_write<I>(&self, requests: I, concurrency: usize, on_batch: &(dyn Fn(usize) + Sync)) -> Result<u64, StoreError>
    where
        I: IntoIterator<Item = WriteRequest>,
    {
        let written = AtomicU64::new(0);
        let mut iter = requests.into_iter().peekable();
        let batches = std::iter::from_fn(move || {
            iter.peek()?;
            Some(iter.by_ref().take(BATCH_SIZE).collect::<Vec<_>>())
        });
        let mut results = stream::iter(batches)
            .map(|batch| {
                let written = &written;
                async move {
                    let n = batch.len();
                    self.write_batch(batch).await?;
                    written.fetch_add(n as u64, Ordering::Relaxed);
                    on_batch(n);
                    Ok::<_, StoreError>(())
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some(r) = results.next().await {
            r?;
        }
        drop(results);
        Ok(written.into_inner())
    }

    async fn write_batch(&self, mut batch: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let out = match self.ddb.batch_write_item().request_items(&self.table, batch.clone()).send().await {
                Ok(out) => out,
                Err(e) => {
                    let retryable = e.as_service_error().is_some_and(|se| {
                        se.is_provisioned_throughput_exceeded_exception() || se.is_request_limit_exceeded() || se.is_internal_server_error()
                    }) || matches!(e, aws_sdk_dynamodb::error::SdkError::TimeoutError(_) | aws_sdk_dynamodb::error::SdkError::DispatchFailure(_));
                    if retryable && attempt + 1 < MAX_ATTEMPTS {
                        continue;
                    }
                    return Err(StoreError::dynamo("BatchWriteItem", e));
                }
            };
            match out.unprocessed_items.and_then(|mut m| m.remove(&self.table)) {
                Some(rest) if !rest.is_empty() => batch = rest,
                _ => return Ok(()),
            }
        }
        Err(StoreError::Dynamo { op: "BatchWriteItem", message: format!("{} items still unprocessed after {MAX_ATTEMPTS} attempts", batch.len()) })
    }
}
