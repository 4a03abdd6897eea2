//! The API Lambda. Every HTTP route of template.yaml is a function running this binary with
//! its own MITRE_ROUTE and its own least-privilege role; the router and handlers live in
//! `mitre-api`, shared with `mitre serve`.
use lambda_http::{Error, run, service_fn};
use mitre_api::{App, Settings, handle};
use mitre_store::{Config, Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).without_time().init();
    let config = Config::from_env()?;
    let store = Store::from_config(&config).await;
    let app = App::new(store, Settings::from_env());
    run(service_fn(|req| async { Ok::<_, Error>(handle(&app, req).await) })).await
}
