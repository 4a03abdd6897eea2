//! The real Lambda binaries, run as Lambda runs them: started with AWS_LAMBDA_RUNTIME_API
//! pointing at an emulator of the Lambda runtime API ([`RuntimeApi`]), they poll it for events
//! and post their answers back.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// What a function answered to one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Vec<u8>),
    // Shown through Debug when a test fails.
    #[allow(dead_code)]
    Error(Vec<u8>),
}

/// An emulator of the Lambda runtime API (2018-06-01): `next` hands out queued events, the
/// function's `response` and `error` posts are collected.
pub struct RuntimeApi {
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
    pub fn start(function: &str) -> RuntimeApi {
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
    pub fn invoke(&self, event: &Value) -> Outcome {
        let id = ulid::Ulid::new().to_string();
        self.events.send((id.clone(), event.to_string().into_bytes())).unwrap();
        let (answered, outcome) = self.outcomes.recv_timeout(Duration::from_secs(300)).expect("the function answers within 5 minutes");
        assert!(answered == id || answered == "init", "an answer to another invocation: {answered}");
        assert!(answered != "init", "the function failed to start: {outcome:?}");
        outcome
    }

    /// Queues `event` and waits at most `timeout` for its answer (None: none came, as when the
    /// function was killed); answers to earlier invocations are skipped.
    pub fn try_invoke(&self, event: &Value, timeout: Duration) -> Option<Outcome> {
        let id = ulid::Ulid::new().to_string();
        self.events.send((id.clone(), event.to_string().into_bytes())).ok()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            match self.outcomes.recv_timeout(left) {
                Ok((answered, outcome)) if answered == id => return Some(outcome),
                Ok((answered, outcome)) if answered == "init" => panic!("the function failed to start: {outcome:?}"),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

/// A workspace binary: from `LAMBDA_BIN_DIR` when set (for example `target/perf`, built
/// beforehand; nothing is rebuilt), else the debug build (`cargo build`, which this runs first
/// so it is current).
pub fn binary(name: &str) -> PathBuf {
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
pub fn start_function(binary: &PathBuf, function: &str, runtime: &RuntimeApi, table: &str, env: &[(&str, String)]) -> Child {
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
pub fn peak_rss_mib(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let _ = child.wait();
    out
}
