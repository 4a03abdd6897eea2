//! The publisher function: the table's stream, filtered to new audit entries, becomes events
//! on EventBridge.
//!
//! - Every write commits its audit entry in its own transaction, so an entry exists exactly
//!   when its write committed: no event for a write that did not commit, and the stream holds
//!   every entry that did (for 24 hours; see `docs/operations.md` for the republish command).
//! - Entries are published in stream order, at most 10 to a `PutEvents` call. Entries
//!   EventBridge refuses (throttled, for instance) are sent again under
//!   [`RetryPolicy::BATCH`]; if some still fail, the function reports the first unpublished
//!   record as its batch item failure, so Lambda retries from there (and bisects, then hands
//!   what never succeeds to the on-failure queue). Nothing after a failed record is published
//!   before it.
//! - A record may thus be published more than once (a crash after `PutEvents`, a retried
//!   batch): consumers drop repeats by `detail.event_id`, the audit entry's id. Per entity,
//!   `mapping.version` (per mapping) and the access `version` order the events.
use std::sync::Arc;

use async_trait::async_trait;
use mitre_domain::{AuditEntry, RetryPolicy};
use serde_json::Value;

use crate::BoxError;
use crate::lambda::{BatchResponse, StreamEvent, StreamRecord};
use crate::outbound::{self, OutEvent};

/// The most entries of one `PutEvents` call.
pub const MAX_ENTRIES: usize = 10;

/// One entry of a `PutEvents` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub detail_type: String,
    /// The detail, as JSON text.
    pub detail: String,
}

/// An event bus.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Puts `entries`; per entry, None when it was accepted, else EventBridge's error code.
    /// An error: none was accepted.
    async fn put(&self, entries: &[Entry]) -> Result<Vec<Option<String>>, BoxError>;
}

pub struct Publisher {
    bus: Arc<dyn Bus>,
    policy: RetryPolicy,
}

/// Whether a stream record is a new audit entry (what the template's filter passes).
pub fn is_audit_insert(r: &StreamRecord) -> bool {
    r.event_name == "INSERT"
        && r.dynamodb.new_image.as_ref().and_then(|i| i.get("gsi1pk")).and_then(|v| v.get("S")).and_then(Value::as_str) == Some(mitre_store::keys::AUDIT_GSI)
}

/// The audit entry a stream record carries, if it carries one.
pub fn entry_of(r: &StreamRecord) -> Result<Option<AuditEntry>, String> {
    if !is_audit_insert(r) {
        return Ok(None);
    }
    let image = r.dynamodb.new_image.as_ref().ok_or("no new image")?;
    let item = crate::ddb_json::item(image)?;
    serde_json::from_value(item).map(Some).map_err(|e| format!("not an audit entry: {e}"))
}

impl Publisher {
    pub fn new(bus: Arc<dyn Bus>) -> Publisher {
        Publisher { bus, policy: RetryPolicy::BATCH }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Publisher {
        self.policy = policy;
        self
    }

    /// Publishes the batch's audit entries in order; the answer names the first record not
    /// published, if any.
    pub async fn handle(&self, event: StreamEvent) -> BatchResponse {
        // (sequence number, event) in stream order; records that are no audit entry, or whose
        // action is not published, are done
        let mut pending: Vec<(String, OutEvent)> = Vec::new();
        for r in &event.records {
            match entry_of(r) {
                Ok(Some(e)) => {
                    if let Some(out) = outbound::of_entry(&e) {
                        pending.push((r.dynamodb.sequence_number.clone(), out));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    // never skipped: everything from here is tried again, then goes to the
                    // on-failure queue
                    tracing::error!(sequence_number = %r.dynamodb.sequence_number, error = %e, "a stream record could not be read");
                    return self.publish_until(&pending, Some(r.dynamodb.sequence_number.clone())).await;
                }
            }
        }
        self.publish_until(&pending, None).await
    }

    /// Publishes `pending`, then answers `stop` (a record not to pass) as the failure.
    async fn publish_until(&self, pending: &[(String, OutEvent)], stop: Option<String>) -> BatchResponse {
        for chunk in pending.chunks(MAX_ENTRIES) {
            if let Err(first) = self.publish(chunk).await {
                return BatchResponse::failing([first]);
            }
        }
        BatchResponse::failing(stop)
    }

    /// Puts one chunk, sending again (under the policy) what was refused; Err: the sequence
    /// number of the first event of the chunk not published.
    async fn publish(&self, chunk: &[(String, OutEvent)]) -> Result<(), String> {
        let left = std::sync::Mutex::new((0..chunk.len()).collect::<Vec<usize>>());
        let attempt = || async {
            let indices = left.lock().map(|l| l.clone()).unwrap_or_default();
            let entries: Vec<Entry> =
                indices.iter().map(|&i| Entry { detail_type: chunk[i].1.detail_type.to_string(), detail: chunk[i].1.detail.to_string() }).collect();
            let answers = self.bus.put(&entries).await?;
            let refused: Vec<usize> = indices.iter().enumerate().filter(|(k, _)| answers.get(*k).is_none_or(Option::is_some)).map(|(_, i)| *i).collect();
            if refused.is_empty() {
                return Ok(());
            }
            let n = refused.len();
            if let Ok(mut l) = left.lock() {
                *l = refused;
            }
            Err(BoxError::from(format!("EventBridge refused {n} of {} entries", entries.len())))
        };
        match self
            .policy
            .run(attempt, |e: &BoxError| {
                tracing::warn!(error = %mitre_store::Chain(&**e), "events not all published: sent again");
                true
            })
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let first = left.lock().ok().and_then(|l| l.first().map(|&i| chunk[i].0.clone())).unwrap_or_default();
                tracing::error!(sequence_number = %first, error = %mitre_store::Chain(&*e), "events not published: the batch is retried from the first of them");
                Err(first)
            }
        }
    }
}

/// The event itself, for tests and the local pump: `Value` in, `Value` out.
pub async fn handle_value(publisher: &Publisher, payload: Value) -> Result<Value, BoxError> {
    let event: StreamEvent = serde_json::from_value(payload)?;
    Ok(serde_json::to_value(publisher.handle(event).await)?)
}
