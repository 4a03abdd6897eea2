//! Scheduled ATT&CK sync. EventBridge invokes it every 10 minutes; it syncs each domain of
//! SYNC_DOMAINS from its source: ATTACK_SOURCE_URL_<DOMAIN> (for example
//! ATTACK_SOURCE_URL_ICS_ATTACK), else ATTACK_SOURCE_URL for enterprise-attack, else the
//! domain's official bundle.
//!
//! With ATTACK_SOURCE_KIND=taxii (default: json) each domain syncs from a TAXII 2.1 collection
//! instead: the API root TAXII_API_ROOT (default: the MITRE ATT&CK TAXII server) and the
//! collection TAXII_COLLECTION_<DOMAIN> (for example TAXII_COLLECTION_ENTERPRISE_ATTACK; default:
//! the domain's ATT&CK collection), with HTTP Basic credentials from TAXII_USERNAME and
//! TAXII_PASSWORD when set.
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mitre_attack::Domain;
use mitre_store::{Config, Store};
use mitre_sync::{SourceSpec, SyncError, SyncOptions, Syncer};
use serde_json::{Value, json};

struct Settings {
    domains: Vec<(Domain, SourceSpec)>,
}

impl Settings {
    fn from_env() -> Result<Self, Error> {
        let list = std::env::var("SYNC_DOMAINS").unwrap_or_else(|_| "enterprise-attack".into());
        let kind = std::env::var("ATTACK_SOURCE_KIND").unwrap_or_default().trim().to_ascii_lowercase();
        let taxii = match kind.as_str() {
            "" | "json" => false,
            "taxii" => true,
            other => return Err(format!("ATTACK_SOURCE_KIND is {other:?}: expected json or taxii").into()),
        };
        let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        let mut domains = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let domain: Domain = name.parse()?;
            let suffix = domain.as_str().to_ascii_uppercase().replace('-', "_");
            if taxii {
                let collection = env(&format!("TAXII_COLLECTION_{suffix}"));
                let spec = SourceSpec::taxii(env("TAXII_API_ROOT").as_deref(), collection.as_deref(), domain).map_err(|e| e.0)?;
                domains.push((domain, spec));
                continue;
            }
            let var = format!("ATTACK_SOURCE_URL_{suffix}");
            let url = std::env::var(&var)
                .ok()
                .or_else(|| (domain == Domain::EnterpriseAttack).then(|| std::env::var("ATTACK_SOURCE_URL").ok()).flatten())
                .filter(|u| !u.trim().is_empty());
            domains.push((domain, SourceSpec::parse(url.as_deref(), domain).map_err(|e| e.0)?));
        }
        Ok(Settings { domains })
    }
}

async fn handle(store: &Store, settings: &Settings, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (domain, spec) in &settings.domains {
        let source = spec.clone().into_source();
        let mut opts = SyncOptions::new(*domain);
        opts.actor = "scheduler".into();
        match Syncer::new(store).run(source.as_ref(), &opts, &|_| {}).await {
            Ok(rec) => results.push(json!(rec)),
            Err(SyncError::Locked { domain, until }) => {
                tracing::info!(%domain, %until, "another run holds the lease; skipped");
                results.push(json!({"domain": domain, "outcome": "skipped"}));
            }
            Err(e) => {
                failed.push(format!("{domain}: {e}"));
                results.push(json!({"domain": domain, "outcome": "failed", "error": e.to_string()}));
            }
        }
    }
    // A run that changed the catalog refreshes the stored verification report, which is what
    // `GET correlations/verify` serves.
    if results.iter().any(|r| r["outcome"] == "succeeded") {
        match store.verify().await {
            Ok(report) => tracing::info!(ok = report.ok, problems = report.problems.len(), "verification after the sync"),
            Err(e) => failed.push(format!("verification after the sync: {e}")),
        }
    }
    tracing::info!(request_id = %event.context.request_id, results = %json!(results), "sync finished");
    if failed.is_empty() { Ok(json!({ "results": results })) } else { Err(failed.join("; ").into()) }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).without_time().init();
    let config = Config::from_env()?;
    let settings = Settings::from_env()?;
    let store = Store::from_config(&config).await;
    run(service_fn(|event| handle(&store, &settings, event))).await
}
