//! The real `sync` and `api` binaries run as Lambda runs them: started with
//! AWS_LAMBDA_RUNTIME_API pointing at an emulator of the Lambda runtime API (below), they poll
//! it for events and post their answers back. The sync gets an EventBridge scheduled event and
//! syncs ICS 18.1 into a fresh table; the API gets API Gateway HTTP API events with the IAM
//! authorizer's context (a catalog read, a mapping create, a 404 and a 405), and its answers
//! must equal the in-process router's. Prints each binary's cold start (process start to first
//! answer) and peak RSS.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use mitre_api::{App, Settings};
use mitre_store::tenancy::Role;
use mitre_tests::{ALICE, attack_data, call, register, spawn_app};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

/// What a function answered to one invocation.
#[derive(Debug)]
enum Outcome {
    Response(Vec<u8>),
    // Shown through Debug when a test fails.
    #[allow(dead_code)]
    Error(Vec<u8>),
}

/// An emulator of the Lambda runtime API (2018-06-01): `next` hands out queued events, the
/// function's `response` and `error` posts are collected.
struct RuntimeApi {
    address: String,
    events: Sender<(String, Vec<u8>)>,
    outcomes: Receiver<(String, Outcome)>,
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(HttpRequest { method, path, body })
}

fn reply(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

impl RuntimeApi {
    fn start(function: &str) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, queued) = channel::<(String, Vec<u8>)>();
        let (posted, outcomes) = channel::<(String, Outcome)>();
        let queued = Arc::new(Mutex::new(queued));
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (queued, posted, arn) = (queued.clone(), posted.clone(), arn.clone());
                // One thread per connection: `next` blocks until an event is queued.
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    while let Some(req) = read_request(&mut reader) {
                        let path = req.path.trim_start_matches("/2018-06-01/runtime/");
                        let result = if req.method == "GET" && path == "invocation/next" {
                            let Ok((id, event)) = queued.lock().unwrap().recv() else { return };
                            let deadline = (std::time::SystemTime::now() + Duration::from_secs(60)).duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                            let headers = vec![
                                ("Lambda-Runtime-Aws-Request-Id".to_string(), id),
                                ("Lambda-Runtime-Deadline-Ms".to_string(), deadline.to_string()),
                                ("Lambda-Runtime-Invoked-Function-Arn".to_string(), arn.clone()),
                                (
                                    "Lambda-Runtime-Trace-Id".to_string(),
                                    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".to_string(),
                                ),
                            ];
                            reply(&mut writer, 200, &headers, &event)
                        } else if let Some(rest) = path.strip_prefix("invocation/") {
                            let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
                            let outcome = if what == "response" { Outcome::Response(req.body) } else { Outcome::Error(req.body) };
                            let _ = posted.send((id.to_string(), outcome));
                            reply(&mut writer, 202, &[], br#"{"status":"OK"}"#)
                        } else {
                            // init/error: the function could not start.
                            let _ = posted.send(("init".to_string(), Outcome::Error(req.body)));
                            reply(&mut writer, 202, &[], br#"{"status":"OK"}"#)
                        };
                        if result.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        RuntimeApi { address, events, outcomes }
    }

    /// Queues `event` and waits for the function's answer.
    fn invoke(&self, event: &Value) -> Outcome {
        let id = ulid::Ulid::new().to_string();
        self.events.send((id.clone(), event.to_string().into_bytes())).unwrap();
        let (answered, outcome) = self.outcomes.recv_timeout(Duration::from_secs(300)).expect("the function answers within 5 minutes");
        assert!(answered == id || answered == "init", "an answer to another invocation: {answered}");
        assert!(answered != "init", "the function failed to start: {outcome:?}");
        outcome
    }
}

/// A workspace binary: from `LAMBDA_BIN_DIR` when set (for example `target/perf`, built
/// beforehand; nothing is rebuilt), else the debug build (`cargo build`, which this runs first
/// so it is current).
fn binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("LAMBDA_BIN_DIR") {
        let path = PathBuf::from(dir).join(name);
        assert!(path.is_file(), "{} not found (LAMBDA_BIN_DIR)", path.display());
        return path;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["build", "--quiet", "-p", name, "--bin", name]).status().expect("cargo build");
    assert!(status.success(), "cargo build -p {name} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join(name)
}

/// Starts `binary` as the function `function` against `runtime`, with the local stack's
/// endpoints and credentials (inherited) plus `env`.
fn start_function(binary: &PathBuf, function: &str, runtime: &RuntimeApi, table: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(binary);
    cmd.env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]0")
        .env("TABLE_NAME", table)
        .env("BUCKET_NAME", table)
        .env_remove("MITRE_ROUTE")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start the function")
}

/// Peak resident set size of a running process, in MiB (VmHWM).
fn peak_rss_mib(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let _ = child.wait();
    out
}

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
