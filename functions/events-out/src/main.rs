//! The publisher Lambda. The table's stream, filtered to new audit entries, invokes it in
//! batches; it publishes each entry's event to EVENTS_BUS_NAME (`mitre_events::publisher`) and
//! answers the first record not published, if any.
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mitre_events::aws::EventBridgeBus;
use mitre_events::lambda::StreamEvent;
use mitre_events::publisher::Publisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    mitre_store::telemetry::init_lambda_logs();
    let shared = mitre_store::config::sdk_config().await;
    let bus_name = std::env::var("EVENTS_BUS_NAME").map_err(|_| "EVENTS_BUS_NAME is not set")?;
    let publisher = Publisher::new(Arc::new(EventBridgeBus { client: aws_sdk_eventbridge::Client::new(&shared), bus_name }));
    run(service_fn(|event: LambdaEvent<StreamEvent>| async { Ok::<_, Error>(publisher.handle(event.payload).await) })).await
}
