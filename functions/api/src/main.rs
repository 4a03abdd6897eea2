//! The API Lambda. Every HTTP route of template.yaml is a function running this binary with
//! its own MITRE_ROUTE and its own least-privilege role; the router and handlers live in
//! `mitre-api`, shared with `mitre serve`. The `POST sync` function also has SYNC_FUNCTION_NAME:
//! it starts the sync function asynchronously.
use std::sync::Arc;

use async_trait::async_trait;
use lambda_http::{Error, run, service_fn};
use mitre_api::sync_trigger::{SyncRequest, SyncTrigger};
use mitre_api::{ApiError, App, Settings, handle};
use mitre_store::{Config, Store};

/// Starts the sync function with an asynchronous invocation (its failures go to the
/// function's on-failure destination).
struct LambdaSync {
    client: aws_sdk_lambda::Client,
    function: String,
}

#[async_trait]
impl SyncTrigger for LambdaSync {
    async fn start(&self, request: SyncRequest) -> Result<(), ApiError> {
        let payload = serde_json::to_vec(&request).map_err(ApiError::internal)?;
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| ApiError::internal(format!("invoking {}: {}", self.function, aws_sdk_lambda::error::DisplayErrorContext(&e))))?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    mitre_store::telemetry::init_lambda_logs();
    let config = Config::from_env()?;
    let store = Store::from_config(&config).await;
    let mut app = App::new(store, Settings::from_env());
    if let Some(function) = std::env::var("SYNC_FUNCTION_NAME").ok().filter(|f| !f.trim().is_empty()) {
        let shared = mitre_store::config::sdk_config().await;
        app = app.with_sync(Arc::new(LambdaSync { client: aws_sdk_lambda::Client::new(&shared), function }));
    }
    run(service_fn(|req| async { Ok::<_, Error>(handle(&app, req).await) })).await
}
