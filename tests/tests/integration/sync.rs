use mitre_attack::{Domain, fixtures};
use mitre_domain::InsightRepo;
use mitre_store::ddb::from_item;
use mitre_store::items::{ObjectItem, Outcome, TacticEdgeItem};
use mitre_store::{Store, archive, keys};
use mitre_sync::{BundleSource, FileSource, HttpSource, SyncError, SyncOptions, SyncReport, SyncTable, Syncer};
use mitre_tests::{HttpFixture, attack_data, gzip, spawn_app, temp_file};

async fn sync(store: &Store, source: &dyn BundleSource, domain: Domain) -> Result<SyncReport, SyncError> {
    let mut opts = SyncOptions::new(domain);
    opts.actor = "test".into();
    Syncer::new(store).run(source, &opts, &|_| {}).await
}

async fn sync_path(store: &Store, path: std::path::PathBuf, domain: Domain) -> Result<SyncReport, SyncError> {
    sync(store, &FileSource { path }, domain).await
}

async fn object(store: &Store, domain: Domain, stix_id: &str) -> Option<ObjectItem> {
    store.get_item(&keys::object_pk(domain, stix_id), keys::OBJECT_SK).await.unwrap()
}

/// Active techniques of a tactic: one Query on gsi1.
async fn techniques_of_tactic(store: &Store, domain: Domain, shortname: &str) -> Vec<TacticEdgeItem> {
    let items = store.query_partition(Some("gsi1"), &keys::tactic_gsi(domain, shortname), None).await.unwrap();
    items.into_iter().map(|i| from_item::<TacticEdgeItem>(i).unwrap()).filter(|e| !e.revoked && !e.deprecated).collect()
}

/// Tactics of a technique: one Query on its partition.
async fn tactics_of_technique(store: &Store, domain: Domain, stix_id: &str) -> Vec<String> {
    let items = store.query_partition(None, &keys::object_pk(domain, stix_id), Some(keys::TACTIC_SK_PREFIX)).await.unwrap();
    items.into_iter().map(|i| from_item::<TacticEdgeItem>(i).unwrap().tactic).collect()
}

/// `bundle` (gzip) pretty-printed with every object's keys sorted in reverse, non-ASCII
/// characters written as `\u` escapes and `/` as `\/`.
fn reserialise(bundle: &[u8]) -> Vec<u8> {
    let data = mitre_attack::decode_source_bytes(bundle.to_vec()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    fn write(v: &serde_json::Value, indent: usize, out: &mut String) {
        use serde_json::Value as V;
        let pad = |n: usize| "  ".repeat(n);
        match v {
            V::Object(m) => {
                out.push_str("{\n");
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by(|a, b| b.cmp(a));
                for (i, k) in keys.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    write(&V::String((*k).clone()), indent + 1, out);
                    out.push_str(" : ");
                    write(&m[k.as_str()], indent + 1, out);
                    out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
            V::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(x, indent + 1, out);
                }
                out.push(']');
            }
            V::String(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '/' => out.push_str("\\/"),
                        c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                            let mut buf = [0u16; 2];
                            for u in c.encode_utf16(&mut buf) {
                                out.push_str(&format!("\\u{u:04X}"));
                            }
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&v, 0, &mut out);
    out.into_bytes()
}

const PWSH: &str = "attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736"; // T1059.001

#[tokio::test(flavor = "multi_thread")]
async fn enterprise_18_0_then_18_1_writes_only_what_changed_and_ics_stays_apart() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;

    let first = sync_path(s, attack_data("enterprise-attack-18.0.json.gz"), e).await.unwrap();
    assert_eq!((first.outcome, first.version.as_deref()), (Outcome::Succeeded, Some("18.0")));
    assert_eq!(first.objects, 24_773);
    assert_eq!(first.written, 24_773);
    // What DynamoDB reports the writes cost, index writes included: relationships in packs
    // keep a full sync under half of one item per object (51,000 units for these objects).
    assert!(first.write_units > 10_000.0 && first.write_units < 25_000.0, "{}", first.write_units);

    let second = sync_path(s, attack_data("enterprise-attack-18.1.json.gz"), e).await.unwrap();
    assert_eq!(second.version.as_deref(), Some("18.1"));
    assert_eq!((second.written, second.deleted), (404, 2), "only the changed and removed objects are written");
    assert_eq!(second.unchanged, 24_771 - 404);
    assert!(second.write_units > 0.0 && second.write_units < 2_000.0, "{}", second.write_units);

    // The move to 18.1 kept what changed from 18.0, as MITRE's changelog counts it.
    let kept = s.release_changes(e, None).await.unwrap().expect("the changes of the new release");
    assert_eq!((kept.from.as_str(), kept.to.as_str()), ("18.0", "18.1"));
    let changes = mitre_attack::changes::ReleaseChanges::decode(&kept.changes).unwrap();
    let counts = changes.counts();
    assert_eq!(counts.get(&mitre_attack::changes::ChangeClass::Patch), Some(&3), "{counts:?}");

    let third = sync_path(s, attack_data("enterprise-attack-18.1.json.gz"), e).await.unwrap();
    assert_eq!((third.outcome, third.written, third.deleted), (Outcome::Unchanged, 0, 0));
    assert_eq!(s.release_changes(e, None).await.unwrap().unwrap().computed_at, kept.computed_at, "an unchanged release computes nothing again");

    // The counts of ../shared/attack-data/README.md.
    let state = s.domain_state(e).await.unwrap().unwrap();
    assert_eq!(state.version.as_deref(), Some("18.1"));
    let summary = state.summary.as_ref().unwrap();
    let expected = [
        ("attack-pattern", 835),
        ("x-mitre-tactic", 14),
        ("course-of-action", 268),
        ("intrusion-set", 187),
        ("malware", 696),
        ("tool", 91),
        ("campaign", 52),
        ("x-mitre-data-source", 38),
        ("x-mitre-data-component", 109),
        ("x-mitre-detection-strategy", 691),
        ("x-mitre-analytic", 1_739),
        ("x-mitre-matrix", 1),
        ("relationship", 20_048),
    ];
    for (t, n) in expected {
        assert_eq!(summary.counts[t], n, "{t}");
    }
    assert_eq!(summary.objects, 24_771);
    let order: Vec<_> = summary.tactics.iter().map(|t| t.shortname.as_str()).collect();
    assert_eq!(order.len(), 14);
    assert_eq!(order[0], "reconnaissance");
    assert_eq!(order[13], "impact");
    assert_eq!(summary.tactics.iter().find(|t| t.shortname == "credential-access").unwrap().techniques, 67);

    // The stored items: many-to-many technique and tactic, each direction one Query.
    assert_eq!(techniques_of_tactic(s, e, "credential-access").await.len(), 67);
    assert_eq!(tactics_of_technique(s, e, PWSH).await, ["execution"]);
    let pwsh = object(s, e, PWSH).await.unwrap();
    assert_eq!(pwsh.attack_id.as_deref(), Some("T1059.001"));
    assert_eq!(pwsh.is_subtechnique, Some(true));
    let raw: serde_json::Value = serde_json::from_str(&pwsh.stix_json().unwrap()).unwrap();
    assert_eq!(raw["name"], "PowerShell");
    // The removed objects are gone.
    let runs = s.runs(e).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].run_id, third.run_id, "newest first");

    // Both releases are archived, content-addressed and named by version.
    let st = s.domain_state(e).await.unwrap().unwrap();
    assert!(st.bundle_key.as_deref().unwrap().starts_with("bundles/enterprise-attack/18.1/"));
    assert!(s.object_exists(st.bundle_key.as_deref().unwrap()).await.unwrap());
    assert!(s.object_exists(&archive::bundle_key(e, "18.0", first.bundle_sha256.as_deref().unwrap())).await.unwrap());

    // ICS (STIX 2.1, with its collection object) syncs into its own domain beside enterprise.
    let ics = sync_path(s, attack_data("ics-attack-18.1.json.gz"), Domain::IcsAttack).await.unwrap();
    assert_eq!((ics.objects, ics.written, ics.version.as_deref()), (1_826, 1_826, Some("18.1")));
    let states = s.domain_states().await.unwrap();
    assert_eq!(states.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [Domain::EnterpriseAttack, Domain::IcsAttack]);
    let ics_state = &states[1].1;
    assert_eq!(ics_state.spec_version.as_deref(), Some("2.1"));
    let ics_tactics: Vec<_> = ics_state.summary.as_ref().unwrap().tactics.iter().map(|t| t.shortname.clone()).collect();
    assert!(ics_tactics.contains(&"inhibit-response-function".to_string()), "{ics_tactics:?}");
    for edge in techniques_of_tactic(s, Domain::IcsAttack, "execution").await {
        assert!(edge.technique_id.starts_with("T08"), "ICS techniques only: {}", edge.technique_id);
    }
    assert!(techniques_of_tactic(s, e, "execution").await.iter().all(|t| !t.technique_id.starts_with("T08")));
    // Enterprise is untouched by the ICS run.
    assert_eq!(s.domain_state(e).await.unwrap().unwrap().bundle_sha256, st.bundle_sha256);

    // Every run has its audit entry.
    let audit = s.audit_entries(keys::SYSTEM_TENANT).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "sync.run").count(), 4);

    // The same release re-serialised (pretty-printed, every object's keys in another order,
    // non-ASCII and `/` escaped) is another bundle file with the same content:
    // it is read, diffed and writes nothing.
    let resaved = reserialise(&std::fs::read(attack_data("enterprise-attack-18.1.json.gz")).unwrap());
    let fourth = sync_path(s, temp_file("enterprise-attack-18.1-resaved.json", &resaved), e).await.unwrap();
    assert_ne!(fourth.bundle_sha256, third.bundle_sha256, "a different file");
    assert_eq!((fourth.objects, fourth.written, fourth.deleted, fourth.unchanged), (24_771, 0, 0, 24_771));
}

fn small_domain_facts() -> (&'static str, &'static str) {
    ("attack-pattern--00000000-0000-4000-8000-000000000005", "T1059.001")
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_fails_the_run_and_keeps_the_last_good_data() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let good = fixtures::small_bundle("2.0");
    let good_path = temp_file("enterprise-attack-1.0.json", good.as_bytes());
    let ok = sync_path(s, good_path, e).await.unwrap();
    assert_eq!(ok.outcome, Outcome::Succeeded);
    let before = s.domain_state(e).await.unwrap().unwrap();
    let (pwsh_id, pwsh_attack_id) = small_domain_facts();

    let gz = gzip(good.as_bytes());
    let ics = std::fs::read(attack_data("ics-attack-18.1.json.gz")).unwrap();
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.json.gz", gz[..gz.len() / 2].to_vec(), "not valid gzip"),
        ("truncated.json", good.as_bytes()[..good.len() - 40].to_vec(), "not valid JSON"),
        ("garbage.json", b"<html>rate limited</html>".to_vec(), "not valid JSON"),
        ("array.json", b"[{\"type\": \"bundle\"}]".to_vec(), "JSON array"),
        ("noobjects.json", br#"{"type": "bundle", "id": "bundle--1"}"#.to_vec(), "no \"objects\""),
        ("report.json", br#"{"type": "report", "objects": []}"#.to_vec(), "not \"bundle\""),
        ("empty.json", br#"{"type": "bundle", "objects": []}"#.to_vec(), "no ATT&CK techniques"),
        (
            "badobject.json",
            good.replacen("\"relationship_type\": \"mitigates\", ", "", 1).replace("\"source_ref\": \"course-of-action", "\"x\": \"").into_bytes(),
            "source_ref and target_ref",
        ),
        ("ics.json.gz", ics, "holds ics-attack data, not enterprise-attack"),
    ];
    let server = HttpFixture::start(|req| match req.path.as_str() {
        "/enterprise-attack.json" => (500, vec![], b"oops".to_vec()),
        _ => (404, vec![], b"nope".to_vec()),
    });
    let server_404 = server.url.replace("enterprise-attack.json", "missing.json");
    let mut checked = 0;
    for (name, bytes, expected) in files {
        let r = sync_path(s, temp_file(name, &bytes), e).await;
        check_failed(s, name, r, expected, &before, pwsh_id, pwsh_attack_id).await;
        checked += 1;
    }
    let sources: Vec<(&str, Box<dyn BundleSource>, &str)> = vec![
        ("http 500", Box::new(HttpSource::new(server.url.clone()).with_attempts(2)), "HTTP 500"),
        ("http 404", Box::new(HttpSource::new(server_404)), "HTTP 404"),
        ("unreachable", Box::new(HttpSource::new("http://127.0.0.1:9/bundle.json".into()).with_attempts(1)), "cannot reach"),
        ("missing file", Box::new(FileSource { path: "/nonexistent/bundle.json".into() }), "cannot read"),
    ];
    for (name, source, expected) in sources {
        let r = sync(s, source.as_ref(), e).await;
        check_failed(s, name, r, expected, &before, pwsh_id, pwsh_attack_id).await;
        checked += 1;
    }
    assert_eq!(checked, 13);
    // The HTTP 500 was retried; the failures are recorded runs with audit entries.
    assert_eq!(server.requests().iter().filter(|r| r.path == "/enterprise-attack.json").count(), 2);
    let runs = s.runs(e).await.unwrap();
    assert_eq!(runs.iter().filter(|r| r.outcome == Outcome::Failed).count(), 13);
    // And the lease was released every time: a good run goes through.
    let again = sync_path(s, temp_file("enterprise-attack-1.0.json", good.as_bytes()), e).await.unwrap();
    assert_eq!((again.outcome, again.written), (Outcome::Unchanged, 0));
}

async fn check_failed(
    s: &Store,
    name: &str,
    result: Result<SyncReport, SyncError>,
    expected: &str,
    before: &mitre_store::items::DomainState,
    pwsh_id: &str,
    pwsh_attack_id: &str,
) {
    let e = Domain::EnterpriseAttack;
    let err = result.expect_err(name).to_string();
    assert!(err.contains(expected), "{name}: {err:?} should say {expected:?}");
    // The run record says why, and the last good data is still there and served.
    let st = s.domain_state(e).await.unwrap().unwrap();
    let last = st.last_run.as_ref().unwrap();
    assert_eq!(last.outcome, Outcome::Failed, "{name}");
    assert!(last.error.as_deref().unwrap().contains(expected), "{name}: {:?}", last.error);
    assert_eq!(st.version, before.version, "{name}");
    assert_eq!(st.bundle_sha256, before.bundle_sha256, "{name}");
    assert_eq!(st.summary, before.summary, "{name}");
    assert!(!st.dirty, "{name}");
    let item = object(s, e, pwsh_id).await.expect(name);
    assert_eq!(item.attack_id.as_deref(), Some(pwsh_attack_id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_that_would_remove_most_objects_is_refused_unless_forced() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let many: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"type": "course-of-action", "id": "course-of-action--00000000-0000-4000-8000-0000000001{i:02}", "name": "M{i}"}}"#))
        .collect();
    sync_path(s, temp_file("a.json", fixtures::bundle_with("2.0", &many).as_bytes()), e).await.unwrap();
    let small = temp_file("b.json", fixtures::small_bundle("2.0").as_bytes());
    let err = sync_path(s, small.clone(), e).await.unwrap_err();
    assert!(matches!(err, SyncError::MassRemoval { removed: 40, .. }), "{err}");
    assert!(object(s, e, "course-of-action--00000000-0000-4000-8000-000000000100").await.is_some());
    let mut opts = SyncOptions::new(e);
    opts.force = true;
    let forced = Syncer::new(s).run(&FileSource { path: small }, &opts, &|_| {}).await.unwrap();
    assert_eq!(forced.deleted, 40);
    assert!(object(s, e, "course-of-action--00000000-0000-4000-8000-000000000100").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_upstream_costs_one_conditional_request() {
    let app = spawn_app().await;
    let s = &app.store;
    let body = fixtures::small_bundle_with_collection("18.1").into_bytes();
    let server = HttpFixture::start(move |req| {
        if req.header("if-none-match") == Some("\"v1\"") {
            (304, vec![], vec![])
        } else {
            (200, vec![("ETag".into(), "\"v1\"".into()), ("Last-Modified".into(), "Wed, 01 Jan 2025 00:00:00 GMT".into())], body.clone())
        }
    });
    let source = HttpSource::new(server.url.clone());
    let first = sync(s, &source, Domain::EnterpriseAttack).await.unwrap();
    assert_eq!((first.outcome, first.version.as_deref()), (Outcome::Succeeded, Some("18.1")));
    let second = sync(s, &source, Domain::EnterpriseAttack).await.unwrap();
    assert_eq!((second.outcome, second.written, second.deleted), (Outcome::Unchanged, 0, 0));
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "one request per run");
    assert_eq!(seen[0].header("if-none-match"), None);
    assert_eq!(seen[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(seen[1].header("if-modified-since"), Some("Wed, 01 Jan 2025 00:00:00 GMT"));
    // --force ignores the validators and rewrites everything.
    let mut opts = SyncOptions::new(Domain::EnterpriseAttack);
    opts.force = true;
    let forced = Syncer::new(s).run(&source, &opts, &|_| {}).await.unwrap();
    assert_eq!((forced.outcome, forced.written), (Outcome::Succeeded, 13));
    assert_eq!(server.requests()[2].header("if-none-match"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lease_keeps_two_runs_apart() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let path = temp_file("x.json", fixtures::small_bundle("2.0").as_bytes());
    let held = s.acquire_lease(e, "someone-else").await.unwrap();
    let err = sync_path(s, path.clone(), e).await.unwrap_err();
    assert!(matches!(err, SyncError::Locked { .. }), "{err}");
    assert!(s.acquire_lease(e, "third").await.is_err());
    let st = s.domain_state(e).await.unwrap().unwrap();
    assert_eq!(st.last_run.unwrap().outcome, Outcome::Skipped);
    assert!(st.version.is_none(), "nothing was written");
    s.release_lease(&held).await.unwrap();
    assert_eq!(sync_path(s, path, e).await.unwrap().outcome, Outcome::Succeeded);
    // Two runs at once: exactly one of them writes.
    let p2 = temp_file("y.json", fixtures::small_bundle("2.1").as_bytes());
    let (a, b) = tokio::join!(sync_path(s, p2.clone(), e), sync_path(s, p2.clone(), e));
    let outcomes = [a.map(|r| r.outcome).unwrap_or(Outcome::Skipped), b.map(|r| r.outcome).unwrap_or(Outcome::Skipped)];
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Succeeded).count(), 1, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_move_tactic_items_and_relationships_can_be_left_out() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let t1059 = "attack-pattern--00000000-0000-4000-8000-000000000004";
    let text = fixtures::small_bundle("2.1");
    let mut opts = SyncOptions::new(e);
    opts.relationships = false;
    let r = Syncer::new(s).run(&FileSource { path: temp_file("a.json", text.as_bytes()) }, &opts, &|_| {}).await.unwrap();
    assert_eq!(r.written, 9, "three relationships left out");
    assert!(s.relationship(e, "relationship--00000000-0000-4000-8000-000000000011").await.unwrap().is_none());
    let r = sync_path(s, temp_file("a.json", text.as_bytes()), e).await.unwrap();
    assert_eq!(r.written, 3, "now the relationships");
    let rel = s.relationship(e, "relationship--00000000-0000-4000-8000-000000000011").await.unwrap().unwrap();
    assert_eq!(rel["relationship_type"], "mitigates");

    // T1059 moves from execution to persistence: its execution item goes away.
    let moved = text.replacen(
        r#""phase_name": "execution"}], "external_references": [{"source_name": "mitre-attack", "external_id": "T1059","#,
        r#""phase_name": "persistence"}], "external_references": [{"source_name": "mitre-attack", "external_id": "T1059","#,
        1,
    );
    assert_ne!(moved, text);
    let r = sync_path(s, temp_file("b.json", moved.as_bytes()), e).await.unwrap();
    assert_eq!(r.written, 1);
    assert_eq!(tactics_of_technique(s, e, t1059).await, ["persistence"]);
    let exec: Vec<_> = techniques_of_tactic(s, e, "execution").await.into_iter().map(|t| t.technique_id).collect();
    assert_eq!(exec, ["T1059.001"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_is_finished_by_the_next() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let text = fixtures::small_bundle("2.0");
    sync_path(s, temp_file("a.json", text.as_bytes()), e).await.unwrap();
    // A run of another bundle wrote an object, then died before its commit.
    let orphan = "course-of-action--00000000-0000-4000-8000-0000000000aa";
    let other = fixtures::bundle_with("2.0", &[format!(r#"{{"type": "course-of-action", "id": "{orphan}", "name": "Orphan"}}"#)]);
    let parsed = mitre_attack::parse_bundle(other.as_bytes(), e).unwrap();
    let pending = mitre_attack::Manifest::default().after(&parsed.objects, |_| true);
    s.put_object("manifests/pending-test.txt.gz", pending.encode().unwrap(), "application/gzip").await.unwrap();
    s.mark_dirty(e, "manifests/pending-test.txt.gz").await.unwrap();
    let orphan_obj = parsed.objects.iter().find(|o| o.id() == orphan).unwrap();
    let item = mitre_store::ddb::to_item(&mitre_store::items::object_item(e, orphan_obj).unwrap()).unwrap();
    s.ddb.put_item().table_name(&s.table).set_item(Some(item)).send().await.unwrap();
    assert!(object(s, e, orphan).await.is_some());

    // The same bundle as before: not short-circuited, the orphan goes.
    let r = sync_path(s, temp_file("a.json", text.as_bytes()), e).await.unwrap();
    assert_eq!((r.outcome, r.deleted), (Outcome::Succeeded, 1));
    assert!(object(s, e, orphan).await.is_none());
    let st = s.domain_state(e).await.unwrap().unwrap();
    assert!(!st.dirty && st.pending_manifest_key.is_none());
}

/// The (pk, sk) of every catalog item of a domain.
async fn catalog_keys(store: &Store, domain: Domain) -> std::collections::BTreeSet<(String, String)> {
    let k = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, n: &str| item[n].as_s().unwrap().clone();
    mitre_tests::scan_prefixed(store, "pk", &keys::object_pk(domain, "")).await.iter().map(|item| (k(item, "pk"), k(item, "sk"))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_from_one_item_per_relationship_leaves_only_packs() {
    let d = Domain::IcsAttack;
    let path = attack_data("ics-attack-18.1.json.gz");
    let clean = spawn_app().await;
    sync_path(&clean.store, path.clone(), d).await.unwrap();

    // A table as the item schema before packs left it: one item per relationship.
    let app = spawn_app().await;
    let s = &app.store;
    sync_path(s, path.clone(), d).await.unwrap();
    let data = mitre_attack::gunzip(&std::fs::read(&path).unwrap()).unwrap();
    let bundle = mitre_attack::parse_bundle(&data, d).unwrap();
    let rels: Vec<_> = bundle.objects.iter().filter(|o| o.object_type() == "relationship").collect();
    for chunk in rels.chunks(25) {
        let writes = chunk
            .iter()
            .map(|o| mitre_store::ddb::put_request(mitre_store::ddb::to_item(&mitre_store::items::object_item(d, o).unwrap()).unwrap()).unwrap())
            .collect::<Vec<_>>();
        s.ddb.batch_write_item().request_items(&s.table, writes).send().await.unwrap();
    }
    s.ddb
        .update_item()
        .table_name(&s.table)
        .set_key(Some(mitre_store::ddb::key(keys::CATALOG_PK, keys::domain_sk(d))))
        .update_expression("SET item_schema = :v")
        .expression_attribute_values(":v", aws_sdk_dynamodb::types::AttributeValue::N("4".into()))
        .send()
        .await
        .unwrap();
    assert!(object(s, d, rels[0].id()).await.is_some());

    // The next run rewrites every object and deletes the per-relationship items; it writes
    // the packs even when told to leave relationships out (they would be lost otherwise).
    let mut opts = SyncOptions::new(d);
    opts.relationships = false;
    let r = Syncer::new(s).run(&FileSource { path }, &opts, &|_| {}).await.unwrap();
    assert_eq!((r.outcome, r.written), (Outcome::Succeeded, 1_826));
    assert!(object(s, d, rels[0].id()).await.is_none());
    assert_eq!(catalog_keys(s, d).await, catalog_keys(&clean.store, d).await, "the items of a clean run");
    let rel = s.relationship(d, rels[0].id()).await.unwrap().unwrap();
    assert_eq!(rel, serde_json::from_str::<serde_json::Value>(rels[0].raw).unwrap());
    assert_eq!(s.domain_state(d).await.unwrap().unwrap().item_schema, mitre_store::items::ITEM_SCHEMA);
}
