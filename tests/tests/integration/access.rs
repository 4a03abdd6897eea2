//! Entity access against DynamoDB Local: the access property over every route of the table,
//! and access changes racing mapping writes and reads on one entity.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mitre_api::access_property::{ROOT, run};
use mitre_api::{App, Settings};
use mitre_tests::{Call, synced_store};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

fn techniques() -> Vec<(String, String)> {
    [("T1059.001", "execution"), ("T1053.005", "persistence"), ("T1547.001", "persistence"), ("T1078", "initial-access")]
        .iter()
        .map(|(t, a)| (t.to_string(), a.to_string()))
        .collect()
}

#[test]
fn no_route_shows_a_principal_what_entity_access_hides_on_dynamodb() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = rt.block_on(synced_store());
    let app = App::new(store, Settings { superusers: vec![ROOT.into()], metric_lines: false, ..Settings::default() });
    let cases = 12;
    let started = Instant::now();
    let checked = run(&app, &techniques(), cases, |f| rt.block_on(f));
    println!(
        "access property (DynamoDB Local): {cases} cases, {} calls, {} hidden targets answered 404, {} lists walked, in {:.1} s",
        checked.calls,
        checked.hidden_answers,
        checked.lists,
        started.elapsed().as_secs_f64()
    );
    assert!(checked.hidden_answers > 0 && checked.lists > 0, "{checked:?}");
}

async fn send(app: &App, who: &str, method: &str, path: &str, if_match: Option<&str>, body: Value) -> mitre_tests::Answer {
    Call::new(method, path).by(who).if_match(if_match).json(&body).send(app).await
}

/// One read: who, when it was sent and answered, and the (version, groups) of each mapping's copy.
type Read = (String, Instant, Instant, Vec<(u64, Vec<String>)>);

/// One committed access change: its version, groups and when its request ran.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    groups: Vec<String>,
    sent: Instant,
    answered: Instant,
}

/// Access changes race mapping writes and reads of one case: every read shows only mappings
/// of one access version, one that was current at some moment during the read and that admits
/// the reader; afterwards every mapping of the case carries the final access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_changes_racing_writes_and_reads_never_show_a_mapping_the_access_excluded() {
    let store = synced_store().await;
    let app = Arc::new(App::new(store, Settings { superusers: vec![ROOT.into()], metric_lines: false, ..Settings::default() }));
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let tenant = format!("race-{run}");
    let case = format!("C-{run}");
    let who = |name: &str| format!("arn:aws:iam::1:user/{tenant}-{name}");
    let (writer, ir, hr) = (who("integration"), who("ir"), who("hr"));
    for (arn, role, groups) in [(&writer, "integration", vec![]), (&ir, "analyst", vec!["g-ir"]), (&hr, "viewer", vec!["g-hr"])] {
        let path = format!("{P}/admin/principals/{}", arn.replace(':', "%3A").replace('/', "%2F"));
        let a = send(&app, ROOT, "PUT", &path, None, json!({"tenant": tenant, "role": role, "groups": groups})).await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let access_path = format!("{P}/cases/{case}/access");
    let first = send(&app, &writer, "PUT", &access_path, Some("*"), json!({"groups": ["g-ir"]})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let changes = Arc::new(Mutex::new(vec![Change { version: 1, groups: vec!["g-ir".into()], sent: Instant::now(), answered: Instant::now() }]));
    let deadline = Instant::now() + Duration::from_secs(8);
    let techniques = techniques();

    let mut tasks = tokio::task::JoinSet::new();
    // the changer: alternates the case between the two groups
    {
        let (app, writer, path, changes) = (app.clone(), writer.clone(), access_path.clone(), changes.clone());
        tasks.spawn(async move {
            let (mut done, mut overtaken, mut i) = (0u32, 0u32, 0usize);
            while Instant::now() < deadline {
                i += 1;
                let groups = if i % 2 == 1 { "g-hr" } else { "g-ir" };
                let sent = Instant::now();
                let a = send(&app, &writer, "PUT", &path, Some("*"), json!({"groups": [groups]})).await;
                match a.status {
                    200 => {
                        done += 1;
                        let version = a.body["version"].as_u64().unwrap();
                        changes.lock().unwrap().push(Change { version, groups: vec![groups.into()], sent, answered: Instant::now() });
                    }
                    409 | 503 => overtaken += 1,
                    s => panic!("access change: {s} {}", a.text),
                }
                // room for the writers between changes
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ("changes", done, overtaken)
        });
    }
    // writers: new observations and merges on the case, by the integration
    for w in 0..2usize {
        let (app, writer, case, techniques) = (app.clone(), writer.clone(), case.clone(), techniques.clone());
        tasks.spawn(async move {
            let (mut done, mut overtaken, mut i) = (0u32, 0u32, w);
            while Instant::now() < deadline {
                let (t, tactic) = &techniques[i % techniques.len()];
                i += 1;
                let a = send(
                    &app,
                    &writer,
                    "POST",
                    &format!("{P}/case-mappings"),
                    None,
                    json!({"case_id": case, "technique": t, "tactic": tactic, "confidence_score": 10 + (i % 90)}),
                )
                .await;
                match a.status {
                    200 | 201 => done += 1,
                    409 | 503 => overtaken += 1,
                    s => panic!("write: {s} {}", a.text),
                }
            }
            ("writes", done, overtaken)
        });
    }
    // readers: each group's principal lists the case's mappings and reads its layer
    let reads: Arc<Mutex<Vec<Read>>> = Arc::new(Mutex::new(Vec::new()));
    for reader in [ir.clone(), hr.clone()] {
        let (app, case, reads) = (app.clone(), case.clone(), reads.clone());
        tasks.spawn(async move {
            let mut n = 0u32;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let a = send(&app, &reader, "GET", &format!("{P}/case-mappings?case_id={case}&limit=100"), None, Value::Null).await;
                let answered = Instant::now();
                assert_eq!(a.status, 200, "{}", a.text);
                let stamps: Vec<(u64, Vec<String>)> = a.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        let s = &m["access"]["case"];
                        (
                            s["version"].as_u64().unwrap_or(0),
                            s["groups"].as_array().map(|g| g.iter().map(|x| x.as_str().unwrap().to_string()).collect()).unwrap_or_default(),
                        )
                    })
                    .collect();
                reads.lock().unwrap().push((reader.clone(), sent, answered, stamps));
                let layer = send(&app, &reader, "GET", &format!("{P}/cases/{case}/navigator-layer"), None, Value::Null).await;
                assert!(matches!(layer.status, 200 | 404), "{}", layer.text);
                n += 1;
            }
            ("reads", n, 0)
        });
    }
    let mut figures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        figures.push(r.unwrap());
    }

    let changes = changes.lock().unwrap().clone();
    let reads = reads.lock().unwrap().clone();
    let mut shown = 0;
    for (reader, sent, answered, stamps) in &reads {
        let group = if reader == &ir { "g-ir" } else { "g-hr" };
        let versions: std::collections::BTreeSet<u64> = stamps.iter().map(|(v, _)| *v).collect();
        assert!(versions.len() <= 1, "one read showed mappings of several access versions: {versions:?}");
        for (v, groups) in stamps {
            assert!(groups.iter().any(|g| g == group), "{reader} was shown a mapping restricted to {groups:?}");
            // the version was current at some moment of the read: committed before the read
            // ended, and not replaced before it began
            let this = changes.iter().find(|c| c.version == *v).unwrap_or_else(|| panic!("version {v} was never committed"));
            let next = changes.iter().find(|c| c.version == v + 1);
            assert!(this.sent <= *answered && next.is_none_or(|n| n.answered >= *sent), "{reader} read version {v} outside its time: {this:?} {next:?}");
            assert_eq!(&this.groups, groups);
            shown += 1;
        }
    }
    // afterwards: every mapping of the case carries the final access
    let last = send(&app, &writer, "GET", &access_path, None, Value::Null).await;
    let final_version = last.body["version"].as_u64().unwrap();
    let admin = who("admin");
    let path = format!("{P}/admin/principals/{}", admin.replace(':', "%3A").replace('/', "%2F"));
    assert_eq!(send(&app, ROOT, "PUT", &path, None, json!({"tenant": tenant, "role": "admin"})).await.status, 201);
    let all = send(&app, &admin, "GET", &format!("{P}/case-mappings?case_id={case}&limit=100"), None, Value::Null).await;
    let items = all.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for m in items {
        assert_eq!(m["access"]["case"]["version"].as_u64(), Some(final_version), "a mapping with a stale access: {m}");
    }
    assert_eq!(last.body["mappings"].as_i64(), Some(items.len() as i64), "the record counts the case's mappings");
    println!(
        "access race (DynamoDB Local, 8 s): {figures:?}; {} reads showed {shown} mappings, each of an access current during its read; {} mappings end at access version {final_version}",
        reads.len(),
        items.len()
    );
    assert!(changes.len() > 3 && reads.len() > 10, "too little happened: {} changes, {} reads", changes.len(), reads.len());
}

/// A change of a large entity interrupted after it took the record (the process died): the
/// record stays pending, mapping writes of the entity are refused rather than written with a
/// stale access, and the next change resumes the work and ends with every mapping current.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_change_stops_writes_until_the_next_change_resumes_it() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use mitre_domain::{AccessRepo, AuditEntry, EntityRef, Mapping, MappingInput, MappingKind, MappingRepo, WriteError, contract};
    let store = synced_store().await;
    let tenant = contract::fresh_tenant("resume");
    let case = EntityRef::parse(MappingKind::Case, "C-R").unwrap();
    let write = |technique: &str| {
        let input = MappingInput { case_id: Some("C-R".into()), ..MappingInput::default() };
        Mapping::create(
            MappingKind::Case,
            &tenant,
            &input,
            contract::resolved(technique, "execution", "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5"),
            "test",
        )
        .unwrap()
    };
    for t in ["T1059", "T1106", "T1204"] {
        let m = write(t);
        let m = m.clone().stamped(&store.entity_access(&tenant, &m.entities()).await.unwrap());
        store.create_mapping(&m, AuditEntry::of(&tenant, "test", "mapping.create", m.target(), None, Some(&m), "test")).await.unwrap();
    }
    // what a change leaves behind when it dies after its first step: the record at the new
    // version with the change pending, the mappings still with the old access
    let key = std::collections::HashMap::from([
        ("pk".to_string(), AttributeValue::S(format!("T#{tenant}#M#case"))),
        ("sk".to_string(), AttributeValue::S("E#C-R".into())),
    ]);
    store
        .ddb
        .update_item()
        .table_name(&store.table)
        .set_key(Some(key))
        .update_expression("SET version = :v, groups = :g, pending = :p")
        .expression_attribute_values(":v", AttributeValue::N("1".into()))
        .expression_attribute_values(":g", AttributeValue::L(vec![AttributeValue::S("g-ir".into())]))
        .expression_attribute_values(
            ":p",
            AttributeValue::M(std::collections::HashMap::from([("to".to_string(), AttributeValue::L(vec![AttributeValue::S("g-ir".into())]))])),
        )
        .send()
        .await
        .unwrap();
    let stuck = store.entity_access(&tenant, std::slice::from_ref(&case)).await.unwrap().remove(0);
    assert!(stuck.pending.is_some(), "{stuck:?}");
    let m = write("T1047").stamped(std::slice::from_ref(&stuck));
    let refused = store.create_mapping(&m, AuditEntry::of(&tenant, "test", "mapping.create", m.target(), None, Some(&m), "test")).await;
    assert!(matches!(refused, Err(WriteError::Contended)), "{refused:?}");
    // the next change resumes and completes
    let after = stuck.changed(Some(vec!["g-hr".into()]), "test");
    store
        .change_access(&tenant, &stuck, &after, AuditEntry::of(&tenant, "test", "access.put", "cases/C-R/access".into(), Some(&stuck), Some(&after), "test"))
        .await
        .unwrap();
    let done = store.entity_access(&tenant, std::slice::from_ref(&case)).await.unwrap().remove(0);
    assert_eq!((done.version, done.pending.clone(), done.groups.clone()), (2, None, Some(vec!["g-hr".to_string()])));
    let all =
        store.all_mappings(&tenant, &[MappingKind::Case], &mitre_domain::MappingFilter { entities: vec![case.clone()], ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|m| m.access.get(&MappingKind::Case) == Some(&done.stamp())), "{all:?}");
    let m = write("T1047").stamped(std::slice::from_ref(&done));
    store.create_mapping(&m, AuditEntry::of(&tenant, "test", "mapping.create", m.target(), None, Some(&m), "test")).await.unwrap();
}
