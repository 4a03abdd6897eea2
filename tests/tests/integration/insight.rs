//! Upgrade impact and technique inference on DynamoDB Local, through the router: the kept
//! release changes weighed by each tenant's own mappings, inference from an entity's mappings
//! and the tenant's rebuilt history, both in at most two DynamoDB calls, never across tenants.
use mitre_api::{App, Settings};
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::changes::{ChangeClass, ReleaseChanges};
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_domain::{InsightRepo, ReleaseChangeRecord, TenantId, Timestamp};
use mitre_store::tenancy::Role;
use mitre_tests::{Answer, Call, attack_data, register, synced_store};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

fn catalog(file: &str, version: &str) -> DomainCatalog {
    let bytes = decode_source_bytes(std::fs::read(attack_data(file)).unwrap()).unwrap();
    let b = parse_bundle(&bytes, Domain::EnterpriseAttack).unwrap();
    DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, version, "release")
}

async fn send(app: &App, who: &str, method: &str, path: &str, body: Value) -> Answer {
    let c = Call::new(method, path).by(who);
    if body.is_null() { c.send(app).await } else { c.json(&body).send(app).await }
}

/// The technique's first tactic in the synced release.
async fn tactic_of(app: &App, who: &str, technique: &str) -> String {
    let r = send(app, who, "GET", &format!("{P}/techniques/{technique}"), Value::Null).await;
    assert_eq!(r.status, 200, "{technique}: {}", r.text);
    r.body["tactics"][0]["shortname"].as_str().or_else(|| r.body["tactics"][0].as_str()).unwrap_or_else(|| panic!("{}", r.body)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_impact_and_inference_answer_each_tenant_from_its_own_data() {
    let store = synced_store().await;
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let n = ulid::Ulid::new().to_string().to_lowercase();
    let (ta, tb) = (format!("ia-{n}"), format!("ib-{n}"));
    let (a, b) = (format!("arn:aws:iam::333333333333:user/a-{n}"), format!("arn:aws:iam::333333333333:user/b-{n}"));
    register(&store, &a, &ta, Role::Analyst).await;
    register(&store, &b, &tb, Role::Analyst).await;

    // What 17.1 -> 18.0 changed, kept as a sync keeps it (the synced release is 18.1: the
    // named pair is read, not the latest).
    let changes = ReleaseChanges::between(&catalog("enterprise-attack-17.1.json.gz", "17.1"), &catalog("enterprise-attack-18.0.json.gz", "18.0"));
    let record = ReleaseChangeRecord {
        domain: Domain::EnterpriseAttack,
        from: "17.1".into(),
        to: "18.0".into(),
        computed_at: Timestamp::now(),
        changes: changes.encode().unwrap(),
    };
    store.put_release_changes(&record).await.unwrap();
    // three techniques the release gave a major or minor change, still live in 18.1
    let mut changed = Vec::new();
    for c in changes.techniques.iter().filter(|c| matches!(c.class, ChangeClass::Major | ChangeClass::Minor)) {
        if send(&app, &a, "GET", &format!("{P}/techniques/{}", c.attack_id), Value::Null).await.status == 200 && changed.len() < 3 {
            changed.push(c.attack_id.clone());
        }
    }
    assert_eq!(changed.len(), 3, "{changed:?}");
    let unchanged = "T1105"; // not changed from 17.1 to 18.0 or not: whatever, it is mapped too

    // Tenant A: case C-1 with the three changed techniques (the first also on two alerts), and
    // case C-2 with the second and T1105.
    let map = |kind: &'static str, field: &'static str, id: String, technique: String| {
        let (app, a) = (&app, &a);
        async move {
            let tactic = tactic_of(app, a, &technique).await;
            let mut body = json!({field: id, "technique": technique, "tactic": tactic});
            if kind == "alert" {
                // the alerts belong to case C-1
                body["case_id"] = json!("C-1");
            }
            let r = send(app, a, "POST", &format!("{P}/{kind}-mappings"), body).await;
            assert!(r.status == 201 || r.status == 200, "{kind} {id} {technique}: {} {}", r.status, r.text);
        }
    };
    for t in &changed {
        map("case", "case_id", "C-1".into(), t.clone()).await;
    }
    map("alert", "alert_id", "AL-1".into(), changed[0].clone()).await;
    map("alert", "alert_id", "AL-2".into(), changed[0].clone()).await;
    map("case", "case_id", "C-2".into(), changed[1].clone()).await;
    map("case", "case_id", "C-2".into(), unchanged.to_string()).await;

    // Upgrade impact: A's mapped techniques that changed, most used first, with their counts.
    // Cold: the registry entry, the kept changes and A's counters; warm (the changes kept in the
    // container): two calls.
    let r = send(&app, &a, "GET", &format!("{P}/attack-updates?from=17.1&to=18.0"), Value::Null).await;
    assert_eq!((r.status, r.ddb_calls), (200, 3), "{}", r.text);
    let r = send(&app, &a, "GET", &format!("{P}/attack-updates?from=17.1&to=18.0"), Value::Null).await;
    assert_eq!((r.status, r.ddb_calls), (200, 2), "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["technique"].as_str().unwrap()).collect();
    for t in &changed {
        assert!(ids.contains(&t.as_str()), "{t} in {ids:?}");
    }
    assert_eq!(ids[0], changed[0], "the technique on the most entities first: {ids:?}");
    assert_eq!((items[0]["usage"]["mappings"].as_u64(), items[0]["usage"]["entities"].as_u64()), (Some(3), Some(3)), "{}", items[0]);
    assert!(!ids.contains(&unchanged) || changes.technique(unchanged).is_some_and(|c| !matches!(c.class, ChangeClass::Patch)), "{ids:?}");
    assert_eq!((r.body["from"].as_str(), r.body["to"].as_str()), (Some("17.1"), Some("18.0")));
    let md = send(&app, &a, "GET", &format!("{P}/attack-updates?from=17.1&to=18.0&format=markdown"), Value::Null).await;
    assert_eq!((md.status, md.content_type.starts_with("text/markdown")), (200, true), "{}", md.text);
    assert!(md.text.contains(&changed[0]), "{}", md.text);
    // the latest change of the domain is this one; B maps nothing: no item, and nothing of A's
    let latest = send(&app, &b, "GET", &format!("{P}/attack-updates"), Value::Null).await;
    assert_eq!(latest.status, 200, "{}", latest.text);
    assert_eq!(latest.body["items"], json!([]), "{}", latest.body);
    assert!(!latest.text.contains("C-1") && !latest.text.contains(&ta));
    // bad input: one release of the pair, a release that is none, an unknown pair
    for (q, status) in [("from=17.1", 400), ("to=18.0", 400), ("from=x&to=18.0", 400), ("from=16.1&to=18.0", 404), ("format=svg", 400)] {
        let r = send(&app, &a, "GET", &format!("{P}/attack-updates?{q}"), Value::Null).await;
        assert_eq!(r.status, status, "{q}: {}", r.text);
        assert!(r.body["error"]["code"].is_string(), "{q}: {}", r.body);
    }

    // Inference: without a history, from ATT&CK alone; after the rebuild, A's own cases count.
    let r = send(&app, &a, "GET", &format!("{P}/cases/C-1/inferences?domain=enterprise-attack"), Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["history"], Value::Null);
    let tenant_a = TenantId::parse(&ta).unwrap();
    let rebuilt = mitre_sync::insight::rebuild_history(&store, &tenant_a, &[Domain::EnterpriseAttack]).await.unwrap();
    // C-1 and C-2 (the alerts hold one technique each: a set of one says nothing of co-occurrence)
    assert_eq!((rebuilt[0].entities, rebuilt[0].mappings), (2, 7), "{rebuilt:?}");
    // a container that has not read A's history yet (the first one keeps "none" for a while)
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let r = send(&app, &a, "GET", &format!("{P}/cases/C-1/inferences?domain=enterprise-attack&limit=50"), Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(&app, &a, "GET", &format!("{P}/cases/C-1/inferences?domain=enterprise-attack&limit=50"), Value::Null).await;
    assert_eq!((r.status, r.ddb_calls), (200, 2), "warm: the history kept: {}", r.text);
    assert_eq!(r.body["history"]["entities"], 2);
    let suggestions = r.body["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty());
    for s in suggestions {
        let t = s["technique"].as_str().unwrap();
        assert!(!changed.iter().any(|c| c == t), "an observed technique is never suggested: {t}");
        assert!(s["evidence"]["from"].as_array().is_some_and(|f| !f.is_empty()), "{s}");
        assert!(s["tactics"].as_array().is_some_and(|f| !f.is_empty()), "{s}");
    }
    // T1105 shares case C-2 with the second technique: A's history points to it, B's does not
    let body = json!({"techniques": [changed[1]], "limit": 50});
    let ra = send(&app, &a, "POST", &format!("{P}/inferences"), body.clone()).await;
    let rb = send(&app, &b, "POST", &format!("{P}/inferences"), body).await;
    assert_eq!((ra.status, rb.status), (200, 200), "{} {}", ra.text, rb.text);
    let tenant_count = |v: &Value, t: &str| {
        v["suggestions"].as_array().unwrap().iter().find(|s| s["technique"] == t).map(|s| s["evidence"]["tenant_entities"].as_u64().unwrap_or(0)).unwrap_or(0)
    };
    assert!(tenant_count(&ra.body, unchanged) >= 1, "{}", ra.body);
    assert_eq!(tenant_count(&rb.body, unchanged), 0, "B's answer carries nothing of A's history");
    assert_eq!(rb.body["history"], Value::Null);
    // B cannot reach A's case; bad bodies are refused and change nothing
    assert_eq!(send(&app, &b, "GET", &format!("{P}/cases/C-1/inferences"), Value::Null).await.status, 404);
    for bad in
        [json!({"techniques": []}), json!({"techniques": ["nope"]}), json!({"techniques": ["T1105"], "limit": 0}), json!({"techniques": ["T1105"], "x": 1})]
    {
        let r = send(&app, &a, "POST", &format!("{P}/inferences"), bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // a domain that is none, or not synced here: 422, as for suggestions
    for domain in ["nowhere", "mobile-attack"] {
        let r = send(&app, &a, "POST", &format!("{P}/inferences"), json!({"techniques": ["T1105"], "domain": domain})).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some("domain")), "{domain}: {}", r.text);
    }

    // The case report carries both: where to look next, and what the release changed in its techniques.
    let report = send(&app, &a, "GET", &format!("{P}/cases/C-1/report?format=markdown"), Value::Null).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert!(report.text.contains("### Where to look next"), "{}", report.text);
    assert!(report.text.contains("17.1 → 18.0"), "{}", report.text);
    let html = send(&app, &a, "GET", &format!("{P}/cases/C-1/report?format=html"), Value::Null).await;
    assert!(html.text.contains("Where to look next") && html.text.contains(&changed[0]), "{}", html.text);
}
