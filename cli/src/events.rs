//! `mitre events`: the module's events on the local stack (putting a platform event on the
//! platform's bus, reading back what the module published, and what was refused), and, against
//! AWS too, republishing the audit entries of a time range.
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mitre_domain::{AuditFilter, AuditLog, Timestamp};
use mitre_events::local::{LocalEvents, QueuePump, StartAt, StreamPump, drain, platform_entry};
use mitre_events::publisher::{Bus, Entry, Publisher};
use mitre_store::Store;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Put a platform event on the (local) platform bus, as the platform would: --type
    /// AlertCreated and its --detail (schemas/events/in).
    Put {
        #[arg(long = "type")]
        detail_type: String,
        #[arg(long)]
        detail: String,
    },
    /// Print the events the module published (local stack), one JSON line each, waiting up to
    /// --wait seconds for the first.
    Received {
        #[arg(long, default_value_t = 5)]
        wait: u32,
    },
    /// Print the refused events in the dead-letter queue (local stack) with their reasons.
    DeadLetters,
    /// Publish the events of the audit entries of a time range again (after a batch went to
    /// the publish-failure queue). Consumers drop repeats by event_id. EVENTS_BUS_NAME names
    /// the bus (default: the local stack's).
    Republish {
        /// RFC 3339; entries at or after.
        #[arg(long)]
        since: String,
        /// RFC 3339; entries at or before (default: now).
        #[arg(long)]
        until: Option<String>,
    },
}

/// The local stack's event resources for the configured table.
pub async fn local(store: &Store) -> Result<LocalEvents> {
    if std::env::var_os("AWS_ENDPOINT_URL_SQS").is_none() {
        bail!("the events commands that read the local queues need the local stack (source .local/env)");
    }
    let shared = mitre_store::config::sdk_config().await;
    LocalEvents::ensure(&shared, &store.ddb, &store.table, 2).await.map_err(|e| anyhow::anyhow!("{e}")).context("setting up the local event queues and buses")
}

/// The two event source mappings of the template, in process beside `mitre serve`: the
/// consumer reads the local queue, the publisher the table's stream from now on.
pub async fn spawn_pumps(store: &Store, settings: mitre_api::Settings) -> Result<LocalEvents> {
    let events = local(store).await?;
    let shared = mitre_store::config::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let dead_letters = Arc::new(mitre_events::aws::SqsDeadLetters { client: sqs.clone(), queue_url: events.dead_letter_url.clone() });
    let app = mitre_api::App::new(store.clone(), settings);
    let consumer = Arc::new(mitre_events::consumer::Consumer::new(app, dead_letters, mitre_events::inbound::DEFAULT_SOURCE).quiet());
    let bus = Arc::new(mitre_events::aws::EventBridgeBus { client: aws_sdk_eventbridge::Client::new(&shared), bus_name: events.out_bus.clone() });
    let publisher = Arc::new(Publisher::new(bus));
    let queue = QueuePump { sqs: sqs.clone(), queue_url: events.queue_url.clone(), batch: 10, wait: 1 };
    let mut stream = StreamPump::new(mitre_events::local::streams_client(&shared), sqs, &events, StartAt::Latest);
    // position the stream at its end now, so that only what happens from here is published
    stream.poll(&NoFunction).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::spawn(mitre_events::local::run_in_process(queue, stream, consumer, publisher));
    Ok(events)
}

/// A function that takes every batch (to move a stream pump to the end of its stream).
struct NoFunction;

#[async_trait::async_trait]
impl mitre_events::local::Invoke for NoFunction {
    async fn invoke(&self, _: Value) -> Result<Value, mitre_events::BoxError> {
        Ok(json!({"batchItemFailures": []}))
    }
}

pub async fn run(store: Store, command: EventsCommand) -> Result<std::process::ExitCode> {
    let shared = mitre_store::config::sdk_config().await;
    match command {
        EventsCommand::Put { detail_type, detail } => {
            let events = local(&store).await?;
            let detail: Value = serde_json::from_str(&detail).context("--detail is not JSON")?;
            let client = aws_sdk_eventbridge::Client::new(&shared);
            let out = client
                .put_events()
                .entries(platform_entry(&events.platform_bus, &detail_type, &detail))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
            let id = out.entries().first().and_then(|e| e.event_id()).unwrap_or_default();
            println!("put {detail_type} on {} (event {id})", events.platform_bus);
        }
        EventsCommand::Received { wait } => {
            let events = local(&store).await?;
            for (body, _) in drain(&aws_sdk_sqs::Client::new(&shared), &events.tap_url, wait as i32).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                println!("{}", json!({"detail-type": v["detail-type"], "detail": v["detail"]}));
            }
        }
        EventsCommand::DeadLetters => {
            let events = local(&store).await?;
            for (body, reason) in drain(&aws_sdk_sqs::Client::new(&shared), &events.dead_letter_url, 1).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                println!("{}", json!({"reason": reason, "event": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body))}));
            }
        }
        EventsCommand::Republish { since, until } => {
            let bus_name = match std::env::var("EVENTS_BUS_NAME") {
                Ok(b) if !b.trim().is_empty() => b,
                _ => local(&store).await?.out_bus,
            };
            let parse = |t: &str| Timestamp::parse(t).map_err(|e| anyhow::anyhow!("{t:?}: {e}"));
            let filter = AuditFilter { since: Some(parse(&since)?), until: until.as_deref().map(parse).transpose()?, ..AuditFilter::default() };
            let bus = mitre_events::aws::EventBridgeBus { client: aws_sdk_eventbridge::Client::new(&shared), bus_name: bus_name.clone() };
            let mut published = 0usize;
            let mut entries: Vec<_> = store.all_audit(&filter).await?.iter().filter_map(mitre_events::outbound::of_entry).collect();
            // oldest first, as they were written
            entries.reverse();
            for chunk in entries.chunks(mitre_events::publisher::MAX_ENTRIES) {
                let batch: Vec<Entry> = chunk.iter().map(|e| Entry { detail_type: e.detail_type.to_string(), detail: e.detail.to_string() }).collect();
                let answers = bus.put(&batch).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                if let Some(code) = answers.iter().flatten().next() {
                    bail!("EventBridge refused an event ({code}) after {published} were published; run the command again");
                }
                published += batch.len();
            }
            println!("republished {published} events to {bus_name}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
