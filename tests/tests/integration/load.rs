//! Load through the router against DynamoDB Local (`make test-load`; minutes long, so not part
//! of `make test`): 32 concurrent writers in two tenants create, merge, change and delete
//! mappings; afterwards no write is lost or doubled, every write has its audit entry, the
//! statistics equal a recount and no answer was a 5xx.
use std::collections::HashMap;
use std::sync::Mutex;

use mitre_api::{App, Settings};
use mitre_attack::Domain;
use mitre_domain::stats::{Aggregates, Window};
use mitre_domain::{AuditFilter, AuditLog, MappingFilter, MappingKind, MappingRepo, StatsRepo, TenantId, contract};
use mitre_store::tenancy::Role;
use mitre_tests::{call_with, register, synced_store};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";
const WRITERS: u64 = 32;

/// What the writers saw succeed, per mapping id: its writes (create, merges, changes) and
/// whether a delete succeeded.
#[derive(Default)]
struct Ledger {
    writes: HashMap<String, u64>,
    deleted: HashMap<String, bool>,
    etags: HashMap<String, (String, String)>,
    statuses: HashMap<u16, u64>,
    audited: HashMap<String, u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "minutes long: make test-load"]
async fn thirty_two_writers_in_two_tenants_lose_and_double_nothing() {
    let ops: u64 = std::env::var("LOAD_OPS_PER_WRITER").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let store = synced_store().await;
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let tenants = [contract::fresh_tenant("load-a"), contract::fresh_tenant("load-b")];
    let mut analysts = Vec::new();
    for t in &tenants {
        let arn = format!("arn:aws:iam::333333333333:user/analyst-{t}");
        register(&store, &arn, t.as_str(), Role::Analyst).await;
        analysts.push(arn);
    }
    let techniques = ["T1059.001", "T1003.001", "T1566.001", "T1486", "T1021.002", "T1204.002", "T1047", "T1070.004", "T1105", "T1071.001"];
    let ledger = Mutex::new(Ledger::default());
    let started = std::time::Instant::now();
    let writers = (0..WRITERS).map(|w| {
        let (app, ledger) = (&app, &ledger);
        let (tenant, who) = (tenants[(w % 2) as usize].clone(), analysts[(w % 2) as usize].clone());
        async move {
            let mut seed = w * 7_919 + 3;
            let mut next = move |n: u64| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) % n
            };
            for _ in 0..ops {
                let op = next(10);
                let pick = {
                    let l = ledger.lock().unwrap();
                    let live: Vec<(String, (String, String))> = l.etags.iter().filter(|(_, (t, _))| *t == tenant.as_str()).map(|(k, v)| (k.clone(), v.clone())).collect();
                    (!live.is_empty()).then(|| live[next(live.len() as u64) as usize].clone())
                };
                let (method, path, etag, body) = match (op, pick) {
                    // creates and merges: a few entities, so repeats merge
                    (0..=4, _) | (_, None) => {
                        let body = json!({"case_id": format!("C-{}", next(30)), "technique": techniques[next(techniques.len() as u64) as usize], "confidence_score": 1 + next(100)});
                        ("POST", format!("{P}/case-mappings"), None, body)
                    }
                    (5..=7, Some((id, (_, etag)))) => ("PATCH", format!("{P}/case-mappings/{id}"), Some(etag), json!({"confidence_score": 1 + next(100), "notes": format!("writer {w}")})),
                    (_, Some((id, (_, etag)))) => ("DELETE", format!("{P}/case-mappings/{id}"), Some(etag), Value::Null),
                };
                let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
                let headers: Vec<(&str, &str)> = etag.as_deref().map(|e| vec![("if-match", e)]).unwrap_or_default();
                let (answer, new_etag) = call_with(app, method, &path, Some(&who), &headers, &bytes).await;
                let mut l = ledger.lock().unwrap();
                *l.statuses.entry(answer.status).or_default() += 1;
                match (method, answer.status) {
                    ("POST", 200 | 201) | ("PATCH", 200) => {
                        let id = answer.body["id"].as_str().unwrap_or_default().to_string();
                        *l.writes.entry(id.clone()).or_default() += 1;
                        let action = match answer.status {
                            201 => "mapping.create",
                            _ if method == "POST" => "mapping.merge",
                            _ => "mapping.update",
                        };
                        *l.audited.entry(action.to_string()).or_default() += 1;
                        if let Some(e) = new_etag {
                            l.etags.insert(id, (tenant.as_str().to_string(), e));
                        }
                    }
                    ("DELETE", 204) => {
                        let id = path.rsplit('/').next().unwrap_or_default().to_string();
                        assert!(!l.deleted.contains_key(&id), "{id} deleted twice");
                        l.deleted.insert(id.clone(), true);
                        l.etags.remove(&id);
                        *l.audited.entry("mapping.delete".into()).or_default() += 1;
                    }
                    // another writer changed or deleted it first: refused whole
                    ("PATCH" | "DELETE", 412 | 404) => {}
                    (m, s) => panic!("writer {w}: {m} {path} answered {s}: {}", answer.body),
                }
            }
        }
    });
    futures::future::join_all(writers).await;
    let seconds = started.elapsed().as_secs_f64();
    let l = ledger.into_inner().unwrap();
    let total: u64 = l.statuses.values().sum();
    eprintln!("load: {total} requests by {WRITERS} writers in {seconds:.1} s ({:.0}/s); statuses {:?}", total as f64 / seconds, l.statuses);
    assert_eq!(total, WRITERS * ops);
    assert!(l.statuses.keys().all(|s| *s < 500), "no 5xx: {:?}", l.statuses);

    // no lost or doubled write: each live mapping's version is one plus its successful changes
    // and merges after the create, and the deleted ones are gone
    let mut stored: HashMap<String, u64> = HashMap::new();
    for t in &tenants {
        for m in store.all_mappings(t, &MappingKind::ALL, &MappingFilter::default()).await.unwrap() {
            stored.insert(m.id.clone(), m.version);
        }
    }
    for (id, writes) in &l.writes {
        match (l.deleted.contains_key(id), stored.get(id)) {
            (true, None) => {}
            (false, Some(v)) => assert_eq!(*v, *writes, "{id}: version {v} after {writes} successful writes"),
            (deleted, found) => panic!("{id}: deleted {deleted}, stored {found:?}"),
        }
    }
    assert_eq!(stored.len(), l.writes.keys().filter(|id| !l.deleted.contains_key(*id)).count(), "no mapping nobody created");

    // every write has exactly one audit entry, of its kind
    let mut logged: HashMap<String, u64> = HashMap::new();
    for t in &tenants {
        let mut cursor: Option<String> = None;
        loop {
            let page = store.list_audit(&AuditFilter { tenant: Some(t.clone()), ..AuditFilter::default() }, 500, cursor.as_deref()).await.unwrap();
            for e in page.items.iter().filter(|e| e.action.starts_with("mapping.")) {
                *logged.entry(e.action.clone()).or_default() += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    assert_eq!(logged, l.audited, "audit entries equal the writes");

    // the statistics equal a recount in each tenant
    for t in &tenants {
        let t: &TenantId = t;
        let all = store.all_mappings(t, &MappingKind::ALL, &MappingFilter::default()).await.unwrap();
        for w in [Window::all(), Window { from: Some(mitre_domain::stats::month_of(mitre_domain::Timestamp::now())), to: None }] {
            assert_eq!(
                store.statistics(t, Domain::EnterpriseAttack, &w).await.unwrap(),
                Aggregates::recount(&all, Domain::EnterpriseAttack, &w),
                "{t}: statistics over {w:?}"
            );
        }
    }
}
