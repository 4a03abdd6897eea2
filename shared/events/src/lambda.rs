//! The payloads Lambda's event source mappings invoke the two functions with, and the partial
//! batch responses they answer (`ReportBatchItemFailures`): only what this module reads.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A batch of SQS messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsMessage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    pub message_id: String,
    #[serde(default)]
    pub receipt_handle: String,
    #[serde(default)]
    pub body: String,
    /// `ApproximateReceiveCount`, `SentTimestamp`, ...
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub event_source: String,
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
}

impl SqsMessage {
    /// How many times the message was received, this time included.
    pub fn receive_count(&self) -> u32 {
        self.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1)
    }
}

/// A batch of DynamoDB stream records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    /// INSERT, MODIFY or REMOVE.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamData,
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamData {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "ApproximateCreationDateTime", default, skip_serializing_if = "Option::is_none")]
    pub approximate_creation_date_time: Option<f64>,
    #[serde(rename = "Keys", default)]
    pub keys: Map<String, Value>,
    #[serde(rename = "NewImage", default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Map<String, Value>>,
}

/// The answer of a function with `ReportBatchItemFailures`: the messages (message ids) or
/// stream records (sequence numbers) that failed. Empty: the whole batch succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures", default)]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    pub fn failing(ids: impl IntoIterator<Item = String>) -> BatchResponse {
        BatchResponse { batch_item_failures: ids.into_iter().map(|item_identifier| ItemFailure { item_identifier }).collect() }
    }

    pub fn failed(&self) -> Vec<&str> {
        self.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }
}
