//! Fault injection for the integration tests: an HTTP/1.1 proxy in front of DynamoDB Local or
//! the S3 server that answers throttling errors, 500s and UnprocessedItems, drops connections
//! and adds latency by rules a test changes while it runs, and counts what it injected; and a
//! bundle server that misbehaves (stalls, cuts a body off).
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use mitre_store::Store;

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// DynamoDB requests of one operation (`X-Amz-Target: DynamoDB_20120810.{op}`), or of
    /// every operation for `"*"`.
    Dynamo(&'static str),
    /// S3 requests (no `X-Amz-Target`), of one method when given and whose path contains
    /// `path` when given.
    S3 { method: Option<&'static str>, path: Option<String> },
}

impl Target {
    pub fn dynamo(op: &'static str) -> Target {
        Target::Dynamo(op)
    }

    pub fn s3(method: &'static str) -> Target {
        Target::S3 { method: Some(method), path: None }
    }

    pub fn s3_path(method: &'static str, path: &str) -> Target {
        Target::S3 { method: Some(method), path: Some(path.to_string()) }
    }

    fn matches(&self, req: &Request) -> bool {
        match (self, req.dynamo_op()) {
            (Target::Dynamo(op), Some(actual)) => *op == "*" || *op == actual,
            (Target::S3 { method, path }, None) => {
                method.is_none_or(|m| m.eq_ignore_ascii_case(&req.method)) && path.as_deref().is_none_or(|p| req.path.contains(p))
            }
            _ => false,
        }
    }
}

/// What a rule does to a request it fires on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// DynamoDB: HTTP 400 `ThrottlingException`; S3: HTTP 503 `SlowDown`.
    Throttle,
    /// DynamoDB: HTTP 400 `ProvisionedThroughputExceededException`.
    ProvisionedThroughputExceeded,
    /// HTTP 500 (`InternalServerError` for DynamoDB, `InternalError` for S3); nothing reaches upstream.
    ServerError,
    /// Closes the connection without answering; nothing reaches upstream.
    Drop,
    /// Holds the request this long before forwarding it, and forwards nothing if the client
    /// hangs up meanwhile (a process killed before its request went out).
    Hold(Duration),
    /// Sends the request upstream, then closes the connection without passing the answer on
    /// (the write happened; the client does not know).
    DropAfterForward,
    /// Waits this long, then goes on with the other rules.
    Latency(Duration),
    /// BatchWriteItem: forwards the first half of the request's items and answers the other
    /// half as `UnprocessedItems` (all of them when there is one), so that the client must retry them.
    Unprocessed,
}

impl Fault {
    /// The name of the fault in the counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ProvisionedThroughputExceeded => "provisioned-throughput",
            Fault::ServerError => "500",
            Fault::Drop => "drop",
            Fault::DropAfterForward => "drop-after-forward",
            Fault::Latency(_) => "latency",
            Fault::Hold(_) => "hold",
            Fault::Unprocessed => "unprocessed",
        }
    }
}

/// How often a rule fires among the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// The Nth, 2Nth, ... matching request.
    Every(u64),
    /// Each matching request with this probability (percent), from a generator seeded with `seed`.
    Chance { percent: u32, seed: u64 },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub target: Target,
    pub fault: Fault,
    pub rate: Rate,
    /// At most this many injections (none: no limit).
    pub limit: Option<u64>,
    matched: u64,
    fired: u64,
    rng: u64,
}

impl Rule {
    /// A rule that fires on every matching request.
    pub fn new(target: Target, fault: Fault) -> Rule {
        Rule { target, fault, rate: Rate::Every(1), limit: None, matched: 0, fired: 0, rng: 0 }
    }

    pub fn every(mut self, n: u64) -> Rule {
        self.rate = Rate::Every(n.max(1));
        self
    }

    pub fn chance(mut self, percent: u32, seed: u64) -> Rule {
        self.rate = Rate::Chance { percent: percent.min(100), seed };
        self.rng = seed.max(1);
        self
    }

    pub fn at_most(mut self, n: u64) -> Rule {
        self.limit = Some(n);
        self
    }

    /// Counts a matching request and says whether the rule fires on it.
    fn fire(&mut self) -> bool {
        self.matched += 1;
        if self.limit.is_some_and(|l| self.fired >= l) {
            return false;
        }
        let fires = match self.rate {
            Rate::Every(n) => self.matched.is_multiple_of(n),
            Rate::Chance { percent, .. } => {
                // xorshift64*: the same seed gives the same sequence of decisions
                self.rng ^= self.rng >> 12;
                self.rng ^= self.rng << 25;
                self.rng ^= self.rng >> 27;
                (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % 100 < u64::from(percent)
            }
        };
        if fires {
            self.fired += 1;
        }
        fires
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default)]
pub struct FaultCounts {
    /// Injections per fault kind (see [`Fault::kind`]).
    pub injected: BTreeMap<&'static str, u64>,
    /// Requests received per operation (the DynamoDB operation, or `S3 {method}`).
    pub seen: BTreeMap<String, u64>,
    /// Requests sent upstream per operation.
    pub forwarded: BTreeMap<String, u64>,
    /// BatchWriteItem write requests that upstream accepted (put and delete requests).
    pub items_written: u64,
    /// Write requests handed back as UnprocessedItems.
    pub items_unprocessed: u64,
}

impl FaultCounts {
    pub fn injected(&self, kind: &str) -> u64 {
        self.injected.get(kind).copied().unwrap_or(0)
    }

    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }

    pub fn forwarded(&self, op: &str) -> u64 {
        self.forwarded.get(op).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let injected: Vec<String> = self.injected.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let seen: Vec<String> = self.seen.iter().map(|(k, v)| format!("{k} {v}")).collect();
        write!(f, "injected [{}]; seen [{}]", injected.join(", "), seen.join(", "))?;
        if self.items_written > 0 || self.items_unprocessed > 0 {
            write!(f, "; BatchWriteItem items written {}, handed back unprocessed {}", self.items_written, self.items_unprocessed)?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    counts: FaultCounts,
}

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of `upstream` (DynamoDB Local or
/// the S3 server). It runs on the runtime that started it until dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy in front of the endpoint URL `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                let (st, upstream) = (st.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve_connection(client, &upstream, &st).await;
                });
            }
        });
        FaultProxy { url, state, task }
    }

    /// In front of the local stack's DynamoDB (AWS_ENDPOINT_URL_DYNAMODB).
    pub async fn dynamodb() -> FaultProxy {
        FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("AWS_ENDPOINT_URL_DYNAMODB")).await
    }

    /// In front of the local stack's S3 server (AWS_ENDPOINT_URL_S3).
    pub async fn s3() -> FaultProxy {
        FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL_S3").expect("AWS_ENDPOINT_URL_S3")).await
    }

    /// Adds a rule (rules apply in the order they were added; latencies add up, and the
    /// first other fault that fires decides).
    pub fn add(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    /// Removes every rule: from now on requests pass through untouched.
    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    pub fn counts(&self) -> FaultCounts {
        self.state.lock().unwrap().counts.clone()
    }
}

/// `store`'s table and bucket through clients whose DynamoDB and/or S3 endpoint is a proxy.
/// The clients retry in a retry partition of their own, so that the faults they meet do not
/// drain the retry tokens of other clients in the process.
pub fn store_via(store: &Store, ddb: Option<&FaultProxy>, s3: Option<&FaultProxy>) -> Store {
    let partition = format!("faults-{}", ulid::Ulid::new());
    let mut ddb_conf = store.ddb.config().to_builder().retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(partition.clone()));
    if let Some(p) = ddb {
        ddb_conf = ddb_conf.endpoint_url(&p.url);
    }
    let mut s3_conf = store.s3.config().to_builder().retry_partition(aws_sdk_s3::config::retry::RetryPartition::new(partition));
    if let Some(p) = s3 {
        s3_conf = s3_conf.endpoint_url(&p.url);
    }
    Store::new(aws_sdk_dynamodb::Client::from_conf(ddb_conf.build()), aws_sdk_s3::Client::from_conf(s3_conf.build()), &store.table, &store.bucket)
}

/// One HTTP message: its start line, its headers and its body as it was on the wire.
#[derive(Debug, Clone)]
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

struct Request {
    method: String,
    path: String,
    msg: Message,
}

impl Request {
    fn dynamo_op(&self) -> Option<&str> {
        self.msg.header("x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t))
    }

    fn op(&self) -> String {
        self.dynamo_op().map(str::to_string).unwrap_or_else(|| format!("S3 {}", self.method))
    }
}

/// The start line and headers of a message; None at the end of the stream.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<(String, Vec<(String, String)>)>> {
    let mut start = String::new();
    loop {
        start.clear();
        if r.read_line(&mut start).await? == 0 {
            return Ok(None);
        }
        if !start.trim().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "headers cut off"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some((start.trim_end().to_string(), headers)))
}

/// A chunked body as it was sent (chunk sizes, chunks, trailers), so it is passed on as is.
async fn read_chunked<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut size_line = String::new();
        if r.read_line(&mut size_line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "chunked body cut off"));
        }
        raw.extend_from_slice(size_line.as_bytes());
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // trailers, then an empty line
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await? == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "trailers cut off"));
                }
                raw.extend_from_slice(line.as_bytes());
                if line.trim().is_empty() {
                    return Ok(raw);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        r.read_exact(&mut chunk).await?;
        raw.extend_from_slice(&chunk);
    }
}

fn content_length(headers: &[(String, String)]) -> Option<usize> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.trim().parse().ok())
}

/// One request from the client; None when the client closed the connection.
async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R, w: &mut tokio::net::tcp::OwnedWriteHalf) -> std::io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(r).await? else { return Ok(None) };
    let mut parts = start.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut msg = Message { start, headers, body: Vec::new() };
    if msg.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        msg.remove_header("expect");
    }
    if msg.is_chunked() {
        msg.body = read_chunked(r).await?;
    } else if let Some(n) = content_length(&msg.headers) {
        msg.body = vec![0; n];
        r.read_exact(&mut msg.body).await?;
    }
    Ok(Some(Request { method, path, msg }))
}

/// The upstream answer to a request, and whether the connection must be closed after it.
async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R, method: &str) -> std::io::Result<(Message, bool)> {
    let (start, headers) = read_head(r).await?.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "upstream closed the connection"))?;
    let status: u16 = start.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut msg = Message { start, headers, body: Vec::new() };
    let mut close = msg.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || (msg.start.starts_with("HTTP/1.0") && !msg.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")));
    if method.eq_ignore_ascii_case("HEAD") || status / 100 == 1 || status == 204 || status == 304 {
        // no body
    } else if msg.is_chunked() {
        msg.body = read_chunked(r).await?;
    } else if let Some(n) = content_length(&msg.headers) {
        msg.body = vec![0; n];
        r.read_exact(&mut msg.body).await?;
    } else {
        r.read_to_end(&mut msg.body).await?;
        close = true;
    }
    Ok((msg, close))
}

struct Upstream {
    address: String,
    conn: Option<(BufReader<tokio::net::tcp::OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf)>,
}

impl Upstream {
    /// Sends `msg` and reads the answer, on a new connection when the kept one was closed.
    async fn exchange(&mut self, msg: &Message, method: &str) -> std::io::Result<(Message, bool)> {
        let bytes = msg.to_bytes();
        for attempt in 0..2 {
            let fresh = self.conn.is_none();
            if fresh {
                let (r, w) = TcpStream::connect(&self.address).await?.into_split();
                self.conn = Some((BufReader::new(r), w));
            }
            let (r, w) = self.conn.as_mut().unwrap();
            let result = async {
                w.write_all(&bytes).await?;
                read_response(r, method).await
            }
            .await;
            match result {
                Ok((resp, close)) => {
                    if close {
                        self.conn = None;
                    }
                    return Ok((resp, close));
                }
                // a kept connection the server had closed: once more on a new one
                Err(_) if !fresh && attempt == 0 => self.conn = None,
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        unreachable!("the loop returns")
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}

fn reply(status: u16, reason: &str, content_type: &str, body: Vec<u8>, head_only: bool) -> Message {
    let mut headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        ("x-amzn-RequestId".to_string(), format!("fault-{}", ulid::Ulid::new())),
        ("Content-Length".to_string(), body.len().to_string()),
    ];
    if head_only {
        headers.retain(|(k, _)| k != "Content-Type");
    }
    Message { start: format!("HTTP/1.1 {status} {reason}"), headers, body: if head_only { Vec::new() } else { body } }
}

fn dynamo_error(status: u16, code: &str) -> Message {
    let body = json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": format!("{code} injected by the fault proxy")});
    reply(status, if status == 400 { "Bad Request" } else { "Internal Server Error" }, "application/x-amz-json-1.0", body.to_string().into_bytes(), false)
}

fn s3_error(status: u16, code: &str, head: bool) -> Message {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{code} injected by the fault proxy</Message><RequestId>fault</RequestId></Error>"
    );
    reply(status, if status == 503 { "Slow Down" } else { "Internal Server Error" }, "application/xml", body.into_bytes(), head)
}

/// What to do with one request, by the rules: the latency to add and the fault that fired.
fn decide(state: &Mutex<State>, req: &Request) -> (Duration, Option<Fault>) {
    let mut st = state.lock().unwrap();
    let st = &mut *st;
    bump(&mut st.counts.seen, &req.op());
    let mut delay = Duration::ZERO;
    let mut fault = None;
    for rule in st.rules.iter_mut().filter(|r| r.target.matches(req)) {
        let latency = matches!(rule.fault, Fault::Latency(_));
        if fault.is_some() && !latency {
            continue;
        }
        if rule.fault == Fault::Unprocessed && req.dynamo_op() != Some("BatchWriteItem") {
            continue;
        }
        if rule.fire() {
            *st.counts.injected.entry(rule.fault.kind()).or_default() += 1;
            match rule.fault {
                Fault::Latency(d) => delay += d,
                f => fault = Some(f),
            }
        }
    }
    (delay, fault)
}

/// The number of write requests of a BatchWriteItem body (all tables).
fn write_request_count(v: &Value, field: &str) -> u64 {
    v[field].as_object().map(|m| m.values().filter_map(Value::as_array).map(|a| a.len() as u64).sum()).unwrap_or(0)
}

async fn serve_connection(client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let (r, mut w) = client.into_split();
    let mut r = BufReader::new(r);
    let mut up = Upstream { address: upstream.to_string(), conn: None };
    while let Some(mut req) = read_request(&mut r, &mut w).await? {
        let (delay, fault) = decide(state, &req);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(Fault::Hold(d)) = fault {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                gone = r.fill_buf() => {
                    if gone.map_or(true, |b| b.is_empty()) {
                        return Ok(());
                    }
                }
            }
        }
        let head = req.method.eq_ignore_ascii_case("HEAD");
        let dynamo = req.dynamo_op().is_some();
        let mut handed_back: Option<(String, Vec<Value>)> = None;
        match fault {
            Some(Fault::Drop) => return Ok(()),
            Some(Fault::Throttle) => {
                let resp = if dynamo { dynamo_error(400, "ThrottlingException") } else { s3_error(503, "SlowDown", head) };
                w.write_all(&resp.to_bytes()).await?;
                continue;
            }
            Some(Fault::ProvisionedThroughputExceeded) => {
                let resp = if dynamo { dynamo_error(400, "ProvisionedThroughputExceededException") } else { s3_error(503, "SlowDown", head) };
                w.write_all(&resp.to_bytes()).await?;
                continue;
            }
            Some(Fault::ServerError) => {
                let resp = if dynamo { dynamo_error(500, "InternalServerError") } else { s3_error(500, "InternalError", head) };
                w.write_all(&resp.to_bytes()).await?;
                continue;
            }
            Some(Fault::Unprocessed) => {
                let mut body: Value = serde_json::from_slice(&req.msg.body).map_err(std::io::Error::other)?;
                let items = body["RequestItems"].as_object_mut().ok_or_else(|| std::io::Error::other("BatchWriteItem without RequestItems"))?;
                let (table, list) = items.iter_mut().next().ok_or_else(|| std::io::Error::other("BatchWriteItem without a table"))?;
                let list = list.as_array_mut().ok_or_else(|| std::io::Error::other("RequestItems is not a list"))?;
                let keep = list.len() / 2;
                let rest = list.split_off(keep);
                state.lock().unwrap().counts.items_unprocessed += rest.len() as u64;
                if keep == 0 {
                    let resp = json!({"UnprocessedItems": {table.clone(): rest}});
                    w.write_all(&reply(200, "OK", "application/x-amz-json-1.0", resp.to_string().into_bytes(), false).to_bytes()).await?;
                    continue;
                }
                handed_back = Some((table.clone(), rest));
                req.msg.body = serde_json::to_vec(&body).unwrap();
                req.msg.set_header("Content-Length", req.msg.body.len().to_string());
            }
            Some(Fault::Latency(_)) | Some(Fault::Hold(_)) | Some(Fault::DropAfterForward) | None => {}
        }
        let op = req.op();
        let sent = if op == "BatchWriteItem" {
            serde_json::from_slice::<Value>(&req.msg.body).map(|v| write_request_count(&v, "RequestItems")).unwrap_or(0)
        } else {
            0
        };
        bump(&mut state.lock().unwrap().counts.forwarded, &op);
        let (mut resp, close) = up.exchange(&req.msg, &req.method).await?;
        if op == "BatchWriteItem" && resp.start.split_whitespace().nth(1) == Some("200") {
            let mut v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            let unprocessed = write_request_count(&v, "UnprocessedItems");
            state.lock().unwrap().counts.items_written += sent.saturating_sub(unprocessed);
            if let Some((table, rest)) = handed_back {
                if !v["UnprocessedItems"].is_object() {
                    v["UnprocessedItems"] = json!({});
                }
                let list = v["UnprocessedItems"].as_object_mut().unwrap().entry(table).or_insert_with(|| json!([]));
                list.as_array_mut().unwrap().extend(rest);
                resp.body = serde_json::to_vec(&v).unwrap();
                resp.remove_header("x-amz-crc32");
                resp.remove_header("transfer-encoding");
                resp.set_header("Content-Length", resp.body.len().to_string());
            }
        }
        if fault == Some(Fault::DropAfterForward) {
            return Ok(());
        }
        w.write_all(&resp.to_bytes()).await?;
        if close {
            return Ok(());
        }
    }
    Ok(())
}

/// How a [`BundleServer`] answers.
#[derive(Debug, Clone)]
pub enum Serve {
    /// 200 with the whole body.
    Body(Vec<u8>),
    /// 200 announcing the body's full length, then only the first `at` bytes, then the
    /// connection closes.
    CutOff { body: Vec<u8>, at: usize },
    /// Accepts the connection, reads the request and never answers.
    Silence,
    /// Answers the status line and headers (announcing a body) and then sends nothing more.
    HeadersThenStall,
}

/// An HTTP bundle source whose behaviour a test changes between runs.
pub struct BundleServer {
    pub url: String,
    mode: Arc<Mutex<Serve>>,
    requests: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BundleServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BundleServer {
    /// Serves `/{name}` (for example `ics-attack-18.1.json.gz`) on 127.0.0.1.
    pub async fn start(name: &str, mode: Serve) -> BundleServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/{name}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(Mutex::new(0));
        let (m, n) = (mode.clone(), requests.clone());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                if !matches!(read_head(&mut r).await, Ok(Some(_))) {
                    continue;
                }
                *n.lock().unwrap() += 1;
                let mode = m.lock().unwrap().clone();
                let head =
                    |len: usize| format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
                match mode {
                    Serve::Body(body) => {
                        let _ = w.write_all(head(body.len()).as_bytes()).await;
                        let _ = w.write_all(&body).await;
                    }
                    Serve::CutOff { body, at } => {
                        let _ = w.write_all(head(body.len()).as_bytes()).await;
                        let _ = w.write_all(&body[..at.min(body.len())]).await;
                    }
                    Serve::Silence => held.push((r, w)),
                    Serve::HeadersThenStall => {
                        let _ = w.write_all(head(1 << 20).as_bytes()).await;
                        let _ = w.flush().await;
                        held.push((r, w));
                    }
                }
            }
        });
        BundleServer { url, mode, requests, task }
    }

    pub fn set(&self, mode: Serve) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The number of requests answered (or left unanswered) so far.
    pub fn requests(&self) -> u64 {
        *self.requests.lock().unwrap()
    }
}
