//! The TAXII 2.1 source against a real TAXII 2.1 server: OASIS's reference server medallion
//! (installed by `infra/tools.sh taxii`), serving the ICS ATT&CK 18.1 release from its memory
//! backend.
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use mitre_attack::Domain;
use mitre_store::ddb::from_item;
use mitre_store::items::{ObjectItem, Outcome, RelationshipPackItem};
use mitre_store::{Store, keys};
use mitre_sync::{BundleSource, FileSource, SyncError, SyncOptions, SyncReport, Syncer, TaxiiSource};
use mitre_tests::{HttpFixture, attack_data, spawn_app};
use serde_json::{Value, json};

const ICS_COLLECTION: &str = "x-mitre-collection--90c00720-636b-4485-b342-8751d232bf09";
const DATE_ADDED: &str = "2025-10-28T00:00:00.000000Z";
const USER: &str = "sentineliq";
const API_ROOT_NAME: &str = "attack";

/// A medallion server on a free port of 127.0.0.1, killed when dropped.
struct Medallion {
    child: Child,
    dir: PathBuf,
    api_root: String,
    password: String,
}

impl Medallion {
    /// Serves the objects of `bundle_file` (../shared/attack-data) as the collection `collection`.
    fn start(bundle_file: &str, collection: &str) -> Medallion {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/taxii/bin/medallion");
        assert!(bin.exists(), "{} is missing: run infra/tools.sh taxii", bin.display());
        let dir = std::env::temp_dir().join(format!("mitre-taxii-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let api_root = format!("http://127.0.0.1:{port}/{API_ROOT_NAME}/");
        let password = ulid::Ulid::new().to_string();

        // The memory backend's data file: discovery, one API root, one read-only collection
        // holding the bundle's objects and, for each, the manifest entry the backend filters
        // and paginates by (date_added, version, media_type).
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(attack_data(bundle_file)).unwrap()).read_to_string(&mut text).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        let objects = bundle["objects"].as_array().unwrap().clone();
        let manifest: Vec<Value> = objects
            .iter()
            .map(|o| {
                json!({
                    "id": o["id"],
                    "date_added": DATE_ADDED,
                    "version": o.get("modified").or_else(|| o.get("created")).unwrap(),
                    "media_type": "application/stix+json;version=2.1",
                })
            })
            .collect();
        let data = json!({
            "/discovery": {
                "title": "ATT&CK test server",
                "api_roots": [api_root],
                "default": api_root,
            },
            API_ROOT_NAME: {
                "information": {
                    "title": "ATT&CK",
                    "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": 104_857_600,
                },
                "status": [],
                "collections": [{
                    "id": collection,
                    "title": "ATT&CK collection",
                    "can_read": true,
                    "can_write": false,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }],
            },
        });
        let data_file = dir.join("data.json");
        std::fs::write(&data_file, serde_json::to_vec(&data).unwrap()).unwrap();
        let config = json!({
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": data_file,
                // paging sessions outlive a slow first page on a busy machine
                "session_timeout": 600,
            },
            "users": { USER: password },
            "taxii": { "max_page_size": 1000 },
        });
        let config_file = dir.join("config.json");
        std::fs::write(&config_file, serde_json::to_vec(&config).unwrap()).unwrap();

        let log = std::fs::File::create(dir.join("medallion.log")).unwrap();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--log-level", "INFO"])
            .arg(&config_file)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start medallion");
        let mut server = Medallion { child, dir, api_root, password };
        server.wait_until_listening(port);
        server
    }

    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("medallion exited ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "medallion did not answer within 60 s: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("medallion.log")).unwrap_or_default()
    }

    /// The requests the server has answered so far (path and query, from its log).
    fn requests(&self) -> Vec<String> {
        self.log().lines().filter_map(|l| l.split_once("\"GET ").map(|(_, rest)| rest.split(' ').next().unwrap_or("").to_string())).collect()
    }

    fn source(&self, collection: &str) -> TaxiiSource {
        TaxiiSource::new(&self.api_root, collection).with_credentials(Some((USER.into(), self.password.clone())))
    }
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn sync(store: &Store, source: &dyn BundleSource, domain: Domain) -> Result<SyncReport, SyncError> {
    let mut opts = SyncOptions::new(domain);
    opts.actor = "test".into();
    Syncer::new(store).run(source, &opts, &|_| {}).await
}

/// Every object item (`sk = #OBJ`) of the table, by partition key.
async fn object_items(store: &Store) -> BTreeMap<String, ObjectItem> {
    catalog_items(store, keys::OBJECT_SK).await.into_iter().map(|item| from_item::<ObjectItem>(item).unwrap()).map(|o| (o.pk.clone(), o)).collect()
}

/// Every relationship pack's relationships, by pack.
async fn relationship_packs(store: &Store) -> BTreeMap<String, Vec<Value>> {
    catalog_items(store, keys::RELATIONSHIPS_SK)
        .await
        .into_iter()
        .map(|item| from_item::<RelationshipPackItem>(item).unwrap())
        .map(|p| (p.pk.clone(), p.relationships().unwrap()))
        .collect()
}

async fn catalog_items(store: &Store, sk: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    mitre_tests::scan_equal(store, "sk", sk).await
}

#[tokio::test(flavor = "multi_thread")]
async fn ics_from_taxii_matches_ics_from_the_bundle_file() {
    let server = Medallion::start("ics-attack-18.1.json.gz", ICS_COLLECTION);
    let d = Domain::IcsAttack;
    let taxii = server.source(ICS_COLLECTION).with_page_limit(500);

    // TAXII into one table, the release file into another.
    let via_taxii = spawn_app().await;
    let first = sync(&via_taxii.store, &taxii, d).await.unwrap();
    assert_eq!((first.outcome, first.version.as_deref()), (Outcome::Succeeded, Some("18.1")));
    assert_eq!((first.objects, first.written), (1_826, 1_826));
    assert_eq!(first.source, format!("taxii:{}collections/{ICS_COLLECTION}/", server.api_root));

    // 1,826 objects at 500 a page: four pages, the last three asked for with `next`.
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    assert!(requests.iter().all(|r| r.contains("/objects/")), "{requests:#?}");
    assert!(requests.iter().all(|r| r.contains("limit=500")), "{requests:#?}");
    assert!(!requests[0].contains("next=") && requests[1..].iter().all(|r| r.contains("next=")), "{requests:#?}");

    let via_file = spawn_app().await;
    let from_file = sync(&via_file.store, &FileSource { path: attack_data("ics-attack-18.1.json.gz") }, d).await.unwrap();
    assert_eq!((from_file.outcome, from_file.objects, from_file.written), (Outcome::Succeeded, 1_826, 1_826));
    assert_eq!(first.version, from_file.version);

    let ts = via_taxii.store.domain_state(d).await.unwrap().unwrap();
    let fs = via_file.store.domain_state(d).await.unwrap().unwrap();
    assert!(ts.summary.is_some());
    assert_eq!(ts.summary, fs.summary, "same domain summary");
    assert_eq!((ts.version.as_deref(), ts.spec_version.as_deref()), (fs.version.as_deref(), fs.spec_version.as_deref()));
    assert_eq!(ts.last_modified.as_deref(), Some(DATE_ADDED), "the newest date_added is the next run's validator");

    // The same object items. The server re-serializes every object (sorted keys, compact); the
    // content hash is over a canonical form of the object, so it is the same from both sources.
    // The stored JSON text differs: compare the objects as JSON and every other attribute as stored.
    let a = object_items(&via_taxii.store).await;
    let b = object_items(&via_file.store).await;
    let (pa, pb) = (relationship_packs(&via_taxii.store).await, relationship_packs(&via_file.store).await);
    assert_eq!(pa, pb, "the same relationship packs, the same relationships in each");
    assert_eq!(a.len() + pa.values().map(Vec::len).sum::<usize>(), 1_826);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "same (pk, sk) set");
    for (pk, x) in &a {
        let y = &b[pk];
        let (jx, jy): (Value, Value) = (serde_json::from_str(&x.stix_json().unwrap()).unwrap(), serde_json::from_str(&y.stix_json().unwrap()).unwrap());
        assert_eq!(jx, jy, "{pk}: the same STIX object");
        let strip = |o: &ObjectItem| {
            let mut v = serde_json::to_value(o).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("stix_deflate");
            v
        };
        assert_eq!(strip(x), strip(y), "{pk}: the same attributes");
    }

    // Unchanged upstream: one `added_after` request to the manifest, nothing written.
    let second = sync(&via_taxii.store, &taxii, d).await.unwrap();
    assert_eq!((second.outcome, second.written, second.deleted), (Outcome::Unchanged, 0, 0));
    assert_eq!(second.objects, 1_826);
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "{requests:#?}");
    let probe = &requests[4];
    assert!(probe.contains("/manifest/?") && probe.contains("added_after=") && probe.contains("limit=1"), "{requests:#?}");
    let after = via_taxii.store.domain_state(d).await.unwrap().unwrap();
    assert_eq!(after.bundle_sha256, ts.bundle_sha256);
    assert_eq!(after.last_run.unwrap().outcome, Outcome::Unchanged);

    // The release file's table switched to the TAXII source: every object is read and
    // compared, and nothing is written.
    let switched = sync(&via_file.store, &server.source(ICS_COLLECTION).with_page_limit(500), d).await.unwrap();
    assert_eq!((switched.objects, switched.written, switched.deleted, switched.unchanged), (1_826, 0, 0, 1_826));
}

#[tokio::test(flavor = "multi_thread")]
async fn taxii_errors_read_clearly_and_keep_the_data() {
    let server = Medallion::start("ics-attack-18.1.json.gz", ICS_COLLECTION);
    let d = Domain::IcsAttack;
    let app = spawn_app().await;
    let s = &app.store;
    let good = sync(s, &FileSource { path: attack_data("ics-attack-18.1.json.gz") }, d).await.unwrap();
    let before = s.domain_state(d).await.unwrap().unwrap();

    // A collection the server does not have.
    let wrong = "x-mitre-collection--00000000-0000-4000-8000-000000000000";
    let err = sync(s, &server.source(wrong), d).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SyncError::Source { .. }), "{msg}");
    assert!(msg.contains("TAXII server answered HTTP 404") && msg.contains(wrong) && msg.contains("not found"), "{msg}");

    // Wrong credentials: a 401 that says what to set, and never the password.
    let bad_login = TaxiiSource::new(&server.api_root, ICS_COLLECTION).with_credentials(Some((USER.into(), "wrong-password".into())));
    let msg = sync(s, &bad_login, d).await.unwrap_err().to_string();
    assert!(msg.contains("HTTP 401") && msg.contains("TAXII_USERNAME"), "{msg}");
    assert!(!msg.contains("wrong-password") && !msg.contains(&server.password), "{msg}");

    // Something that is not a TAXII server at all.
    let not_taxii = TaxiiSource::new("http://127.0.0.1:9/nothing/", ICS_COLLECTION).with_credentials(None).with_attempts(1);
    let msg = sync(s, &not_taxii, d).await.unwrap_err().to_string();
    assert!(msg.contains("cannot reach the TAXII server"), "{msg}");

    // A server that answers, but not with TAXII envelopes.
    let html = HttpFixture::start(|_| (200, vec![("Content-Type".into(), "text/html".into())], b"<html>hello</html>".to_vec()));
    let root = html.url.trim_end_matches("enterprise-attack.json").to_string();
    let msg = sync(s, &TaxiiSource::new(&root, ICS_COLLECTION).with_credentials(None), d).await.unwrap_err().to_string();
    assert!(msg.contains("not a TAXII envelope"), "{msg}");
    assert!(html.requests()[0].header("accept") == Some("application/taxii+json;version=2.1"), "{:?}", html.requests());

    // The data of the last good run stays.
    let after = s.domain_state(d).await.unwrap().unwrap();
    assert_eq!((after.version.as_deref(), after.bundle_sha256.as_deref()), (Some("18.1"), before.bundle_sha256.as_deref()));
    assert_eq!(after.last_success.as_ref().map(|r| &r.run_id), Some(&good.run_id));
    assert_eq!(after.last_run.as_ref().map(|r| r.outcome), Some(Outcome::Failed));
    assert_eq!(object_items(s).await.len() + relationship_packs(s).await.values().map(Vec::len).sum::<usize>(), 1_826);
}
