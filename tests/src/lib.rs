//! Helpers for the integration tests: each test gets its own table and bucket on the local
//! stack (see `infra/test.sh`), plus a tiny HTTP server for source tests.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mitre_store::{Store, aws_clients, schema::create_table};

pub mod faults;
pub mod runtime;

pub struct TestApp {
    pub store: Store,
}

/// A fresh table (from infra/table.json) and bucket on the local stack.
pub async fn spawn_app() -> TestApp {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some() && std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "the integration tests need the local stack: run them with `make test` (infra/test.sh)"
    );
    let (ddb, s3) = aws_clients().await;
    let name = format!("t-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&ddb, &name).await.expect("create the test table");
    s3.create_bucket().bucket(&name).send().await.expect("create the test bucket");
    TestApp { store: Store::new(ddb, s3, &name, &name) }
}

/// Every item of the table whose `attribute` begins with `prefix` (a consistent Scan, every page).
pub async fn scan_prefixed(store: &Store, attribute: &str, prefix: &str) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    scan_filtered(store, "begins_with(#a, :p)", attribute, prefix).await
}

/// Every item of the table whose `attribute` equals `value` (a consistent Scan, every page).
pub async fn scan_equal(store: &Store, attribute: &str, value: &str) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    scan_filtered(store, "#a = :p", attribute, value).await
}

async fn scan_filtered(
    store: &Store,
    filter: &str,
    attribute: &str,
    value: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .ddb
            .scan()
            .table_name(&store.table)
            .consistent_read(true)
            .filter_expression(filter)
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S(value.to_string()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the table");
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

/// A file of ../shared/attack-data (or ATTACK_DATA_DIR).
pub fn attack_data(file: &str) -> PathBuf {
    let dir =
        std::env::var_os("ATTACK_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/attack-data"));
    let path = dir.join(file);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Writes `text` to a temporary file and returns its path.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mitre-tests-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// One request as the fixture server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the fixture server answers: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with `respond`.
pub struct HttpFixture {
    pub url: String,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl HttpFixture {
    pub fn start(respond: impl Fn(&SeenRequest) -> Reply + Send + 'static) -> HttpFixture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/enterprise-attack.json", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let req = SeenRequest { path, headers };
                let (status, extra, body) = respond(&req);
                seen2.lock().unwrap().push(req);
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        HttpFixture { url, seen }
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A table and bucket with enterprise 18.1 and ICS 18.1 synced, shared by the API tests
/// (synced once per test binary, on a runtime of its own).
pub struct SyncedCatalog {
    pub table: String,
}

pub fn synced_catalog() -> &'static SyncedCatalog {
    static CELL: std::sync::OnceLock<SyncedCatalog> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        sync_catalog(&[
            ("enterprise-attack-18.1.json.gz", mitre_attack::Domain::EnterpriseAttack),
            ("ics-attack-18.1.json.gz", mitre_attack::Domain::IcsAttack),
        ])
    })
}

/// Enterprise 18.1, mobile 18.0 and ICS 18.1 side by side, shared the same way.
pub fn synced_catalog_all_domains() -> &'static SyncedCatalog {
    static CELL: std::sync::OnceLock<SyncedCatalog> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        sync_catalog(&[
            ("enterprise-attack-18.1.json.gz", mitre_attack::Domain::EnterpriseAttack),
            ("mobile-attack-18.0.json.gz", mitre_attack::Domain::MobileAttack),
            ("ics-attack-18.1.json.gz", mitre_attack::Domain::IcsAttack),
        ])
    })
}

fn sync_catalog(releases: &'static [(&'static str, mitre_attack::Domain)]) -> SyncedCatalog {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            for (file, domain) in releases {
                let source = mitre_sync::FileSource { path: attack_data(file) };
                mitre_sync::Syncer::new(&app.store).run(&source, &mitre_sync::SyncOptions::new(*domain), &|_| {}).await.expect("sync for the API tests");
            }
            register(&app.store, ALICE, "acme", mitre_store::tenancy::Role::Viewer).await;
            SyncedCatalog { table: app.store.table.clone() }
        })
    })
    .join()
    .unwrap()
}

/// A store (with clients of the calling runtime) on the shared synced table and bucket.
pub async fn synced_store() -> Store {
    store_of(synced_catalog()).await
}

pub async fn synced_store_all_domains() -> Store {
    store_of(synced_catalog_all_domains()).await
}

async fn store_of(shared: &SyncedCatalog) -> Store {
    let (ddb, s3) = aws_clients().await;
    Store::new(ddb, s3, &shared.table, &shared.table)
}

pub use mitre_api::testing::{Answer, Call};

pub const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

/// Calls the API through the router, as API Gateway would deliver the request.
pub async fn call(app: &mitre_api::App, method: &str, path: &str, principal: Option<&str>, body: &[u8]) -> Answer {
    Call::new(method, path).by_opt(principal).body(body).send(app).await
}

pub async fn get(app: &mitre_api::App, path: &str) -> Answer {
    call(app, "GET", path, Some(ALICE), b"").await
}

/// Registers `arn` directly in the store (as a deployment's first superuser would through the API).
pub async fn register(store: &Store, arn: &str, tenant: &str, role: mitre_store::tenancy::Role) {
    use mitre_domain::{AuditEntry, Principal, PrincipalRepo};
    let p = Principal::register(arn, tenant, role.as_str(), &[], "tests", None).expect("a valid principal");
    let audit = AuditEntry::of(&p.tenant, "tests", "principal.put", format!("principals/{arn}"), None, Some(&p), "tests");
    store.put_principal(&p, audit).await.expect("register a principal");
}

/// Calls with extra headers (If-Match, ...).
pub async fn call_with(
    app: &mitre_api::App,
    method: &str,
    path: &str,
    principal: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Answer, Option<String>) {
    let call = headers.iter().fold(Call::new(method, path).by_opt(principal).body(body), |c, (k, v)| c.header(k, v));
    let answer = call.send(app).await;
    let etag = answer.etag.clone();
    (answer, etag)
}

/// Reshapes an enterprise release (gzip or plain) the way ATT&CK v19 changed it: tactic TA0005
/// `defense-evasion` becomes `stealth` (same STIX id and ATT&CK ID), a new tactic TA0112
/// `defense-impairment` follows it in the matrix's `tactic_refs`, T1562 and its sub-techniques
/// move to the new tactic and every other technique of `defense-evasion` to `stealth`.
/// Answers the plain JSON bundle and the new tactic's STIX id.
pub fn reshape_like_v19(bundle: &[u8]) -> (Vec<u8>, String) {
    use serde_json::{Value, json};
    let data = mitre_attack::decode_source_bytes(bundle.to_vec()).unwrap();
    let mut v: Value = serde_json::from_slice(&data).unwrap();
    let new_id = "x-mitre-tactic--0a1b2c3d-4e5f-4a6b-8c7d-19e0f1a2b3c4".to_string();
    let objects = v["objects"].as_array_mut().unwrap();
    let mut old_id = None;
    for o in objects.iter_mut() {
        let attack_id = o["external_references"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["source_name"] == "mitre-attack"))
            .and_then(|r| r["external_id"].as_str())
            .unwrap_or_default()
            .to_string();
        match o["type"].as_str().unwrap_or_default() {
            "x-mitre-tactic" if o["x_mitre_shortname"] == "defense-evasion" => {
                o["x_mitre_shortname"] = json!("stealth");
                o["name"] = json!("Stealth");
                o["modified"] = json!("2026-04-28T00:00:00.000Z");
                old_id = Some(o["id"].as_str().unwrap().to_string());
            }
            "attack-pattern" => {
                let target = if attack_id == "T1562" || attack_id.starts_with("T1562.") { "defense-impairment" } else { "stealth" };
                let mut changed = false;
                if let Some(phases) = o["kill_chain_phases"].as_array_mut() {
                    for p in phases.iter_mut().filter(|p| p["kill_chain_name"] == "mitre-attack" && p["phase_name"] == "defense-evasion") {
                        p["phase_name"] = json!(target);
                        changed = true;
                    }
                }
                if changed {
                    o["modified"] = json!("2026-04-28T00:00:00.000Z");
                }
            }
            _ => {}
        }
    }
    let old_id = old_id.expect("the release has defense-evasion");
    let template = objects.iter().find(|o| o["id"] == old_id.as_str()).unwrap().clone();
    let mut new = template;
    new["id"] = json!(new_id);
    new["x_mitre_shortname"] = json!("defense-impairment");
    new["name"] = json!("Defense Impairment");
    new["description"] = json!("The adversary is trying to impair your defenses.");
    new["external_references"] = json!([{"source_name": "mitre-attack", "external_id": "TA0112", "url": "https://attack.mitre.org/tactics/TA0112"}]);
    objects.push(new);
    for o in objects.iter_mut().filter(|o| o["type"] == "x-mitre-matrix") {
        let refs = o["tactic_refs"].as_array_mut().unwrap();
        let at = refs.iter().position(|r| r == old_id.as_str()).unwrap();
        refs.insert(at + 1, json!(new_id));
    }
    (serde_json::to_vec(&v).unwrap(), new_id)
}

/// One DynamoDB or S3 request as IAM authorises it: the action, the index (for an index
/// Query), the object key (for S3) and the partition key values it names (for an index, the
/// index's; for a transaction, one record per item).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub action: String,
    pub index: Option<String>,
    pub object: Option<String>,
    pub keys: Vec<String>,
}

/// The requests a recording store made, oldest first.
pub type Recording = Arc<Mutex<Vec<Recorded>>>;

#[derive(Debug)]
struct Recorder(Recording);

fn pk_of(item: Option<&std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>) -> String {
    item.and_then(|i| i.get("pk")).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

impl Recorder {
    fn push(&self, action: &str, index: Option<String>, object: Option<String>, keys: Vec<String>) {
        self.0.lock().unwrap().push(Recorded { action: action.into(), index, object, keys });
    }
}

impl aws_sdk_dynamodb::config::Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RequestRecorder"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::*;
        let input = context.input();
        if let Some(i) = input.downcast_ref::<get_item::GetItemInput>() {
            self.push("dynamodb:GetItem", None, None, vec![pk_of(i.key())]);
        } else if let Some(i) = input.downcast_ref::<put_item::PutItemInput>() {
            self.push("dynamodb:PutItem", None, None, vec![pk_of(i.item())]);
        } else if let Some(i) = input.downcast_ref::<update_item::UpdateItemInput>() {
            self.push("dynamodb:UpdateItem", None, None, vec![pk_of(i.key())]);
        } else if let Some(i) = input.downcast_ref::<delete_item::DeleteItemInput>() {
            self.push("dynamodb:DeleteItem", None, None, vec![pk_of(i.key())]);
        } else if let Some(i) = input.downcast_ref::<query::QueryInput>() {
            // the partition key condition comes first: `#p = :p [AND ...]`
            let condition = i.key_condition_expression().unwrap_or_default();
            let value = condition.split(" AND ").next().and_then(|c| c.split('=').nth(1)).map(str::trim).unwrap_or_default();
            let pk = i.expression_attribute_values().and_then(|v| v.get(value)).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            self.push("dynamodb:Query", i.index_name().map(str::to_string), None, vec![pk]);
        } else if let Some(i) = input.downcast_ref::<batch_get_item::BatchGetItemInput>() {
            let keys = i.request_items().into_iter().flat_map(|m| m.values()).flat_map(|k| k.keys()).map(|k| pk_of(Some(k))).collect();
            self.push("dynamodb:BatchGetItem", None, None, keys);
        } else if let Some(i) = input.downcast_ref::<batch_write_item::BatchWriteItemInput>() {
            let keys = i
                .request_items()
                .into_iter()
                .flat_map(|m| m.values().flatten())
                .map(|w| match (w.put_request(), w.delete_request()) {
                    (Some(p), _) => pk_of(Some(p.item())),
                    (_, Some(d)) => pk_of(Some(d.key())),
                    _ => String::new(),
                })
                .collect();
            self.push("dynamodb:BatchWriteItem", None, None, keys);
        } else if let Some(i) = input.downcast_ref::<transact_write_items::TransactWriteItemsInput>() {
            // authorised per item
            for t in i.transact_items() {
                match (t.put(), t.update(), t.delete(), t.condition_check()) {
                    (Some(p), ..) => self.push("dynamodb:PutItem", None, None, vec![pk_of(Some(p.item()))]),
                    (_, Some(u), ..) => self.push("dynamodb:UpdateItem", None, None, vec![pk_of(Some(u.key()))]),
                    (_, _, Some(d), _) => self.push("dynamodb:DeleteItem", None, None, vec![pk_of(Some(d.key()))]),
                    (_, _, _, Some(c)) => self.push("dynamodb:ConditionCheckItem", None, None, vec![pk_of(Some(c.key()))]),
                    _ => self.push("dynamodb:?TransactWriteItem", None, None, Vec::new()),
                }
            }
        } else {
            // an operation this recorder does not know: it fails every access check
            self.push(&format!("dynamodb:?{input:?}"), None, None, Vec::new());
        }
        Ok(())
    }
}

#[derive(Debug)]
struct S3Recorder(Recorder);

impl aws_sdk_s3::config::Intercept for S3Recorder {
    fn name(&self) -> &'static str {
        "S3RequestRecorder"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        use aws_sdk_s3::operation::*;
        let input = context.input();
        if let Some(i) = input.downcast_ref::<get_object::GetObjectInput>() {
            self.0.push("s3:GetObject", None, i.key().map(str::to_string), Vec::new());
        } else if let Some(i) = input.downcast_ref::<head_object::HeadObjectInput>() {
            self.0.push("s3:GetObject", None, i.key().map(str::to_string), Vec::new());
        } else if let Some(i) = input.downcast_ref::<put_object::PutObjectInput>() {
            self.0.push("s3:PutObject", None, i.key().map(str::to_string), Vec::new());
        } else {
            self.0.push(&format!("s3:?{input:?}"), None, None, Vec::new());
        }
        Ok(())
    }
}

/// The same table and bucket as `store`, through clients that record every request they make
/// (DynamoDB Local and the S3 emulator enforce no IAM; the recording lets a test check each
/// request against the IAM statements of the function that made it).
pub fn recording_store(store: &Store) -> (Store, Recording) {
    let log: Recording = Arc::new(Mutex::new(Vec::new()));
    let ddb = aws_sdk_dynamodb::Client::from_conf(store.ddb.config().to_builder().interceptor(Recorder(log.clone())).build());
    let s3 = aws_sdk_s3::Client::from_conf(store.s3.config().to_builder().interceptor(S3Recorder(Recorder(log.clone()))).build());
    (Store::new(ddb, s3, &store.table, &store.bucket), log)
}
