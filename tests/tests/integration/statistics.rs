//! Statistics against DynamoDB Local: 10,000 mappings across 1,000 entities, every read at
//! most 2 DynamoDB calls and equal to a full recount; again after 32 concurrent writers.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, stream};
use mitre_api::{App, Settings};
use mitre_attack::{Domain, TechniqueId};
use mitre_domain::stats::{Aggregates, Window};
use mitre_domain::{AuditEntry, Mapping, MappingFilter, MappingKind, MappingRepo, RetryPolicy, StatsRepo, TenantId, Timestamp, WriteError, contract};
use mitre_store::Store;
use mitre_store::tenancy::Role;
use mitre_tests::{call, register, synced_store};

const P: &str = "/api/v1/mitre";
const E: Domain = Domain::EnterpriseAttack;

fn windows() -> Vec<Window> {
    vec![
        Window::all(),
        Window { from: Some("2025-09".into()), to: Some("2025-11".into()) },
        Window { from: Some("2026-03".into()), to: None },
        Window { from: None, to: Some("2025-07".into()) },
    ]
}

async fn assert_equal_to_recount(store: &Store, tenant: &TenantId, what: &str) {
    let all = store.all_mappings(tenant, &MappingKind::ALL, &MappingFilter::default()).await.unwrap();
    for w in windows() {
        let kept = store.statistics(tenant, E, &w).await.unwrap();
        let recount = Aggregates::recount(&all, E, &w);
        assert!(
            kept == recount,
            "{what}: the counters of {w:?} differ from a recount of {} mappings ({} counters kept, {} recounted)",
            all.len(),
            kept.counts.len(),
            recount.counts.len()
        );
    }
}

fn audit(m: &Mapping, action: &str) -> AuditEntry {
    AuditEntry::of(&m.tenant, "load", action, m.target(), None, Some(m), "statistics-test")
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_stay_exact_and_cheap_at_ten_thousand_mappings() {
    let store = synced_store().await;
    let tenant = contract::fresh_tenant("stats");
    let viewer = format!("arn:aws:iam::123456789012:user/stats-{tenant}");
    register(&store, &viewer, tenant.as_str(), Role::Viewer).await;
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let catalog = app.catalog.domain(E).await.unwrap();

    // 10,000 mappings across 1,000 entities, 32 writers at a time
    let mappings = contract::synthetic_mappings(&catalog, &tenant, 10_000, 1_000, 11);
    let started = std::time::Instant::now();
    let failed: Vec<String> = stream::iter(mappings.iter())
        .map(|m| {
            let store = store.clone();
            async move { store.create_mapping(m, audit(m, "mapping.create")).await.err().map(|e| format!("{}: {e}", m.id)) }
        })
        .buffer_unordered(32)
        .filter_map(|e| async move { e })
        .collect()
        .await;
    assert!(failed.is_empty(), "{} creates failed, first {:?}", failed.len(), failed.first());
    eprintln!("10,000 creates with statistics in {:.1} s", started.elapsed().as_secs_f64());
    assert_equal_to_recount(&store, &tenant, "after 10,000 creates").await;

    // every statistics read: at most 2 DynamoDB calls (the caller's registry entry, one Query of
    // the counters); the catalog comes from memory (here refreshed first: a container whose
    // catalog cache expired checks the domain states once, whatever the route)
    app.catalog.domain(E).await.unwrap();
    let all = store.all_mappings(&tenant, &MappingKind::ALL, &MappingFilter::default()).await.unwrap();
    let reads = [
        "statistics/techniques?top=20",
        "statistics/techniques?top=1000&entity_type=case",
        "statistics/techniques?from=2025-09&to=2025-11",
        "statistics/techniques?from=2025-07&to=2026-06",
        "statistics/tactics",
        "statistics/tactics?from=2026-03&entity_type=alert",
        "statistics/kill-chain",
        "statistics/kill-chain?to=2025-12-31T23:59:59Z",
    ];
    let mut calls = Vec::new();
    for path in reads {
        let r = call(&app, "GET", &format!("{P}/{path}"), Some(&viewer), b"").await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        calls.push((path, r.ddb_calls));
    }
    eprintln!("DynamoDB calls per statistics read: {calls:?}");
    assert!(calls.iter().all(|(_, n)| *n <= 2), "at most 2 DynamoDB calls per read: {calls:?}");
    // the answers are the recount's: top techniques and tactics of the whole tenant
    let r = call(&app, "GET", &format!("{P}/statistics/techniques?top=1000"), Some(&viewer), b"").await;
    let expected = mitre_views::statistics::techniques(&catalog, &Aggregates::recount(&all, E, &Window::all()), &Window::all(), None, 1000, Timestamp::now());
    let got: Vec<(String, i64, i64)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["technique"].as_str().unwrap().to_string(), i["entities"].as_i64().unwrap(), i["mappings"].as_i64().unwrap()))
        .collect();
    let want: Vec<(String, i64, i64)> = expected.items.iter().map(|i| (i.technique.clone(), i.entities, i.mappings)).collect();
    assert_eq!(got, want);
    assert_eq!(want.iter().map(|w| w.2).sum::<i64>(), 10_000);
    let t = call(&app, "GET", &format!("{P}/statistics/tactics"), Some(&viewer), b"").await;
    let orders: Vec<u64> = t.body["items"].as_array().unwrap().iter().filter_map(|i| i["order"].as_u64()).collect();
    assert_eq!(orders.len(), catalog.tactics.len());
    assert!(orders.windows(2).all(|w| w[0] < w[1]), "matrix order");

    // 32 concurrent writers on 40 shared entities: creates, technique and month moves, deletes;
    // each write tried again when overtaken (the store makes one attempt; the API retries requests)
    let live: Vec<&mitre_attack::catalog::Technique> =
        catalog.techniques.iter().filter(|t| !t.revoked && !t.deprecated && t.tactics.len() == 1).take(12).collect();
    let pool: Vec<Mapping> = all
        .iter()
        .filter(|m| ["ALERT-00000", "CASE-00002", "INCIDENT-00001", "OBSERVABLE-00003"].iter().any(|e| mitre_domain::stats::stats_entity(m).1 == *e))
        .cloned()
        .collect();
    assert!(pool.len() >= 30, "{}", pool.len());
    let pool = Arc::new(std::sync::Mutex::new(pool));
    let (done, refused) = (AtomicU64::new(0), AtomicU64::new(0));
    let writers = (0..32u64).map(|w| {
        let (store, pool, live, tenant, catalog) = (store.clone(), pool.clone(), live.clone(), tenant.clone(), catalog.clone());
        let (done, refused) = (&done, &refused);
        async move {
            let mut seed = w * 7_919 + 1;
            let mut next = move |n: u64| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) % n
            };
            for _ in 0..25 {
                let pick = { pool.lock().unwrap().get(next(1_000) as usize % 30).cloned() };
                let outcome = match (next(3), pick) {
                    (0, _) | (_, None) => {
                        let t = live[next(live.len() as u64) as usize];
                        let kind = MappingKind::ALL[next(4) as usize];
                        let id = format!("{}-{:05}", kind.as_str().to_uppercase(), next(4));
                        let mut input =
                            mitre_domain::MappingInput { first_observed: Some(format!("2026-0{}-15T00:00:00Z", 1 + next(6))), ..Default::default() };
                        match kind {
                            MappingKind::Alert => input.alert_id = Some(id),
                            MappingKind::Case => input.case_id = Some(id),
                            MappingKind::Incident => input.incident_id = Some(id),
                            MappingKind::Observable => input.observable_id = Some(id),
                        }
                        let resolved = mitre_domain::mapping::resolve([&*catalog], &t.attack_id, None).unwrap();
                        let m = Mapping::create(kind, &tenant, &input, resolved, "writer").unwrap();
                        let r = RetryPolicy::REQUEST.run(|| store.create_mapping(&m, audit(&m, "mapping.create")), WriteError::is_transient).await;
                        if r.is_ok() {
                            pool.lock().unwrap().push(m);
                        }
                        r
                    }
                    (1, Some(old)) => {
                        let t = live[next(live.len() as u64) as usize];
                        let mut new = old.clone();
                        new.technique = TechniqueId::parse(&t.attack_id).unwrap();
                        new.tactic = t.tactics[0].clone();
                        new.tactic_id = catalog.tactic(&t.tactics[0]).map(|a| a.stix_id.clone());
                        new.first_observed = Timestamp::parse(&format!("2025-{:02}-03T00:00:00Z", 7 + next(6))).unwrap();
                        new.touch("writer");
                        let r = RetryPolicy::REQUEST.run(|| store.update_mapping(&old, &new, audit(&new, "mapping.update")), WriteError::is_transient).await;
                        if r.is_ok() {
                            let mut p = pool.lock().unwrap();
                            p.retain(|m| m.id != old.id);
                            p.push(new);
                        }
                        r
                    }
                    (_, Some(old)) => {
                        let r = RetryPolicy::REQUEST.run(|| store.delete_mapping(&old, audit(&old, "mapping.delete")), WriteError::is_transient).await;
                        if r.is_ok() {
                            pool.lock().unwrap().retain(|m| m.id != old.id);
                        }
                        r
                    }
                };
                match outcome {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    // another writer got there first (or kept overtaking it through every retry, as
                    // the API answers 409): refused whole, nothing written
                    Err(WriteError::Stale | WriteError::Duplicate | WriteError::Contended) => refused.fetch_add(1, Ordering::Relaxed),
                    Err(e) => panic!("writer {w}: {e}"),
                };
            }
        }
    });
    futures::future::join_all(writers).await;
    let (done, refused) = (done.into_inner(), refused.into_inner());
    eprintln!("32 writers: {done} writes, {refused} refused as stale, duplicate or overtaken");
    assert_eq!(done + refused, 800);
    assert!(done >= 400, "most writes land ({done})");
    assert_equal_to_recount(&store, &tenant, "after 32 concurrent writers").await;
}

/// A mapping as an earlier version stored it: the item without the `counted` mark, its guard
/// and use counter, and no statistics.
async fn store_as_before(store: &Store, m: &Mapping) {
    use mitre_store::ddb::{key, s, to_item};
    use mitre_store::keys;
    let mut item = to_item(&mitre_store::tenancy::MappingItem::new(m)).unwrap();
    item.remove("counted");
    store.ddb.put_item().table_name(&store.table).set_item(Some(item)).send().await.unwrap();
    let mut guard = key(keys::mapping_pk(m.tenant.as_str(), m.kind.as_str()), keys::guard_sk(&m.sameness()));
    guard.insert("mapping_id".into(), s(&m.id));
    store.ddb.put_item().table_name(&store.table).set_item(Some(guard)).send().await.unwrap();
    store
        .ddb
        .update_item()
        .table_name(&store.table)
        .set_key(Some(key(keys::STATS_PK, keys::use_counter_sk(m.technique.as_str(), m.tactic_key()))))
        .update_expression("ADD #n :one SET technique = :t, tactic = :a, tactic_id = :i")
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":one", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .expression_attribute_values(":t", s(m.technique.as_str()))
        .expression_attribute_values(":a", s(&m.tactic))
        .expression_attribute_values(":i", s(m.tactic_id.clone().unwrap_or_default()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn mappings_stored_before_statistics_are_counted_by_migrate_and_never_subtracted() {
    let app = mitre_tests::spawn_app().await;
    let store = &app.store;
    let tenant = contract::fresh_tenant("older");
    let a = contract::alert_mapping(&tenant, "A-1", "T1059.001", "2026-01-05T00:00:00Z");
    let b = contract::alert_mapping(&tenant, "A-2", "T1059.001", "2026-02-05T00:00:00Z");
    let c = contract::alert_mapping(&tenant, "A-3", "T1059.003", "2026-03-05T00:00:00Z");
    for m in [&a, &b, &c] {
        store_as_before(store, m).await;
    }
    assert_eq!(store.statistics(&tenant, E, &Window::all()).await.unwrap(), Aggregates::default(), "older mappings are not counted yet");

    // a change counts the new state; a stale change of an older mapping is refused
    let mut stale = a.clone();
    stale.version = 7;
    let mut a2 = a.clone();
    a2.confidence_score = 88;
    a2.touch("analyst");
    assert!(matches!(store.update_mapping(&stale, &a2, audit(&a2, "mapping.update")).await, Err(WriteError::Stale)));
    store.update_mapping(&a, &a2, audit(&a2, "mapping.update")).await.unwrap();
    // a delete takes out nothing that was never counted
    store.delete_mapping(&b, audit(&b, "mapping.delete")).await.unwrap();
    let kept = store.statistics(&tenant, E, &Window::all()).await.unwrap();
    assert_eq!(kept, Aggregates::recount([&a2], E, &Window::all()));
    assert!(kept.counts.values().all(|v| *v > 0));

    // migrate counts the rest, once
    let dry = store.migrate(true, "operator", "t").await.unwrap();
    assert_eq!(dry.counted, 1, "{dry:?}");
    assert_eq!(store.statistics(&tenant, E, &Window::all()).await.unwrap(), kept, "a dry run counts nothing");
    let applied = store.migrate(false, "operator", "t").await.unwrap();
    assert_eq!((applied.counted, applied.failed.len()), (1, 0), "{applied:?}");
    assert_equal_to_recount(store, &tenant, "after migrate").await;
    assert_eq!(store.migrate(false, "operator", "t").await.unwrap().counted, 0, "nothing left to count");
    // and a counted mapping's next change moves its counts as usual
    let c_now = store.mapping(&tenant, MappingKind::Alert, &c.id).await.unwrap().unwrap();
    assert_eq!(c_now.version, c.version, "counting does not change the mapping's version");
    store.delete_mapping(&c_now, audit(&c_now, "mapping.delete")).await.unwrap();
    assert_equal_to_recount(store, &tenant, "after deleting a counted older mapping").await;
}
