//! The real `sync` and `api` binaries run as Lambda runs them: started with
//! AWS_LAMBDA_RUNTIME_API pointing at an emulator of the Lambda runtime API (below), they poll
//! it for events and post their answers back. The sync gets an EventBridge scheduled event and
//! syncs ICS 18.1 into a fresh table; the API gets API Gateway HTTP API events with the IAM
//! authorizer's context (a catalog read, a mapping create, a 404 and a 405), and its answers
//! must equal the in-process router's. Prints each binary's cold start (process start to first
//! answer) and peak RSS.
use std::time::{Duration, Instant};

use base64::Engine;
use mitre_api::{App, Settings};
use mitre_store::tenancy::Role;
use mitre_tests::runtime::{Outcome, RuntimeApi, binary, peak_rss_mib, start_function, stop};
use mitre_tests::{ALICE, attack_data, call, register, spawn_app};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

/// An API Gateway HTTP API response, as the function posts it: status and JSON body.
fn http_answer(outcome: Outcome) -> (u16, Value) {
    let Outcome::Response(bytes) = outcome else { panic!("the API function failed: {outcome:?}") };
    let v: Value = serde_json::from_slice(&bytes).expect("a JSON response");
    let status = v["statusCode"].as_u64().expect("statusCode") as u16;
    let raw = v["body"].as_str().unwrap_or_default();
    let body = if v["isBase64Encoded"] == true { base64::engine::general_purpose::STANDARD.decode(raw).expect("base64") } else { raw.as_bytes().to_vec() };
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn api_event(method: &str, path: &str, route_key: &str, body: &Value) -> Value {
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let mut event = mitre_api::local::apigw_event(method, path, &[("content-type".into(), "application/json".into())], &bytes, Some(ALICE));
    // As API Gateway sets them for the function's own route.
    event["routeKey"] = json!(route_key);
    event["requestContext"]["routeKey"] = json!(route_key);
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_binaries_answer_lambda_events_like_the_router() {
    let app = spawn_app().await;
    let table = app.store.table.clone();
    // Built before any clock starts.
    let (sync_bin, api_bin) = (binary("sync"), binary("api"));

    // The sync function, on the schedule's event.
    let runtime = RuntimeApi::start("SyncFunction");
    let source = attack_data("ics-attack-18.1.json.gz");
    let started = Instant::now();
    let sync = start_function(
        &sync_bin,
        "SyncFunction",
        &runtime,
        &table,
        &[("SYNC_DOMAINS", "ics-attack".into()), ("ATTACK_SOURCE_URL_ICS_ATTACK", source.display().to_string())],
    );
    let scheduled = json!({
        "version": "0", "id": "5e5a3a9e-0000-0000-0000-000000000000", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-27T05:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sentineliq-mitre-SyncSchedule"], "detail": {}
    });
    let outcome = runtime.invoke(&scheduled);
    let sync_cold = started.elapsed();
    let sync_rss = peak_rss_mib(&sync);
    let Outcome::Response(bytes) = outcome else { panic!("the sync function failed: {outcome:?}") };
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(answer["results"][0]["domain"], "ics-attack", "{answer}");
    assert_eq!(answer["results"][0]["outcome"], "succeeded", "{answer}");
    // The same event again: nothing changed, nothing written.
    let Outcome::Response(bytes) = runtime.invoke(&scheduled) else { panic!("the second sync failed") };
    let again: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(again["results"][0]["outcome"], "unchanged", "{again}");
    let stdout = stop(sync);
    // The sync's own metric, in embedded metric format, once per run.
    let metrics: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v.get("_aws").is_some()).collect();
    assert_eq!(metrics.len(), 2, "{stdout}");
    assert!(metrics.iter().all(|m| m["SyncFailures"] == 0 && m["SyncRuns"] == 1), "{metrics:?}");

    // The API function, on API Gateway's events.
    register(&app.store, ALICE, "acme", Role::Analyst).await;
    let router = App::new(app.store.clone(), Settings::default());
    let runtime = RuntimeApi::start("ApiFunction");
    let started = Instant::now();
    let api = start_function(&api_bin, "ApiFunction", &runtime, &table, &[]);
    let (status, body) = http_answer(runtime.invoke(&api_event("GET", &format!("{P}/techniques/T0800"), &format!("GET {P}/techniques/{{id}}"), &Value::Null)));
    let api_cold = started.elapsed();
    let expected = call(&router, "GET", &format!("{P}/techniques/T0800"), Some(ALICE), b"").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((status, &body), (expected.status, &expected.body), "a catalog read answers as the router does");

    let create = json!({"alert_id": "A-1", "technique": "T0800", "confidence_score": 70});
    let (status, created) = http_answer(runtime.invoke(&api_event("POST", &format!("{P}/alert-mappings"), &format!("POST {P}/alert-mappings"), &create)));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("the new mapping's id");
    let stored = call(&router, "GET", &format!("{P}/alert-mappings/{id}"), Some(ALICE), b"").await;
    assert_eq!((stored.status, &stored.body), (200, &created), "the router reads the mapping the function created");

    for (method, path, route_key) in
        [("GET", format!("{P}/techniques/T0999"), format!("GET {P}/techniques/{{id}}")), ("DELETE", format!("{P}/techniques/T0800"), "$default".to_string())]
    {
        let (status, body) = http_answer(runtime.invoke(&api_event(method, &path, &route_key, &Value::Null)));
        let expected = call(&router, method, &path, Some(ALICE), b"").await;
        assert_eq!((status, &body), (expected.status, &expected.body), "{method} {path}");
        assert_eq!(status, if method == "GET" { 404 } else { 405 }, "{body}");
    }
    let api_rss = peak_rss_mib(&api);
    stop(api);
    let build = std::env::var("LAMBDA_BIN_DIR").unwrap_or_else(|_| "debug".into());
    println!(
        "lambda runtime ({build} host build): sync cold start (process start to first answer, ICS 18.1 synced) {:.0} ms, peak RSS {sync_rss:.1} MiB",
        sync_cold.as_secs_f64() * 1000.0
    );
    println!(
        "lambda runtime ({build} host build): api cold start (process start to first answer) {:.0} ms, peak RSS {api_rss:.1} MiB",
        api_cold.as_secs_f64() * 1000.0
    );
    // The same figures as one JSON line starting with {"cold_start" (bench/cold.sh reads it).
    let figures = |cold: Duration, rss: f64| json!({"ms": (cold.as_secs_f64() * 1e4).round() / 10.0, "peak_rss_mib": (rss * 10.0).round() / 10.0});
    println!("{{\"cold_start\": {}, \"binaries\": {}}}", json!({"api": figures(api_cold, api_rss), "sync": figures(sync_cold, sync_rss)}), json!(build));
}
