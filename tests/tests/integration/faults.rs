//! Faults: a sync of ICS 18.1 over a previous release while a fault-injecting proxy in front of
//! DynamoDB Local or the S3 server answers throttling errors, 500s and UnprocessedItems, drops
//! connections and adds latency; a sync killed mid-run; a corrupt bundle; a source that times
//! out. Each time readers (the API router, on a clean connection) get the full catalog of the
//! previous release until the run commits, and the next clean run converges to exactly the
//! items, domain state and manifest of a clean run into a fresh table.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use mitre_api::{App, Settings};
use mitre_attack::{Domain, Manifest};
use mitre_store::items::{DomainState, Outcome};
use mitre_store::tenancy::Role;
use mitre_store::{Store, keys};
use mitre_sync::{BundleSource, FileSource, HttpSource, Progress, SyncError, SyncOptions, SyncReport, Syncer};
use mitre_tests::faults::{BundleServer, Fault, FaultCounts, FaultProxy, Rule, Serve, Target, store_via};
use mitre_tests::{ALICE, Call, TestApp, attack_data, get, register, scan_prefixed, spawn_app, synced_store, temp_file};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";
const ICS: Domain = Domain::IcsAttack;
const ICS_FILE: &str = "ics-attack-18.1.json.gz";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn sync_with(store: &Store, source: &dyn BundleSource, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    Syncer::new(store).run(source, opts, &|_| {}).await
}

async fn sync(store: &Store, source: &dyn BundleSource) -> Result<SyncReport, SyncError> {
    let mut opts = SyncOptions::new(ICS);
    opts.actor = "test".into();
    sync_with(store, source, &opts).await
}

fn ics_18_1() -> FileSource {
    FileSource { path: attack_data(ICS_FILE) }
}

/// ICS 18.1 as an earlier release could have had it, so that 18.1 over it rewrites most
/// objects, adds, removes and moves some: version 18.0, every description different, five
/// techniques named otherwise, one technique in another tactic, ten relationships missing,
/// and a technique and a mitigation that 18.1 no longer has.
fn previous_release() -> &'static PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    CELL.get_or_init(|| {
        let data = mitre_attack::decode_source_bytes(std::fs::read(attack_data(ICS_FILE)).unwrap()).unwrap();
        let mut v: Value = serde_json::from_slice(&data).unwrap();
        let objects = v["objects"].as_array_mut().unwrap();
        let mut removed = 0;
        objects.retain(|o| {
            let drop = o["type"] == "relationship" && removed < 10;
            removed += usize::from(drop);
            !drop
        });
        let mut renamed = 0;
        let mut moved = false;
        let mut extra = Vec::new();
        for o in objects.iter_mut() {
            if let Some(d) = o["description"].as_str() {
                o["description"] = json!(format!("{d} (as the previous release described it)"));
            }
            match o["type"].as_str().unwrap() {
                "x-mitre-collection" => o["x_mitre_version"] = json!("18.0"),
                "attack-pattern" if renamed < 5 => {
                    o["name"] = json!(format!("{} (old name)", o["name"].as_str().unwrap()));
                    renamed += 1;
                }
                "attack-pattern" if !moved => {
                    let phase = &mut o["kill_chain_phases"][0]["phase_name"];
                    *phase = json!(if phase == "collection" { "impact" } else { "collection" });
                    moved = true;
                    let mut retired = o.clone();
                    retired["id"] = json!("attack-pattern--00000000-0000-4000-8000-00000000f001");
                    retired["name"] = json!("Retired technique");
                    retired["external_references"][0]["external_id"] = json!("T0999");
                    extra.push(retired);
                }
                _ => {}
            }
        }
        let mut retired = objects.iter().find(|o| o["type"] == "course-of-action").unwrap().clone();
        retired["id"] = json!("course-of-action--00000000-0000-4000-8000-00000000f002");
        retired["name"] = json!("Retired mitigation");
        retired["external_references"][0]["external_id"] = json!("M0999");
        extra.push(retired);
        assert_eq!((removed, renamed, moved, extra.len()), (10, 5, true, 2));
        objects.extend(extra);
        temp_file("ics-attack-18.0.json", &serde_json::to_vec(&v).unwrap())
    })
}

/// The catalog items of a domain (objects and technique-in-tactic items), whole, by key. An
/// object's stored STIX text is compared as JSON: a release re-serialised differently has the
/// same content, and the sync keeps the text it stored first.
type Items = BTreeMap<(String, String), String>;

fn comparable(item: &std::collections::HashMap<String, AttributeValue>) -> String {
    let mut sorted: BTreeMap<&String, String> = item.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    if let Some(AttributeValue::B(blob)) = item.get("stix_deflate") {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::DeflateDecoder::new(blob.as_ref()).read_to_string(&mut text).expect("stored STIX text inflates");
        let json: Value = serde_json::from_str(&text).expect("stored STIX text is JSON");
        sorted.insert(item.get_key_value("stix_deflate").unwrap().0, json.to_string());
    }
    format!("{sorted:?}")
}

async fn catalog_items(store: &Store, domain: Domain) -> Items {
    let key = |item: &std::collections::HashMap<String, AttributeValue>, n: &str| item.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    scan_prefixed(store, "pk", &keys::object_pk(domain, "")).await.iter().map(|item| ((key(item, "pk"), key(item, "sk")), comparable(item))).collect()
}

/// What a domain state says about the release it holds (nothing of the run that stored it).
fn release_of(st: &DomainState) -> Value {
    json!({
        "version": st.version,
        "spec_version": st.spec_version,
        "bundle_sha256": st.bundle_sha256,
        "bundle_key": st.bundle_key,
        "snapshot_key": st.snapshot_key,
        "item_schema": st.item_schema,
        "snapshot_schema": st.snapshot_schema,
        "summary": st.summary,
        "dirty": st.dirty,
        "pending_manifest_key": st.pending_manifest_key,
    })
}

async fn state(store: &Store) -> DomainState {
    store.domain_state(ICS).await.unwrap().expect("a domain state")
}

async fn manifest(store: &Store, st: &DomainState) -> Manifest {
    let bytes = store.get_object(st.manifest_key.as_deref().unwrap()).await.unwrap().expect("the manifest");
    Manifest::decode(&bytes).unwrap()
}

/// An API container reading through clean clients; it re-checks the domain state on every call.
fn reader(store: &Store) -> App {
    App::new(store.clone(), Settings { catalog_ttl: Duration::ZERO, metric_lines: false, ..Settings::default() })
}

async fn all_pages(api: &App, list: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{P}/{list}?domain=ics-attack&limit=500&cursor={c}"),
            None => format!("{P}/{list}?domain=ics-attack&limit=500"),
        };
        let r = get(api, &url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        items.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

/// What a reader gets of the ICS catalog: tactics, techniques, mitigations, relationships and
/// one technique in detail.
async fn reader_view(api: &App) -> Value {
    let detail = get(api, &format!("{P}/techniques/T0800?domain=ics-attack")).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    json!({
        "tactics": all_pages(api, "tactics").await,
        "techniques": all_pages(api, "techniques").await,
        "mitigations": all_pages(api, "mitigations").await,
        "relationships": all_pages(api, "relationships").await,
        "T0800": detail.body,
    })
}

/// A clean run of ICS 18.1 into a fresh table: what every faulty sequence must end with.
struct Reference {
    items: Items,
    release: Value,
    manifest: Manifest,
    view: Value,
}

fn reference() -> &'static Reference {
    static CELL: OnceLock<Reference> = OnceLock::new();
    CELL.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async {
                let app = spawn_app().await;
                register(&app.store, ALICE, "acme", Role::Viewer).await;
                let r = sync(&app.store, &ics_18_1()).await.expect("the clean reference run");
                assert_eq!((r.outcome, r.version.as_deref(), r.objects), (Outcome::Succeeded, Some("18.1"), 1_826));
                let st = state(&app.store).await;
                Reference {
                    items: catalog_items(&app.store, ICS).await,
                    release: release_of(&st),
                    manifest: manifest(&app.store, &st).await,
                    view: reader_view(&reader(&app.store)).await,
                }
            })
        })
        .join()
        .expect("the reference run")
    })
}

/// A fresh table and bucket holding the previous release, and what readers get of it.
struct Previous {
    app: TestApp,
    release: Value,
    view: Value,
}

async fn with_previous_release() -> Previous {
    let reference = tokio::task::spawn_blocking(reference).await.unwrap();
    let app = spawn_app().await;
    register(&app.store, ALICE, "acme", Role::Viewer).await;
    let r = sync(&app.store, &FileSource { path: previous_release().clone() }).await.unwrap();
    assert_eq!((r.outcome, r.version.as_deref()), (Outcome::Succeeded, Some("18.0")));
    let view = reader_view(&reader(&app.store)).await;
    assert_ne!(view, reference.view, "the previous release reads differently");
    Previous { release: release_of(&state(&app.store).await), view, app }
}

impl Previous {
    fn store(&self) -> &Store {
        &self.app.store
    }

    /// Readers get the previous release, whole; the domain state still names it.
    async fn assert_still_served(&self, label: &str) {
        let mut st = release_of(&state(self.store()).await);
        // a run that got as far as writing leaves the domain marked for repair, nothing else
        st["dirty"] = json!(false);
        st["pending_manifest_key"] = Value::Null;
        assert_eq!(st, self.release, "{label}: the domain state still names the previous release");
        assert!(self.view == reader_view(&reader(self.store())).await, "{label}: readers get the previous catalog");
    }

    /// The table, the domain state, the manifest and what readers get equal the clean run's;
    /// no lease is left behind.
    async fn assert_converged(&self, label: &str) {
        let reference = reference();
        let items = catalog_items(self.store(), ICS).await;
        if items != reference.items {
            let missing: Vec<_> = reference.items.keys().filter(|k| !items.contains_key(*k)).take(5).collect();
            let extra: Vec<_> = items.keys().filter(|k| !reference.items.contains_key(*k)).take(5).collect();
            let differing: Vec<_> = items.iter().filter(|(k, v)| reference.items.get(*k).is_some_and(|r| r != *v)).map(|(k, _)| k).take(5).collect();
            panic!("{label}: {} items, the clean run {}; missing {missing:?}, extra {extra:?}, differing {differing:?}", items.len(), reference.items.len());
        }
        let st = state(self.store()).await;
        assert_eq!(release_of(&st), reference.release, "{label}: domain state");
        assert!(manifest(self.store(), &st).await == reference.manifest, "{label}: manifest");
        assert!(reader_view(&reader(self.store())).await == reference.view, "{label}: readers get the new catalog");
        let lease = self
            .store()
            .ddb
            .get_item()
            .table_name(&self.store().table)
            .set_key(Some(mitre_store::ddb::key(keys::sync_pk(ICS), keys::LEASE_SK)))
            .send()
            .await
            .unwrap();
        assert!(lease.item.is_none(), "{label}: the lease was released");
    }

    /// A clean run after a faulty one: it succeeds (or finds nothing left to do) and converges.
    async fn converge(&self, label: &str) -> SyncReport {
        let r = sync(self.store(), &ics_18_1()).await.unwrap_or_else(|e| panic!("{label}: the clean run after the faults failed: {e}"));
        assert!(matches!(r.outcome, Outcome::Succeeded | Outcome::Unchanged), "{label}: {:?}", r.outcome);
        self.assert_converged(label).await;
        r
    }

    /// Reads the catalog through a clean API container until stopped, and checks that every
    /// read is a whole release: the previous one, or (once the run committed) the new one
    /// (every request answers from one release; a view read across the commit is read again).
    fn watch(&self) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let (store, old, new, stop2) = (self.store().clone(), self.view.clone(), reference().view.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let api = reader(&store);
            let (mut old_reads, mut new_reads) = (0u32, 0u32);
            loop {
                // A view is several requests: one that straddles the commit may mix the two
                // releases, and the one read right after it must not.
                let mut view = reader_view(&api).await;
                if view != old && view != new {
                    view = reader_view(&api).await;
                }
                if view == old {
                    old_reads += 1;
                } else if view == new {
                    new_reads += 1;
                } else {
                    panic!("a reader got a catalog that is neither release, twice in a row");
                }
                if stop2.load(Ordering::Relaxed) {
                    return (old_reads, new_reads);
                }
                tokio::time::sleep(ms(50)).await;
            }
        });
        Watcher { stop, task }
    }
}

struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u32, u32)>,
}

impl Watcher {
    /// Stops reading: the reads of the previous release and of the new one.
    async fn finish(self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the reader saw whole releases only")
    }
}

fn report(test: &str, counts: &FaultCounts, started: Instant, outcome: &str) {
    println!("faults/{test}: {counts}; {outcome}; {:.1}s", started.elapsed().as_secs_f64());
}

/// Throttling errors, 500s, dropped connections (before and after the request reached the
/// table) and latency on every DynamoDB operation of a sync.
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_faults_during_a_sync_are_retried_or_fail_cleanly() {
    let started = Instant::now();
    let prev = with_previous_release().await;
    let proxy = FaultProxy::dynamodb().await;
    proxy.add(Rule::new(Target::dynamo("*"), Fault::Latency(ms(10))).chance(30, 7));
    // the first request of each single-item operation fails once, each differently (the
    // answers to the lease PutItem and to the commit are lost after they took effect)
    proxy.add(Rule::new(Target::dynamo("PutItem"), Fault::DropAfterForward).at_most(1));
    proxy.add(Rule::new(Target::dynamo("GetItem"), Fault::ServerError).at_most(1));
    proxy.add(Rule::new(Target::dynamo("UpdateItem"), Fault::Drop).at_most(1));
    proxy.add(Rule::new(Target::dynamo("Query"), Fault::Throttle).at_most(1));
    proxy.add(Rule::new(Target::dynamo("TransactWriteItems"), Fault::DropAfterForward).at_most(1));
    proxy.add(Rule::new(Target::dynamo("DeleteItem"), Fault::Drop).at_most(1));
    // and one BatchWriteItem call in three or so
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::Throttle).every(5).at_most(10));
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::ServerError).every(6).at_most(8));
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::Drop).every(7).at_most(6));
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::DropAfterForward).every(8).at_most(4));
    let faulty = store_via(prev.store(), Some(&proxy), None);

    let watcher = prev.watch();
    let result = sync(&faulty, &ics_18_1()).await;
    let (old_reads, new_reads) = watcher.finish().await;
    let counts = proxy.counts();
    if let Err(e @ SyncError::Locked { .. }) = &result {
        panic!("the run was locked out by its own lease, whose PutItem answer was lost: {e}");
    }
    for kind in ["throttle", "500", "drop", "drop-after-forward", "latency"] {
        assert!(counts.injected(kind) > 0, "no {kind} was injected: {counts}");
    }
    let outcome = match &result {
        Ok(r) => {
            assert_eq!((r.outcome, r.version.as_deref()), (Outcome::Succeeded, Some("18.1")));
            prev.assert_converged("after the faulty run").await;
            format!("the faulty run succeeded ({} written, {} deleted)", r.written, r.deleted)
        }
        Err(e) => {
            prev.assert_still_served("after the failed run").await;
            format!("the faulty run failed cleanly: {e}")
        }
    };
    proxy.clear();
    let next = prev.converge("the next run").await;
    if result.is_ok() {
        assert_eq!(next.outcome, Outcome::Unchanged, "nothing left to do");
    }
    report("dynamodb", &counts, started, &format!("{outcome}; reads during the run: {old_reads} previous, {new_reads} new"));
}

/// BatchWriteItem throttled (ThrottlingException past the SDK's own retries,
/// ProvisionedThroughputExceededException) and answered with UnprocessedItems: the sync
/// retries until every item is written, each exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn throttled_writes_and_unprocessed_items_are_retried_until_all_are_written() {
    let started = Instant::now();
    let prev = with_previous_release().await;
    let proxy = FaultProxy::dynamodb().await;
    // Four calls in flight, each throttled three times in a row: more than the SDK retries.
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::Throttle).at_most(12));
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::Unprocessed).every(2).at_most(40));
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::ProvisionedThroughputExceeded).every(5).at_most(10));
    let faulty = store_via(prev.store(), Some(&proxy), None);
    let mut opts = SyncOptions::new(ICS);
    opts.concurrency = 4;
    let total = std::sync::atomic::AtomicU64::new(0);
    let progress = |p: Progress| {
        if let Progress::WriteTotal(n) = p {
            total.store(n, Ordering::Relaxed);
        }
    };
    let r = Syncer::new(&faulty).run(&ics_18_1(), &opts, &progress).await.expect("the throttled sync goes through");
    let counts = proxy.counts();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!((counts.injected("throttle"), counts.injected("provisioned-throughput"), counts.injected("unprocessed")), (12, 10, 40), "{counts}");
    assert!(counts.items_unprocessed >= 40, "{counts}");
    let total = total.load(Ordering::Relaxed);
    assert!(total > 1_000, "most items are rewritten: {total}");
    assert_eq!(counts.items_written, total, "every write request reached the table exactly once: {counts}");
    prev.assert_converged("after the throttled run").await;
    let next = prev.converge("the next run").await;
    assert_eq!(next.outcome, Outcome::Unchanged);
    report("throttled-writes", &counts, started, &format!("{total} write requests, {} handed back unprocessed", counts.items_unprocessed));
}

/// 500s, SlowDown and dropped connections on S3 while the run reads the manifests and archives
/// the manifest, the bundle and the snapshot: past the SDK's retries the run fails (its items
/// written, not committed); within them it goes through.
#[tokio::test(flavor = "multi_thread")]
async fn s3_faults_while_archiving_fail_the_run_cleanly_or_are_retried() {
    let started = Instant::now();
    let prev = with_previous_release().await;
    let proxy = FaultProxy::s3().await;
    let faulty = store_via(prev.store(), None, Some(&proxy));

    // Every attempt to store the snapshot fails.
    proxy.add(Rule::new(Target::s3_path("PUT", "/snapshots/"), Fault::ServerError).at_most(3));
    let err = sync(&faulty, &ics_18_1()).await.expect_err("the snapshot could not be stored");
    assert!(err.to_string().contains("PutObject"), "{err}");
    let first = proxy.counts();
    assert_eq!(first.injected("500"), 3, "{first}");
    prev.assert_still_served("after the failed run").await;
    let st = state(prev.store()).await;
    assert_eq!(st.last_run.as_ref().unwrap().outcome, Outcome::Failed);

    // Then each S3 operation fails once (the run repairs the dirty domain too).
    proxy.clear();
    proxy.add(Rule::new(Target::s3("GET"), Fault::Throttle).at_most(1));
    proxy.add(Rule::new(Target::s3("HEAD"), Fault::ServerError).at_most(1));
    proxy.add(Rule::new(Target::s3("PUT"), Fault::Drop).at_most(1));
    proxy.add(Rule::new(Target::s3_path("PUT", "/snapshots/"), Fault::ServerError).at_most(1));
    let watcher = prev.watch();
    let r = sync(&faulty, &ics_18_1()).await.expect("S3 faults within the SDK's retries are absorbed");
    let (old_reads, new_reads) = watcher.finish().await;
    let counts = proxy.counts();
    for kind in ["throttle", "500", "drop"] {
        assert!(counts.injected(kind) > first.injected(kind), "no {kind} in the second run: {counts}");
    }
    assert_eq!(r.outcome, Outcome::Succeeded);
    prev.assert_converged("after the second run").await;
    proxy.clear();
    assert_eq!(prev.converge("the next run").await.outcome, Outcome::Unchanged);
    report("s3", &counts, started, &format!("first run failed: {err}; second succeeded; reads during it: {old_reads} previous, {new_reads} new"));
}

/// A workspace binary, built first so that it is current.
fn binary(package: &str, name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo).args(["build", "--quiet", "-p", package, "--bin", name]).status().expect("cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join(name)
}

/// `mitre import` killed (SIGKILL) while it writes: readers keep the previous release, the
/// lease keeps the next run out until it expires, and the run after that repairs the domain.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_mid_run_is_repaired_by_the_next_run() {
    use std::os::unix::process::ExitStatusExt;
    let mitre = tokio::task::spawn_blocking(|| binary("mitre-cli", "mitre")).await.unwrap();
    let started = Instant::now();
    let prev = with_previous_release().await;
    let proxy = FaultProxy::dynamodb().await;
    // slow writes, so that the kill lands in the middle of them
    proxy.add(Rule::new(Target::dynamo("BatchWriteItem"), Fault::Latency(ms(150))));
    let mut child = std::process::Command::new(&mitre)
        .args(["import", "--domain", "ics-attack", "--concurrency", "2", "--json", "--url"])
        .arg(attack_data(ICS_FILE))
        .env("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url)
        .env("TABLE_NAME", &prev.store().table)
        .env("BUCKET_NAME", &prev.store().bucket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mitre import");
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.counts().forwarded("BatchWriteItem") < 8 {
        assert!(child.try_wait().unwrap().is_none(), "mitre import ended before it was killed: {}", proxy.counts());
        assert!(Instant::now() < deadline, "mitre import wrote nothing within 60 s: {}", proxy.counts());
        tokio::time::sleep(ms(20)).await;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed: {status:?}");
    let counts = proxy.counts();
    assert!(counts.forwarded("BatchWriteItem") >= 8 && counts.forwarded("BatchWriteItem") < 60, "killed mid-run: {counts}");
    assert_eq!(counts.forwarded("TransactWriteItems"), 0, "the killed run never committed: {counts}");

    // Readers keep the previous release; the domain is marked for repair.
    prev.assert_still_served("after the kill").await;
    let st = state(prev.store()).await;
    assert!(st.dirty && st.pending_manifest_key.is_some(), "the killed run marked the domain dirty");
    let partial = catalog_items(prev.store(), ICS).await;
    assert!(partial != reference().items, "the killed run left part of its writes");

    // The killed run's lease keeps the next run out...
    let err = sync(prev.store(), &ics_18_1()).await.expect_err("the lease is still held");
    assert!(matches!(err, SyncError::Locked { .. }), "{err}");
    assert_eq!(state(prev.store()).await.last_run.unwrap().outcome, Outcome::Skipped);
    prev.assert_still_served("after the skipped run").await;
    // ...until it expires (LEASE_SECONDS after it was taken; here: now).
    let lease_key = mitre_store::ddb::key(keys::sync_pk(ICS), keys::LEASE_SK);
    prev.store()
        .ddb
        .update_item()
        .table_name(&prev.store().table)
        .set_key(Some(lease_key))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()))
        .send()
        .await
        .unwrap();
    let r = prev.converge("the run after the lease expired").await;
    assert_eq!(r.outcome, Outcome::Succeeded);
    report(
        "killed",
        &counts,
        started,
        &format!("killed after {} BatchWriteItem calls; the next run wrote {} and deleted {}", counts.forwarded("BatchWriteItem"), r.written, r.deleted),
    );
}

/// A check that a failed run left everything as it was and released its lease.
async fn assert_failed_cleanly(prev: &Previous, label: &str, result: Result<SyncReport, SyncError>, expected: &str) -> String {
    let err = result.expect_err(label).to_string();
    assert!(err.contains(expected), "{label}: {err:?} should say {expected:?}");
    let st = state(prev.store()).await;
    let last = st.last_run.as_ref().unwrap();
    assert_eq!(last.outcome, Outcome::Failed, "{label}");
    assert!(last.error.as_deref().unwrap_or_default().contains(expected), "{label}: {:?}", last.error);
    assert!(!st.dirty, "{label}: nothing was written");
    prev.assert_still_served(label).await;
    err
}

/// Corrupt bundles from an HTTP source: a truncated gzip file, JSON cut short, and a download
/// that breaks off before its announced length.
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_bundle_fails_the_run_and_the_next_good_one_converges() {
    let started = Instant::now();
    let prev = with_previous_release().await;
    let gz = std::fs::read(attack_data(ICS_FILE)).unwrap();
    let json = mitre_attack::decode_source_bytes(gz.clone()).unwrap();
    let server = BundleServer::start(ICS_FILE, Serve::Body(gz[..gz.len() / 2].to_vec())).await;
    let source = HttpSource::new(server.url.clone()).with_attempts(1);
    let mut errors = Vec::new();
    errors.push(assert_failed_cleanly(&prev, "truncated gzip", sync(prev.store(), &source).await, "not valid gzip").await);
    server.set(Serve::Body(json[..json.len() - 1000].to_vec()));
    errors.push(assert_failed_cleanly(&prev, "JSON cut short", sync(prev.store(), &source).await, "not valid JSON").await);
    server.set(Serve::CutOff { body: gz.clone(), at: gz.len() / 3 });
    errors.push(assert_failed_cleanly(&prev, "download cut off", sync(prev.store(), &source).await, "broke off").await);
    assert_eq!(server.requests(), 3);

    server.set(Serve::Body(gz));
    let r = prev.converge("the good run").await;
    assert_eq!(r.outcome, Outcome::Succeeded);
    let runs = prev.store().runs(ICS).await.unwrap();
    assert_eq!(runs.iter().filter(|r| r.outcome == Outcome::Failed).count(), 3);
    println!("faults/corrupt: errors {errors:?}; {:.1}s", started.elapsed().as_secs_f64());
}

/// A source that accepts the connection and never answers, and one that answers its headers
/// and then stalls: the run fails within the source timeout (per attempt).
#[tokio::test(flavor = "multi_thread")]
async fn a_source_that_times_out_fails_the_run_within_the_timeout() {
    let started = Instant::now();
    let prev = with_previous_release().await;
    let timeout = Duration::from_secs(1);
    let server = BundleServer::start(ICS_FILE, Serve::Silence).await;

    let source = HttpSource::new(server.url.clone()).with_timeout(timeout).with_attempts(2);
    let clock = Instant::now();
    let r = sync(prev.store(), &source).await;
    let silent = clock.elapsed();
    let e1 = assert_failed_cleanly(&prev, "a silent source", r, "timed out").await;
    assert_eq!(server.requests(), 2, "both attempts waited for an answer");
    assert!(silent >= 2 * timeout && silent < 2 * timeout + Duration::from_secs(5), "two attempts of 1 s: {silent:?}");

    server.set(Serve::HeadersThenStall);
    let source = HttpSource::new(server.url.clone()).with_timeout(timeout).with_attempts(1);
    let clock = Instant::now();
    let r = sync(prev.store(), &source).await;
    let stalled = clock.elapsed();
    let e2 = assert_failed_cleanly(&prev, "a stalled body", r, "timed out").await;
    assert!(stalled >= timeout && stalled < timeout + Duration::from_secs(5), "one attempt of 1 s: {stalled:?}");

    server.set(Serve::Body(std::fs::read(attack_data(ICS_FILE)).unwrap()));
    let r = prev.converge("the run after the timeouts").await;
    assert_eq!(r.outcome, Outcome::Succeeded);
    println!(
        "faults/timeout: silent source failed after {:.2}s ({e1}), stalled body after {:.2}s ({e2}); {:.1}s",
        silent.as_secs_f64(),
        stalled.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Sustained throttling: every request is retried as a whole under the API's one policy, each
/// DynamoDB call made once, so a request fails within the policy's bound (attempts and total
/// wait) with 503 and Retry-After, having made at most `attempts` times the calls of one try;
/// it writes nothing, and the same request succeeds once the throttling stops.
#[tokio::test(flavor = "multi_thread")]
async fn sustained_throttling_fails_a_request_within_its_retry_bound_with_503_and_retry_after() {
    use mitre_domain::RetryPolicy;
    let store = synced_store().await;
    let n = ulid::Ulid::new().to_string().to_lowercase();
    let (tenant, analyst) = (format!("thr-{n}"), format!("arn:aws:iam::333333333333:user/thr-{n}"));
    register(&store, &analyst, &tenant, Role::Analyst).await;
    let proxy = FaultProxy::dynamodb().await;
    let app = App::new(store_via(&store, Some(&proxy), None), Settings { metric_lines: false, ..Settings::default() });
    let post = |alert: &str| {
        Call::new("POST", &format!("{P}/alert-mappings")).by(&analyst).json(&json!({"alert_id": alert, "technique": "T1059.001", "confidence_score": 70}))
    };
    let seen = |c: &FaultCounts| c.seen.values().sum::<u64>();
    let policy = RetryPolicy::REQUEST;

    // one clean try: what a create costs
    let clean = post(&format!("A-{n}-0")).send(&app).await;
    assert_eq!(clean.status, 201);
    let per_try = clean.ddb_calls;
    assert_eq!(per_try, seen(&proxy.counts()), "the interceptor counts every call the proxy sees");

    let mut lines = Vec::new();
    // (what is throttled, the calls a try makes until the throttled one fails it)
    for (label, target, throttled_try) in [("every call", "*", 1), ("the write's transaction", "TransactWriteItems", 3)] {
        proxy.clear();
        proxy.add(Rule::new(Target::dynamo(target), Fault::Throttle));
        let before = seen(&proxy.counts());
        let started = Instant::now();
        let served = post(&format!("A-{n}-{target}")).send(&app).await;
        let elapsed = started.elapsed();
        let calls = seen(&proxy.counts()) - before;
        assert_eq!(served.status, 503, "{label}");
        assert_eq!(served.retry_after.as_deref(), Some("1"), "{label}");
        assert_eq!(served.ddb_calls, calls, "{label}: the request's own count is the proxy's");
        let bound = policy.attempts as u64 * per_try;
        assert!(calls <= bound, "{label}: {calls} DynamoDB calls, bound {bound}");
        assert!(calls >= 2 * throttled_try, "{label}: the request was tried again ({calls} calls)");
        let time_bound = policy.max_total_delay + Duration::from_secs(2);
        assert!(elapsed < time_bound, "{label}: {elapsed:?}, bound {time_bound:?}");
        lines.push(format!("throttled {label}: 503 after {calls} calls (bound {bound}) in {:.0} ms", elapsed.as_secs_f64() * 1e3));
    }
    proxy.clear();
    // nothing was written by the failed requests: the tenant holds the clean create alone
    let items = Call::new("GET", &format!("{P}/alert-mappings")).by(&analyst).send(&app).await.body;
    assert_eq!(items["items"].as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(post(&format!("A-{n}-TransactWriteItems")).send(&app).await.status, 201);
    println!("faults/throttling: {}; one clean create {per_try} calls", lines.join("; "));
}
