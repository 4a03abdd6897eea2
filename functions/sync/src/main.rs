//! The sync Lambda. EventBridge invokes it every 10 minutes to sync each scheduled domain
//! (SYNC_DOMAINS) from its configured source (`mitre_sync::config`); `POST sync` invokes it
//! asynchronously with one domain, its options and the run id the API answered with.
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mitre_domain::SyncRequest;
use mitre_domain::metrics::{Metric, emf_line};
use mitre_store::{Config, Store};
use mitre_sync::{SourceSpec, SyncError, SyncOptions, Syncer};
use serde_json::{Value, json};

/// What one invocation syncs: every scheduled domain, or the one a request names.
fn plan(event: &Value) -> Result<Vec<(SyncOptions, SourceSpec)>, Error> {
    if event.get("run_id").is_some() {
        let request: SyncRequest = serde_json::from_value(event.clone())?;
        let mut opts = SyncOptions::new(request.domain);
        opts.actor = request.requested_by;
        opts.force = request.force;
        opts.relationships = !request.no_relationships;
        opts.run_id = Some(request.run_id);
        return Ok(vec![(opts, mitre_sync::config::source_for(request.domain)?)]);
    }
    Ok(mitre_sync::config::scheduled()?
        .into_iter()
        .map(|(domain, spec)| {
            let mut opts = SyncOptions::new(domain);
            opts.actor = "scheduler".into();
            (opts, spec)
        })
        .collect())
}

async fn handle(store: &Store, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (opts, spec) in plan(&event.payload)? {
        let source = spec.into_source();
        match Syncer::new(store).run(source.as_ref(), &opts, &|_| {}).await {
            Ok(rec) => results.push(json!(rec)),
            Err(SyncError::Locked { domain, until }) => {
                tracing::info!(%domain, %until, "another run holds the lease; skipped");
                results.push(json!({"domain": domain, "outcome": "skipped"}));
            }
            Err(e) => {
                failed.push(format!("{}: {e}", opts.domain));
                results.push(json!({"domain": opts.domain, "outcome": "failed", "error": e.to_string()}));
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
    // The scheduled invocation also rebuilds the tenants' inference histories older than
    // HISTORY_MAX_AGE_MINUTES (60): how fresh technique inference's tenant part is.
    if event.payload.get("run_id").is_none() {
        let domains: Vec<_> = results.iter().filter_map(|r| serde_json::from_value(r["domain"].clone()).ok()).collect();
        match mitre_sync::insight::rebuild_histories(store, &domains, history_max_age()).await {
            Ok(rebuilt) => tracing::info!(histories = rebuilt.len(), "inference histories rebuilt"),
            Err(e) => failed.push(format!("inference histories: {e}")),
        }
    }
    tracing::info!(request_id = %event.context.request_id, results = %json!(results), "sync finished");
    // The sync's own metric: what the failure alarm watches.
    let line = emf_line(
        &[],
        &[Metric { name: "SyncFailures", unit: "Count", value: json!(failed.len()) }, Metric { name: "SyncRuns", unit: "Count", value: json!(results.len()) }],
        &[],
    );
    println!("{line}");
    // A failure fails the invocation: the schedule's metric and, for an asynchronous start, the
    // on-failure destination see it.
    if failed.is_empty() { Ok(json!({ "results": results })) } else { Err(failed.join("; ").into()) }
}

fn history_max_age() -> std::time::Duration {
    let minutes = std::env::var("HISTORY_MAX_AGE_MINUTES").ok().and_then(|v| v.parse().ok()).unwrap_or(60u64);
    std::time::Duration::from_secs(minutes * 60)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    mitre_store::telemetry::init_lambda_logs();
    let config = Config::from_env()?;
    mitre_sync::config::scheduled()?;
    let store = Store::from_config(&config).await;
    run(service_fn(|event| handle(&store, event))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_event_syncs_every_domain_and_a_request_one() {
        let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert!(plan(&scheduled).unwrap().iter().all(|(o, _)| o.actor == "scheduler" && o.run_id.is_none()));
        let request = json!({"run_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "domain": "ics-attack", "force": true, "no_relationships": true, "requested_by": "arn:aws:iam::1:user/root"});
        let plan = plan(&request).unwrap();
        assert_eq!(plan.len(), 1);
        let (o, _) = &plan[0];
        assert_eq!(
            (o.domain, o.force, o.relationships, o.run_id.as_deref()),
            (mitre_attack::Domain::IcsAttack, true, false, Some("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
        );
        assert!(super::plan(&json!({"run_id": "x", "domain": "nowhere"})).is_err());
    }
}
