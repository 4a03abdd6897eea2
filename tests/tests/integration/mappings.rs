//! Tenants, roles, the audit log and technique mappings, through the router against the
//! local stack (the shared table with enterprise 18.1 synced).
use mitre_api::routes::{ROUTES, RouteId};
use mitre_api::{App, Settings};
use mitre_store::tenancy::Role;
use mitre_tests::{Answer, call_with, register, scan_prefixed, synced_store};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";
const SU: &str = "arn:aws:iam::111111111111:user/root-admin";

struct World {
    app: App,
    tenant_a: String,
    tenant_b: String,
    a_analyst: String,
    a_viewer: String,
    a_admin: String,
    b_analyst: String,
    b_admin: String,
}

/// Two fresh tenants with their principals, on the shared synced table.
async fn world() -> World {
    let store = synced_store().await;
    let n = ulid::Ulid::new().to_string().to_lowercase();
    let (ta, tb) = (format!("a-{n}"), format!("b-{n}"));
    let arn = |who: &str| format!("arn:aws:iam::222222222222:user/{who}-{n}");
    let w = World {
        app: App::new(store.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() }),
        a_analyst: arn("a-analyst"),
        a_viewer: arn("a-viewer"),
        a_admin: arn("a-admin"),
        b_analyst: arn("b-analyst"),
        b_admin: arn("b-admin"),
        tenant_a: ta.clone(),
        tenant_b: tb.clone(),
    };
    register(&store, &w.a_analyst, &ta, Role::Analyst).await;
    register(&store, &w.a_viewer, &ta, Role::Viewer).await;
    register(&store, &w.a_admin, &ta, Role::Admin).await;
    register(&store, &w.b_analyst, &tb, Role::Analyst).await;
    register(&store, &w.b_admin, &tb, Role::Admin).await;
    w
}

async fn req(app: &App, who: &str, method: &str, path: &str, body: Value) -> (Answer, Option<String>) {
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    call_with(app, method, path, Some(who), &[], &bytes).await
}

async fn req_if(app: &App, who: &str, method: &str, path: &str, etag: &str, body: Value) -> (Answer, Option<String>) {
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    call_with(app, method, path, Some(who), &[("if-match", etag)], &bytes).await
}

/// Every item of a tenant (mappings, guards, audit entries), in the shared synced table the
/// world's app works on.
async fn tenant_items(_app: &App, tenant: &str) -> usize {
    scan_prefixed(&synced_store().await, "pk", &format!("T#{tenant}#")).await.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_admins_manage_their_tenants_registry_and_roles_are_enforced() {
    let w = world().await;
    let app = &w.app;
    let newbie = format!("arn:aws:iam::333333333333:role/Newbie-{}", w.tenant_a);
    let enc = newbie.replace(':', "%3A").replace('/', "%2F");
    // unknown principals are refused everywhere
    let (r, _) = req(app, &newbie, "GET", &format!("{P}/tactics"), Value::Null).await;
    assert_eq!(r.status, 403);
    // a tenant admin registers principals of its own tenant below superuser; superusers any
    let (r, _) = req(app, &w.a_admin, "PUT", &format!("{P}/admin/principals/{enc}"), json!({"tenant": w.tenant_b, "role": "analyst"})).await;
    assert_eq!(r.status, 403, "another tenant");
    let (r, _) = req(app, &w.a_admin, "PUT", &format!("{P}/admin/principals/{enc}"), json!({"tenant": w.tenant_a, "role": "superuser"})).await;
    assert_eq!(r.status, 403, "above admin");
    let (r, _) = req(app, SU, "PUT", &format!("{P}/admin/principals/{enc}"), json!({"tenant": w.tenant_a, "role": "analyst"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["role"], "analyst");
    let (r, _) = req(app, SU, "PUT", &format!("{P}/admin/principals/{enc}/"), json!({"tenant": w.tenant_a, "role": "viewer"})).await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("viewer")));
    let (r, _) = req(app, SU, "GET", &format!("{P}/admin/principals"), Value::Null).await;
    assert!(r.body["items"].as_array().unwrap().iter().any(|p| p["principal"] == newbie));
    let (r, _) = req(app, &w.a_analyst, "GET", &format!("{P}/admin/principals"), Value::Null).await;
    assert_eq!(r.status, 403);
    // an assumed-role session acts as its role
    let session = format!("arn:aws:sts::333333333333:assumed-role/Newbie-{}/alice-session", w.tenant_a);
    let (r, _) = req(app, &session, "GET", &format!("{P}/alert-mappings"), Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (r, _) = req(app, &session, "POST", &format!("{P}/alert-mappings"), json!({"alert_id": "A-1", "technique": "T1059.001"})).await;
    assert_eq!(r.status, 403, "a viewer cannot write");
    // registry changes are audited; admins read their tenant's log, analysts do not
    let (r, _) = req(app, &w.a_admin, "GET", &format!("{P}/audit?action=principal.put"), Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["items"].as_array().unwrap().iter().any(|e| e["target"] == format!("principals/{newbie}") && e["actor"] == SU));
    let (r, _) = req(app, &w.a_analyst, "GET", &format!("{P}/audit"), Value::Null).await;
    assert_eq!(r.status, 403);
    let (r, _) = req(app, SU, "DELETE", &format!("{P}/admin/principals/{enc}"), Value::Null).await;
    assert_eq!(r.status, 204);
    let (r, _) = req(app, &session, "GET", &format!("{P}/alert-mappings"), Value::Null).await;
    assert_eq!(r.status, 403);
    let (r, _) = req(app, SU, "DELETE", &format!("{P}/admin/principals/{enc}"), Value::Null).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_lives_merges_changes_and_dies_with_its_audit_trail() {
    let w = world().await;
    let (app, a) = (&w.app, w.a_analyst.as_str());
    let body = json!({"alert_id": "ALERT-1", "case_id": "CASE-9", "technique": "t1059.001", "confidence_score": 60,
        "detection_method": "edr", "artifacts": "powershell -enc ...", "impact_level": "high",
        "first_observed": "2026-01-01T10:00:00Z", "last_observed": "2026-01-01T11:00:00+01:00"});
    let (r, etag) = req(app, a, "POST", &format!("{P}/alert-mappings"), body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(etag.as_deref(), Some("\"1\""));
    let m = r.body.clone();
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!((m["technique"].as_str(), m["tactic"].as_str()), (Some("T1059.001"), Some("execution")), "one tactic: filled in");
    assert_eq!(m["last_observed"], "2026-01-01T10:00:00.000Z");
    assert_eq!((m["created_by"].as_str(), m["version"].as_u64()), (Some(a), Some(1)));
    // the same entity, technique and tactic again: merged
    let (r, _) = req(app, a, "POST", &format!("{P}/alert-mappings"), json!({"alert_id": "ALERT-1", "case_id": "CASE-9", "technique": "T1059.001", "confidence_score": 90, "first_observed": "2025-12-31T00:00:00Z", "last_observed": "2026-01-02T00:00:00Z"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["id"].as_str(), r.body["version"].as_u64()), (Some(id.as_str()), Some(2)));
    assert_eq!(
        (r.body["confidence_score"].as_u64(), r.body["first_observed"].as_str(), r.body["last_observed"].as_str()),
        (Some(90), Some("2025-12-31T00:00:00.000Z"), Some("2026-01-02T00:00:00.000Z"))
    );
    assert_eq!(r.body["impact_level"], "high", "other fields keep their values");
    // found by either linked entity, by technique and tactic, and by observed range
    for q in [
        "alert_id=ALERT-1",
        "case_id=CASE-9",
        "technique=T1059.001",
        "tactic=execution",
        "tactic=TA0002",
        "observed_from=2026-01-01T00:00:00Z&observed_to=2026-01-01T23:00:00Z",
        "alert_id=ALERT-1&technique=T1059.001",
    ] {
        let (r, _) = req(app, &w.a_viewer, "GET", &format!("{P}/alert-mappings?{q}"), Value::Null).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().iter().filter(|x| x["id"] == id.as_str()).count(), 1, "{q}");
    }
    for q in ["alert_id=OTHER", "technique=T1003", "tactic=persistence", "observed_from=2027-01-01T00:00:00Z"] {
        let (r, _) = req(app, &w.a_viewer, "GET", &format!("{P}/alert-mappings?{q}"), Value::Null).await;
        assert!(r.body["items"].as_array().unwrap().is_empty(), "{q}");
    }
    // several tactics: the tactic must be given and be one of them
    let (r, _) = req(app, a, "POST", &format!("{P}/case-mappings"), json!({"alert_id": "ALERT-1", "technique": "T1078"})).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some("tactic")));
    let (r, _) = req(app, a, "POST", &format!("{P}/case-mappings"), json!({"alert_id": "ALERT-1", "technique": "T1078", "tactic": "impact"})).await;
    assert_eq!(r.status, 422);
    let (r, _) = req(app, a, "POST", &format!("{P}/case-mappings"), json!({"alert_id": "ALERT-1", "technique": "T1078", "tactic": "TA0003"})).await;
    assert_eq!((r.status, r.body["tactic"].as_str()), (201, Some("persistence")));
    let (r, _) = req(app, a, "GET", &format!("{P}/case-mappings?alert_id=ALERT-1"), Value::Null).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "a case mapping is listed by its alert");
    // a revoked technique names its replacement
    let (r, _) = req(app, a, "POST", &format!("{P}/incident-mappings"), json!({"incident_id": "INC-1", "technique": "T1193"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["error"]["details"]["revoked_by"], "T1566.001");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("T1566.001"));
    // PATCH and DELETE need the current ETag
    let path = format!("{P}/alert-mappings/{id}");
    let (r, _) = req(app, a, "PATCH", &path, json!({"mitigation_status": "in_progress"})).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (428, Some("missing_if_match")));
    let (r, _) = req_if(app, a, "PATCH", &path, "\"1\"", json!({"mitigation_status": "in_progress"})).await;
    assert_eq!(r.status, 412);
    let (r, etag) = req_if(app, a, "PATCH", &path, "\"2\"", json!({"mitigation_status": "in_progress", "notes": "contained"})).await;
    assert_eq!((r.status, r.body["version"].as_u64(), etag.as_deref()), (200, Some(3), Some("\"3\"")));
    let (r, _) = req_if(app, &w.a_viewer, "PATCH", &path, "\"3\"", json!({"notes": "x"})).await;
    assert_eq!(r.status, 403);
    let (r, etag) = req(app, &w.a_viewer, "GET", &path, Value::Null).await;
    assert_eq!((r.status, r.body["notes"].as_str(), etag.as_deref()), (200, Some("contained"), Some("\"3\"")));
    let (r, _) = req_if(app, a, "DELETE", &path, "\"2\"", Value::Null).await;
    assert_eq!(r.status, 412);
    let (r, _) = req_if(app, a, "DELETE", &path, "\"3\"", Value::Null).await;
    assert_eq!(r.status, 204);
    let (r, _) = req(app, a, "GET", &path, Value::Null).await;
    assert_eq!(r.status, 404);
    // every write left its audit entry, with before and after
    let (r, _) = req(app, &w.a_admin, "GET", &format!("{P}/audit?target=alert-mappings/{id}"), Value::Null).await;
    let actions: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["mapping.delete", "mapping.update", "mapping.merge", "mapping.create"], "newest first");
    let update = &r.body["items"][1];
    assert_eq!((update["before"]["version"].as_u64(), update["after"]["version"].as_u64()), (Some(2), Some(3)));
    assert_eq!(update["actor"], a);
    assert!(update["request_id"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_lose_no_update() {
    let w = world().await;
    let app = &w.app;
    let (r, _) = req(
        app,
        &w.a_analyst,
        "POST",
        &format!("{P}/observable-mappings"),
        json!({"observable_id": "ip-10.0.0.1", "technique": "T1003.001", "confidence_score": 10}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let path = format!("{P}/observable-mappings/{}", r.body["id"].as_str().unwrap());
    // eight PATCHes of version 1 at once: exactly one wins, the others get 412
    let tasks: Vec<_> = (0..8).map(|i| req_if(app, &w.a_analyst, "PATCH", &path, "\"1\"", json!({"notes": format!("writer {i}")}))).collect();
    let results = futures_join(tasks).await;
    let ok = results.iter().filter(|(r, _)| r.status == 200).count();
    let stale = results.iter().filter(|(r, _)| r.status == 412).count();
    assert_eq!((ok, stale), (1, 7), "{:?}", results.iter().map(|(r, _)| r.status).collect::<Vec<_>>());
    // eight merges at once: none is lost
    let create = format!("{P}/observable-mappings");
    let tasks: Vec<_> = (0..8)
        .map(|i| req(app, &w.a_analyst, "POST", &create, json!({"observable_id": "ip-10.0.0.1", "technique": "T1003.001", "confidence_score": 20 + i})))
        .collect();
    let results = futures_join(tasks).await;
    assert!(results.iter().all(|(r, _)| r.status == 200), "{:?}", results.iter().map(|(r, _)| (r.status, r.body.clone())).collect::<Vec<_>>());
    let (r, _) = req(app, &w.a_analyst, "GET", &path, Value::Null).await;
    assert_eq!((r.body["version"].as_u64(), r.body["confidence_score"].as_u64()), (Some(2 + 8), Some(27)));
}

async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut handles = Vec::new();
    for f in fs {
        handles.push(f);
    }
    futures::future::join_all(handles).await
}

#[tokio::test(flavor = "multi_thread")]
async fn no_caller_sees_or_changes_another_tenants_data() {
    let w = world().await;
    let app = &w.app;
    let mut ids = Vec::new();
    for (kind, body) in [
        ("alert", json!({"alert_id": "SHARED-1", "case_id": "SHARED-C", "technique": "T1059.001"})),
        ("incident", json!({"incident_id": "SHARED-1", "technique": "T1059.001"})),
        ("case", json!({"case_id": "SHARED-C", "technique": "T1059.001"})),
        ("observable", json!({"observable_id": "SHARED-1", "technique": "T1059.001"})),
    ] {
        let (r, _) = req(app, &w.a_analyst, "POST", &format!("{P}/{kind}-mappings"), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push((kind, r.body["id"].as_str().unwrap().to_string()));
    }
    let before = tenant_items(app, &w.tenant_a).await;
    // Tenant B drives every tenant-scoped route against tenant A's data.
    let mut covered = std::collections::HashSet::new();
    for (kind, id) in &ids {
        for route in ROUTES.iter().filter(|r| r.path.starts_with(&format!("{kind}-mappings"))) {
            let path = format!("{P}/{}", route.path.replace("{id}", id));
            let (r, _) = match route.id {
                RouteId::ListMappings(_) => {
                    for q in ["", "?alert_id=SHARED-1", "?case_id=SHARED-C", "?incident_id=SHARED-1", "?observable_id=SHARED-1", "?technique=T1059.001"] {
                        let q = if route.query.iter().any(|p| q.contains(p)) || q.is_empty() { q } else { "" };
                        let (r, _) = req(app, &w.b_analyst, "GET", &format!("{path}{q}"), Value::Null).await;
                        assert_eq!(r.status, 200, "{path}{q}");
                        let items = r.body["items"].as_array().unwrap();
                        assert!(items.iter().all(|m| m["tenant"] == w.tenant_b.as_str()), "{path}{q} leaks {}", r.body);
                        assert!(items.iter().all(|m| !ids.iter().any(|(_, id)| m["id"] == id.as_str())), "{path}{q} leaks {}", r.body);
                    }
                    covered.insert(route.route_key());
                    continue;
                }
                RouteId::CreateMapping(_) => {
                    // B maps the same entity ids: B gets its own mapping, A's is not merged into
                    let body = match *kind {
                        "alert" => json!({"alert_id": "SHARED-1", "case_id": "SHARED-C", "technique": "T1059.001", "confidence_score": 99}),
                        "incident" => json!({"incident_id": "SHARED-1", "technique": "T1059.001", "confidence_score": 99}),
                        "case" => json!({"case_id": "SHARED-C", "technique": "T1059.001", "confidence_score": 99}),
                        _ => json!({"observable_id": "SHARED-1", "technique": "T1059.001", "confidence_score": 99}),
                    };
                    let (r, e) = req(app, &w.b_analyst, "POST", &path, body).await;
                    assert_eq!(r.status, 201, "{path}: B creates its own, {}", r.body);
                    assert_ne!(&r.body["id"], id.as_str());
                    (r, e)
                }
                RouteId::GetMapping(_) => req(app, &w.b_analyst, "GET", &path, Value::Null).await,
                RouteId::UpdateMapping(_) => req_if(app, &w.b_analyst, "PATCH", &path, "\"1\"", json!({"notes": "pwned"})).await,
                RouteId::DeleteMapping(_) => req_if(app, &w.b_analyst, "DELETE", &path, "\"1\"", Value::Null).await,
                RouteId::ConfirmMapping(_) | RouteId::RejectMapping(_) => req_if(app, &w.b_analyst, "POST", &path, "\"1\"", json!({"reason": "pwned"})).await,
                _ => unreachable!(),
            };
            if !matches!(route.id, RouteId::CreateMapping(_)) {
                assert_eq!(r.status, 404, "{} {path}: {}", route.method, r.body);
                // exactly what an id that does not exist gets
                let missing = path.replace(id.as_str(), "01ZZZZZZZZZZZZZZZZZZZZZZZZ");
                let (m, _) = match route.method {
                    "GET" => req(app, &w.b_analyst, "GET", &missing, Value::Null).await,
                    "PATCH" => req_if(app, &w.b_analyst, "PATCH", &missing, "\"1\"", json!({"notes": "pwned"})).await,
                    "POST" => req_if(app, &w.b_analyst, "POST", &missing, "\"1\"", json!({"reason": "pwned"})).await,
                    _ => req_if(app, &w.b_analyst, "DELETE", &missing, "\"1\"", Value::Null).await,
                };
                assert_eq!((m.status, m.body["error"]["code"].clone()), (r.status, r.body["error"]["code"].clone()));
            }
            covered.insert(route.route_key());
        }
    }
    // B's admin reads only B's audit log, and may not ask for A's
    let (r, _) = req(app, &w.b_admin, "GET", &format!("{P}/audit"), Value::Null).await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|e| e["tenant"] == w.tenant_b.as_str()), "{}", r.body);
    let (r, _) = req(app, &w.b_admin, "GET", &format!("{P}/audit?tenant={}", w.tenant_a), Value::Null).await;
    assert_eq!(r.status, 403);
    covered.insert(format!("GET {P}/audit"));
    // B's admin manages only B's principals: it lists none of A's, and A's are missing to it
    let (r, _) = req(app, &w.b_admin, "GET", &format!("{P}/admin/principals"), Value::Null).await;
    assert!(r.status == 200 && r.body["items"].as_array().unwrap().iter().all(|p| p["tenant"] == w.tenant_b.as_str()), "{}", r.body);
    let a_analyst = w.a_analyst.replace(':', "%3A").replace('/', "%2F");
    let (r, _) = req(app, &w.b_admin, "DELETE", &format!("{P}/admin/principals/{a_analyst}"), Value::Null).await;
    assert_eq!(r.status, 404, "A's principal, to B's admin");
    let (r, _) = req(app, &w.b_admin, "PUT", &format!("{P}/admin/principals/{a_analyst}"), json!({"tenant": w.tenant_b, "role": "viewer"})).await;
    assert_eq!(r.status, 404, "taking over A's principal");
    let (r, _) = req(app, &w.b_admin, "PUT", &format!("{P}/admin/principals/x"), json!({"tenant": w.tenant_b, "role": "superuser"})).await;
    assert_eq!(r.status, 404, "not a principal ARN");
    covered.extend([format!("GET {P}/admin/principals"), format!("PUT {P}/admin/principals/{{id}}"), format!("DELETE {P}/admin/principals/{{id}}")]);
    let tenant_routes: std::collections::HashSet<String> = ROUTES
        .iter()
        .filter(|r| r.tag == "mappings" || r.tag == "admin" || matches!(r.id, RouteId::ConfirmMapping(_) | RouteId::RejectMapping(_)))
        .map(|r| r.route_key())
        .collect();
    assert_eq!(covered, tenant_routes, "every tenant-scoped route was driven as the other tenant");
    // A's data is exactly as it was
    assert_eq!(tenant_items(app, &w.tenant_a).await, before);
    for (kind, id) in &ids {
        let (r, _) = req(app, &w.a_analyst, "GET", &format!("{P}/{kind}-mappings/{id}"), Value::Null).await;
        assert_eq!((r.status, r.body["version"].as_u64(), r.body["confidence_score"].as_u64()), (200, Some(1), Some(50)));
    }
    // the superuser sees both tenants' audit entries
    let (r, _) = req(app, SU, "GET", &format!("{P}/audit?limit=500"), Value::Null).await;
    let tenants: std::collections::HashSet<&str> = r.body["items"].as_array().unwrap().iter().filter_map(|e| e["tenant"].as_str()).collect();
    assert!(tenants.contains(w.tenant_a.as_str()) && tenants.contains(w.tenant_b.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_and_writes_nothing() {
    let w = world().await;
    let app = &w.app;
    let (r, _) = req(app, &w.a_analyst, "POST", &format!("{P}/alert-mappings"), json!({"alert_id": "X-1", "technique": "T1059.001"})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("{P}/alert-mappings/{id}");
    let before = tenant_items(app, &w.tenant_a).await;
    let a = w.a_analyst.as_str();
    let big = "x".repeat(300 * 1024);
    let artifacts = "y".repeat(64 * 1024 + 1);
    let post = |b: &str| (a, "POST", format!("{P}/alert-mappings"), None::<&str>, b.to_string());
    // (caller, method, path, If-Match, body, expected status)
    type Case<'a> = (&'a str, &'a str, String, Option<&'a str>, String, u16);
    let mut cases: Vec<Case> = vec![
        (a, "POST", format!("{P}/alert-mappings"), None, "{".into(), 400),
        (a, "POST", format!("{P}/alert-mappings"), None, "".into(), 400),
        (a, "POST", format!("{P}/alert-mappings"), None, "[]".into(), 400),
        (a, "POST", format!("{P}/alert-mappings"), None, "null".into(), 400),
        (a, "POST", format!("{P}/alert-mappings"), None, "\"text\"".into(), 400),
        (a, "POST", format!("{P}/alert-mappings"), None, big.clone(), 413),
    ];
    let bodies: Vec<(Value, u16)> = vec![
        (json!({"alert_id": "X-2", "technique": "T1059.001", "colour": "red"}), 400),
        (json!({"alert_id": 5, "technique": "T1059.001"}), 400),
        (json!({"alert_id": "X-2", "technique": 1059}), 400),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "confidence_score": "high"}), 400),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "confidence_score": 1.5}), 400),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "artifacts": ["a"]}), 400),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "confidence_score": 0}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "confidence_score": 101}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "confidence_score": -3}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "detection_method": "magic"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "detection_detail": "d".repeat(2000)}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "impact_level": "catastrophic"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "mitigation_status": "done"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "first_observed": "yesterday"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "last_observed": "2026-13-01T00:00:00Z"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "first_observed": "2026-02-01T00:00:00Z", "last_observed": "2026-01-01T00:00:00Z"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "artifacts": artifacts}), 422),
        (json!({"alert_id": "X-2", "technique": "T1059.001", "notes": "n".repeat(17 * 1024)}), 422),
        (json!({"alert_id": "X-2"}), 422),
        (json!({"alert_id": "X-2", "technique": "T9999"}), 422),
        (json!({"alert_id": "X-2", "technique": "TA0002"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1193"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1078", "tactic": "impact"}), 422),
        (json!({"alert_id": "X-2", "technique": "T1078"}), 422),
        (json!({"technique": "T1059.001"}), 422),
        (json!({"alert_id": "", "technique": "T1059.001"}), 422),
        (json!({"alert_id": "has space", "technique": "T1059.001"}), 422),
        (json!({"alert_id": "a".repeat(129), "technique": "T1059.001"}), 422),
        (json!({"incident_id": "I-1", "technique": "T1059.001"}), 422),
        (json!({"alert_id": "X-2", "observable_id": "O-1", "technique": "T1059.001"}), 422),
    ];
    for (b, status) in &bodies {
        let (who, m, p, h, body) = post(&b.to_string());
        cases.push((who, m, p, h, body, *status));
    }
    cases.extend([
        (a, "PATCH", path.clone(), None, json!({"notes": "n"}).to_string(), 428),
        (a, "PATCH", path.clone(), Some("\"seven\""), json!({"notes": "n"}).to_string(), 400),
        (a, "PATCH", path.clone(), Some("\"9\""), json!({"notes": "n"}).to_string(), 412),
        (a, "PATCH", path.clone(), Some("\"1\""), json!({"alert_id": "X-9"}).to_string(), 422),
        (a, "PATCH", path.clone(), Some("\"1\""), json!({"confidence_score": 500}).to_string(), 422),
        (a, "PATCH", path.clone(), Some("\"1\""), json!({"technique": "T1193"}).to_string(), 422),
        (a, "PATCH", path.clone(), Some("\"1\""), json!({"surprise": 1}).to_string(), 400),
        (a, "PATCH", path.clone(), Some("\"1\""), "{not json".into(), 400),
        (a, "DELETE", path.clone(), None, "".into(), 428),
        (a, "DELETE", path.clone(), Some("\"2\""), "".into(), 412),
        (a, "DELETE", format!("{P}/alert-mappings/not-a-ulid"), Some("\"1\""), "".into(), 404),
        (a, "GET", format!("{P}/alert-mappings?limit=0"), None, "".into(), 400),
        (a, "GET", format!("{P}/alert-mappings?technique=bogus"), None, "".into(), 400),
        (a, "GET", format!("{P}/alert-mappings?observed_from=soon"), None, "".into(), 400),
        (a, "GET", format!("{P}/alert-mappings?incident_id=I-1"), None, "".into(), 400),
        (a, "GET", format!("{P}/alert-mappings?cursor=abc"), None, "".into(), 400),
        (a, "PUT", format!("{P}/alert-mappings"), None, "{}".into(), 405),
        (&w.a_viewer, "POST", format!("{P}/alert-mappings"), None, json!({"alert_id": "X-3", "technique": "T1059.001"}).to_string(), 403),
        (SU, "POST", format!("{P}/alert-mappings"), None, json!({"alert_id": "X-3", "technique": "T1059.001"}).to_string(), 403),
        (SU, "PUT", format!("{P}/admin/principals/not-an-arn"), None, json!({"tenant": w.tenant_a, "role": "viewer"}).to_string(), 404),
        (
            SU,
            "PUT",
            format!("{P}/admin/principals/arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fz"),
            None,
            json!({"tenant": "Bad Tenant", "role": "viewer"}).to_string(),
            422,
        ),
        (SU, "PUT", format!("{P}/admin/principals/arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fz"), None, json!({"tenant": w.tenant_a, "role": "god"}).to_string(), 422),
        (SU, "PUT", format!("{P}/admin/principals/arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fz"), None, json!({"tenant": w.tenant_a}).to_string(), 400),
    ]);
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (who, method, path, if_match, body, status) in &cases {
        let headers: Vec<(&str, &str)> = if_match.map(|m| vec![("if-match", m)]).unwrap_or_default();
        let (r, _) = call_with(app, method, path, Some(who), &headers, body.as_bytes()).await;
        assert_eq!(r.status, *status, "{method} {path} {}: {}", &body[..body.len().min(120)], r.body);
        let e = &r.body["error"];
        assert!(e["code"].is_string() && e["message"].is_string(), "{method} {path}: {}", r.body);
    }
    assert_eq!(tenant_items(app, &w.tenant_a).await, before, "no item and no audit entry was written");
    let (r, _) = req(app, a, "GET", &path, Value::Null).await;
    assert_eq!(r.body["version"], 1);
}
