//! The consumer Lambda. An EventBridge rule on the platform's bus delivers the platform's
//! events to an SQS queue; this function reads it in batches (`mitre_events::consumer`) and
//! answers the messages to deliver again. EVENTS_DLQ_URL: where refused events go;
//! PLATFORM_EVENT_SOURCE: the platform's `source`.
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mitre_api::{App, Settings};
use mitre_events::aws::SqsDeadLetters;
use mitre_events::consumer::Consumer;
use mitre_events::lambda::SqsEvent;
use mitre_store::{Config, Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    mitre_store::telemetry::init_lambda_logs();
    let config = Config::from_env()?;
    let store = Store::from_config(&config).await;
    let shared = mitre_store::config::sdk_config().await;
    let queue_url = std::env::var("EVENTS_DLQ_URL").map_err(|_| "EVENTS_DLQ_URL is not set")?;
    let source = std::env::var("PLATFORM_EVENT_SOURCE").unwrap_or_else(|_| mitre_events::inbound::DEFAULT_SOURCE.to_string());
    let dead_letters = Arc::new(SqsDeadLetters { client: aws_sdk_sqs::Client::new(&shared), queue_url });
    let consumer = Consumer::new(App::new(store, Settings::from_env()), dead_letters, &source);
    run(service_fn(|event: LambdaEvent<SqsEvent>| async { Ok::<_, Error>(consumer.handle(event.payload).await) })).await
}
