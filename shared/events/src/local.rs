//! The local stack's stand-ins for what AWS runs around the two functions: the queues, buses
//! and rules of the template ([`LocalEvents::ensure`], on the SQS and EventBridge of the local
//! S3 server), and Lambda's two event source mappings ([`QueuePump`], [`StreamPump`]), which
//! invoke a function (in process, or a real binary under a runtime API emulator) through
//! [`Invoke`] as Lambda does: batches, partial batch failures, redelivery after the visibility
//! timeout, bisection of failing stream batches, and the on-failure queue.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Map, Value, json};

use crate::BoxError;
use crate::consumer::Consumer;
use crate::lambda::BatchResponse;
use crate::publisher::Publisher;

/// A function invoked with a payload, answering a payload.
#[async_trait]
pub trait Invoke: Send + Sync {
    async fn invoke(&self, payload: Value) -> Result<Value, BoxError>;
}

#[async_trait]
impl Invoke for Consumer {
    async fn invoke(&self, payload: Value) -> Result<Value, BoxError> {
        crate::consumer::handle_value(self, payload).await
    }
}

#[async_trait]
impl Invoke for Publisher {
    async fn invoke(&self, payload: Value) -> Result<Value, BoxError> {
        crate::publisher::handle_value(self, payload).await
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> BoxError {
    format!("{what}: {e}").into()
}

/// The template's event resources on the local stack, named after the table.
#[derive(Debug, Clone)]
pub struct LocalEvents {
    /// The platform's bus (the template's `PlatformEventBusName`).
    pub platform_bus: String,
    /// The module's bus (`EventsBus`).
    pub out_bus: String,
    pub queue_url: String,
    pub dead_letter_url: String,
    pub failure_url: String,
    /// A queue every published event is delivered to as well (a rule on the module's bus), to
    /// read them back.
    pub tap_url: String,
    /// The table's stream.
    pub stream_arn: String,
}

/// Deliveries before a message moves to the dead-letter queue (the template's).
pub const MAX_RECEIVE_COUNT: u32 = 5;

impl LocalEvents {
    /// Creates (or finds) the buses, rules and queues for `table`, and turns its stream on.
    /// `visibility`: the queue's visibility timeout in seconds (short locally, so that
    /// redeliveries come soon).
    pub async fn ensure(shared: &aws_config::SdkConfig, ddb: &aws_sdk_dynamodb::Client, table: &str, visibility: u32) -> Result<LocalEvents, BoxError> {
        let sqs = aws_sdk_sqs::Client::new(shared);
        let events = aws_sdk_eventbridge::Client::new(shared);
        let queue = |name: String, attributes: Vec<(aws_sdk_sqs::types::QueueAttributeName, String)>| {
            let sqs = sqs.clone();
            async move {
                let mut req = sqs.create_queue().queue_name(&name);
                for (k, v) in attributes {
                    req = req.attributes(k, v);
                }
                let url = req.send().await.map_err(|e| err("CreateQueue", aws_sdk_sqs::error::DisplayErrorContext(e)))?.queue_url.unwrap_or_default();
                let arn = sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .map_err(|e| err("GetQueueAttributes", aws_sdk_sqs::error::DisplayErrorContext(e)))?
                    .attributes
                    .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
                    .unwrap_or_default();
                Ok::<_, BoxError>((url, arn))
            }
        };
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let (dead_letter_url, dead_letter_arn) = queue(format!("{table}-events-dlq"), vec![]).await?;
        let redrive = json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}).to_string();
        let (queue_url, queue_arn) =
            queue(format!("{table}-events"), vec![(A::VisibilityTimeout, visibility.to_string()), (A::RedrivePolicy, redrive)]).await?;
        let (failure_url, _) = queue(format!("{table}-publish-failures"), vec![]).await?;
        let (tap_url, tap_arn) = queue(format!("{table}-published"), vec![]).await?;

        let (platform_bus, out_bus) = (format!("{table}-platform"), format!("{table}-events"));
        for bus in [&platform_bus, &out_bus] {
            if let Err(e) = events.create_event_bus().name(bus.as_str()).send().await {
                let text = aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string();
                if !text.contains("ResourceAlreadyExists") {
                    return Err(err("CreateEventBus", text));
                }
            }
        }
        let types: Vec<&str> = crate::inbound::DETAIL_TYPES.iter().map(|(t, _)| *t).collect();
        let rules = [
            (&platform_bus, "platform-events", json!({"source": [crate::inbound::DEFAULT_SOURCE], "detail-type": types}), queue_arn),
            (&out_bus, "published-tap", json!({"source": [crate::outbound::SOURCE]}), tap_arn),
        ];
        for (bus, rule, pattern, target) in rules {
            events
                .put_rule()
                .name(rule)
                .event_bus_name(bus.as_str())
                .event_pattern(pattern.to_string())
                .send()
                .await
                .map_err(|e| err("PutRule", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
            events
                .put_targets()
                .rule(rule)
                .event_bus_name(bus.as_str())
                .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(target).build().map_err(|e| err("Target", e))?)
                .send()
                .await
                .map_err(|e| err("PutTargets", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        }
        let stream_arn = mitre_store::schema::enable_stream(ddb, table).await.map_err(|e| err("the table's stream", mitre_store::Chain(&e)))?;
        Ok(LocalEvents { platform_bus, out_bus, queue_url, dead_letter_url, failure_url, tap_url, stream_arn })
    }
}

/// A platform event for the local platform bus, as the platform puts it.
pub fn platform_entry(bus: &str, detail_type: &str, detail: &Value) -> aws_sdk_eventbridge::types::PutEventsRequestEntry {
    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(crate::inbound::DEFAULT_SOURCE)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build()
}

/// Receives and deletes every message of a queue, waiting up to `wait` seconds for the first:
/// each body with its `reason` attribute (the dead-letter queue's).
pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, wait: i32) -> Result<Vec<(String, Option<String>)>, BoxError> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(if out.is_empty() { wait } else { 1 })
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| err("ReceiveMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(out);
        }
        for m in messages {
            let reason = m.message_attributes.as_ref().and_then(|a| a.get("reason")).and_then(|v| v.string_value.clone());
            out.push((m.body.clone().unwrap_or_default(), reason));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .map_err(|e| err("DeleteMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        }
    }
}

/// Lambda's SQS event source mapping, one poll at a time.
pub struct QueuePump {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// Messages per batch (at most 10).
    pub batch: i32,
    /// Long polling, seconds.
    pub wait: i32,
}

impl QueuePump {
    /// Receives one batch, invokes the function with it and deletes the messages it did not
    /// report as failed (all of them kept when the invocation failed). The number of messages.
    pub async fn poll(&self, function: &dyn Invoke) -> Result<usize, BoxError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch.clamp(1, 10))
            .wait_time_seconds(self.wait)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| err("ReceiveMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: BTreeMap<String, String> = m.attributes.iter().flatten().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect();
                json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "attributes": attributes,
                       "eventSource": "aws:sqs", "eventSourceARN": self.queue_url})
            })
            .collect();
        let answer = match function.invoke(json!({ "Records": records })).await {
            Ok(v) => serde_json::from_value::<BatchResponse>(v).map_err(|e| err("the batch response", e))?,
            Err(e) => {
                tracing::warn!(error = %e, "the consumer failed: the batch is delivered again");
                return Ok(messages.len());
            }
        };
        // what Lambda's mapping does with a partial batch response: the rest deleted, in one call
        let failed = answer.failed();
        let mut delete = self.sqs.delete_message_batch().queue_url(&self.queue_url);
        let mut any = false;
        for (i, m) in messages.iter().enumerate() {
            if failed.contains(&m.message_id.as_deref().unwrap_or_default()) {
                continue;
            }
            any = true;
            delete = delete.entries(
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .map_err(|e| err("DeleteMessageBatch", e))?,
            );
        }
        if any {
            let out = delete.send().await.map_err(|e| err("DeleteMessageBatch", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            if let Some(f) = out.failed.first() {
                return Err(err("DeleteMessageBatch", format!("{} of the batch not deleted ({})", out.failed.len(), f.message.as_deref().unwrap_or("?"))));
            }
        }
        Ok(messages.len())
    }
}

/// Where a stream pump starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
}

/// Lambda's DynamoDB stream event source mapping, with the template's settings: new audit
/// entries only, batches of `batch`, a batch's failed record retried from, a failing batch
/// bisected, and a batch that still fails after `max_attempts` sent (as its shard and sequence
/// numbers) to the on-failure queue.
pub struct StreamPump {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub stream_arn: String,
    pub failure_url: String,
    pub batch: usize,
    pub max_attempts: u32,
    start: StartAt,
    /// Per open shard, the iterator to read next.
    iterators: HashMap<String, String>,
    /// Shards read to their end.
    closed: std::collections::HashSet<String>,
}

/// A DynamoDB Streams client for the local stack: DynamoDB Local serves streams on its own
/// endpoint (AWS_ENDPOINT_URL_DYNAMODB).
pub fn streams_client(shared: &aws_config::SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    let mut conf = aws_sdk_dynamodbstreams::config::Builder::from(shared);
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        conf = conf.endpoint_url(url);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(conf.build())
}

fn attribute(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::M(m) => json!({ "M": image(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => json!({ "NS": n }),
        _ => json!({ "NULL": true }),
    }
}

fn image(m: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()
}

impl StreamPump {
    pub fn new(streams: aws_sdk_dynamodbstreams::Client, sqs: aws_sdk_sqs::Client, events: &LocalEvents, start: StartAt) -> StreamPump {
        StreamPump {
            streams,
            sqs,
            stream_arn: events.stream_arn.clone(),
            failure_url: events.failure_url.clone(),
            batch: 100,
            max_attempts: 4,
            start,
            iterators: HashMap::new(),
            closed: Default::default(),
        }
    }

    /// Reads what every shard has now, once, and hands it to `function`. The number of
    /// records handed over.
    pub async fn poll(&mut self, function: &dyn Invoke) -> Result<usize, BoxError> {
        let described = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| err("DescribeStream", aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
        let shards: Vec<String> =
            described.stream_description().map(|d| d.shards().iter().filter_map(|s| s.shard_id().map(str::to_string)).collect()).unwrap_or_default();
        let mut handed = 0;
        for shard in shards {
            if self.closed.contains(&shard) {
                continue;
            }
            if !self.iterators.contains_key(&shard) {
                let kind = match self.start {
                    StartAt::TrimHorizon => ShardIteratorType::TrimHorizon,
                    StartAt::Latest => ShardIteratorType::Latest,
                };
                let it = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&shard)
                    .shard_iterator_type(kind)
                    .send()
                    .await
                    .map_err(|e| err("GetShardIterator", aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
                self.iterators.insert(shard.clone(), it.shard_iterator.unwrap_or_default());
            }
            while let Some(iterator) = self.iterators.get(&shard).cloned() {
                let page = self
                    .streams
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(1000)
                    .send()
                    .await
                    .map_err(|e| err("GetRecords", aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
                let records: Vec<Value> = page.records().iter().map(|r| self.record(r)).filter(passes_filter).collect();
                let more = !page.records().is_empty();
                for chunk in records.chunks(self.batch.max(1)) {
                    handed += chunk.len();
                    self.deliver(&shard, chunk.to_vec(), function).await?;
                }
                match page.next_shard_iterator {
                    Some(next) => {
                        self.iterators.insert(shard.clone(), next);
                    }
                    None => {
                        self.iterators.remove(&shard);
                        self.closed.insert(shard.clone());
                    }
                }
                if !more {
                    break;
                }
            }
        }
        Ok(handed)
    }

    fn record(&self, r: &aws_sdk_dynamodbstreams::types::Record) -> Value {
        let d = r.dynamodb();
        json!({
            "eventID": r.event_id(),
            "eventName": r.event_name().map(|n| n.as_str()),
            "eventSource": "aws:dynamodb",
            "eventSourceARN": self.stream_arn,
            "dynamodb": {
                "SequenceNumber": d.and_then(|d| d.sequence_number()),
                "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time()).map(|t| t.as_secs_f64()),
                "Keys": d.and_then(|d| d.keys.as_ref()).map(image).unwrap_or_default(),
                "NewImage": d.and_then(|d| d.new_image.as_ref()).map(image),
            }
        })
    }

    /// Invokes the function with `records` until it takes them all: from its reported failure
    /// on, or in halves when it fails outright; what still fails after `max_attempts` goes to
    /// the on-failure queue.
    async fn deliver(&self, shard: &str, records: Vec<Value>, function: &dyn Invoke) -> Result<(), BoxError> {
        let mut queue: Vec<(Vec<Value>, u32)> = vec![(records, 0)];
        while let Some((batch, attempts)) = queue.pop() {
            if batch.is_empty() {
                continue;
            }
            match function.invoke(json!({ "Records": batch })).await {
                Ok(answer) => {
                    let answer: BatchResponse = serde_json::from_value(answer).map_err(|e| err("the batch response", e))?;
                    let Some(first) = answer.failed().into_iter().next().map(str::to_string) else { continue };
                    let from = batch.iter().position(|r| r["dynamodb"]["SequenceNumber"] == first.as_str()).unwrap_or(0);
                    let rest = batch[from..].to_vec();
                    if attempts + 1 >= self.max_attempts {
                        self.give_up(shard, &rest).await?;
                    } else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        queue.push((rest, attempts + 1));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, records = batch.len(), "the publisher failed: the batch is bisected and retried");
                    if attempts + 1 >= self.max_attempts {
                        self.give_up(shard, &batch).await?;
                    } else if batch.len() > 1 {
                        let (a, b) = batch.split_at(batch.len() / 2);
                        // the first half first
                        queue.push((b.to_vec(), attempts + 1));
                        queue.push((a.to_vec(), attempts + 1));
                    } else {
                        queue.push((batch, attempts + 1));
                    }
                }
            }
        }
        Ok(())
    }

    async fn give_up(&self, shard: &str, batch: &[Value]) -> Result<(), BoxError> {
        let seq = |r: Option<&Value>| r.map(|r| r["dynamodb"]["SequenceNumber"].clone()).unwrap_or(Value::Null);
        let body = json!({
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"shardId": shard, "streamArn": self.stream_arn, "startSequenceNumber": seq(batch.first()), "endSequenceNumber": seq(batch.last()), "batchSize": batch.len()}
        });
        tracing::error!(%body, "a stream batch was given up: sent to the on-failure queue");
        self.sqs
            .send_message()
            .queue_url(&self.failure_url)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| err("SendMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// The template's filter: new audit entries only (as the publisher reads them).
fn passes_filter(r: &Value) -> bool {
    serde_json::from_value::<crate::lambda::StreamRecord>(r.clone()).is_ok_and(|r| crate::publisher::is_audit_insert(&r))
}

/// Runs both pumps until the process ends, in process: the consumer from the queue, the
/// publisher from the stream (starting at its end). For `mitre serve`.
pub async fn run_in_process(queue: QueuePump, mut stream: StreamPump, consumer: std::sync::Arc<Consumer>, publisher: std::sync::Arc<Publisher>) {
    let consume = async move {
        loop {
            if let Err(e) = queue.poll(consumer.as_ref()).await {
                tracing::warn!(error = %e, "the events queue could not be read");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let publish = async move {
        loop {
            match stream.poll(publisher.as_ref()).await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(250)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the table's stream could not be read");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    };
    tokio::join!(consume, publish);
}
