//! The mapping rules, roles, tenant isolation and audit entries through the router, against
//! the in-memory repositories and the small fixture catalog: no local stack needed.
use std::sync::Arc;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, fixtures, parse_bundle};
use mitre_domain::{AuditFilter, AuditLog, MemoryRepos, Principal, PrincipalRepo, TenantId};
use serde_json::{Value, json};

use crate::testing::{Answer, Call};
use crate::{App, Settings};

const P: &str = "/api/v1/mitre";
const SU: &str = "arn:aws:iam::1:user/root";

struct World {
    app: App,
    repos: Arc<MemoryRepos>,
}

fn who(name: &str) -> String {
    format!("arn:aws:iam::1:user/{name}")
}

async fn world() -> World {
    let text = fixtures::small_bundle("2.1");
    let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
    let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
    let repos = Arc::new(MemoryRepos::new());
    for (name, tenant, role) in [
        ("a-viewer", "acme", "viewer"),
        ("a-analyst", "acme", "analyst"),
        ("a-admin", "acme", "admin"),
        ("b-analyst", "globex", "analyst"),
        ("b-admin", "globex", "admin"),
        ("a-integration", "acme", "integration"),
    ] {
        let p = Principal::register(&who(name), tenant, role, &[], "setup", None).unwrap();
        let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", format!("principals/{}", p.principal), None, Some(&p), "setup");
        repos.put_principal(&p, audit).await.unwrap();
    }
    let settings = Settings { superusers: vec![SU.into()], metric_lines: false, ..Settings::default() };
    World { app: App::in_memory(&[catalog], repos.clone(), settings).unwrap(), repos }
}

async fn call(app: &App, who: &str, method: &str, path: &str, if_match: Option<&str>, body: Value) -> Answer {
    Call::new(method, path).by(who).if_match(if_match).json(&body).send(app).await
}

async fn audit_actions(repos: &MemoryRepos, tenant: &str) -> Vec<String> {
    let filter = AuditFilter { tenant: Some(TenantId::parse(tenant).unwrap()), ..AuditFilter::default() };
    let page = repos.list_audit(&filter, 500, None).await.unwrap();
    page.items.into_iter().rev().map(|e| e.action).filter(|a| a.starts_with("mapping.")).collect()
}

#[tokio::test]
async fn create_merge_update_delete_with_versions_and_audit() {
    let w = world().await;
    let (app, a) = (&w.app, &who("a-analyst"));
    let body = json!({"alert_id": "A-1", "technique": "T1059.001", "confidence_score": 40, "first_observed": "2026-01-02T00:00:00Z", "last_observed": "2026-01-03T00:00:00Z"});
    let r = call(app, a, "POST", &format!("{P}/alert-mappings"), None, body).await;
    assert_eq!((r.status, r.etag.as_deref()), (201, Some("\"1\"")), "{}", r.body);
    assert_eq!(
        (r.body["tactic"].as_str(), r.body["detection_method"].as_str(), r.body["impact_level"].as_str()),
        (Some("execution"), Some("manual_analysis"), Some("medium"))
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    // the same alert, technique and tactic again merges: union of windows, higher confidence
    let again = json!({"alert_id": "A-1", "technique": "t1059.001", "confidence_score": 70, "first_observed": "2026-01-01T00:00:00Z", "last_observed": "2026-01-02T00:00:00Z"});
    let r = call(app, a, "POST", &format!("{P}/alert-mappings"), None, again).await;
    assert_eq!((r.status, r.body["id"].as_str(), r.body["version"].as_u64()), (200, Some(id.as_str()), Some(2)));
    assert_eq!(
        (r.body["confidence_score"].as_u64(), r.body["first_observed"].as_str(), r.body["last_observed"].as_str()),
        (Some(70), Some("2026-01-01T00:00:00.000Z"), Some("2026-01-03T00:00:00.000Z"))
    );

    let path = format!("{P}/alert-mappings/{id}");
    // no precondition: 428; a stale one: 412 and nothing changes; `*`: any current version
    let r = call(app, a, "PATCH", &path, None, json!({"notes": "x"})).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (428, Some("missing_if_match")));
    let r = call(app, a, "PATCH", &path, Some("\"1\""), json!({"notes": "x"})).await;
    assert_eq!(r.status, 412);
    let r = call(app, a, "PATCH", &path, Some("W/\"2\""), json!({"impact_level": "high"})).await;
    assert_eq!((r.status, r.etag.as_deref(), r.body["impact_level"].as_str()), (200, Some("\"3\""), Some("high")));
    let r = call(app, a, "PATCH", &path, Some("*"), json!({"mitigation_status": "completed"})).await;
    assert_eq!((r.status, r.body["version"].as_u64(), r.body["notes"].as_str()), (200, Some(4), None));
    // entity ids never change; a tactic the technique lacks is refused with the allowed ones
    let r = call(app, a, "PATCH", &path, Some("*"), json!({"alert_id": "A-2"})).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some("alert_id")));
    let r = call(app, a, "PATCH", &path, Some("*"), json!({"tactic": "persistence"})).await;
    assert_eq!((r.status, r.body["error"]["details"]["allowed"].clone()), (422, json!(["execution"])));
    // moving onto another mapping's observation is a conflict
    let other = call(app, a, "POST", &format!("{P}/alert-mappings"), None, json!({"alert_id": "A-1", "technique": "T1059"})).await;
    assert_eq!(other.status, 201);
    let r = call(app, a, "PATCH", &path, Some("*"), json!({"technique": "T1059"})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    // delete: stale refused, current accepted, then gone
    let r = call(app, a, "DELETE", &path, Some("\"3\""), Value::Null).await;
    assert_eq!(r.status, 412);
    let r = call(app, a, "DELETE", &path, Some("\"4\""), Value::Null).await;
    assert_eq!(r.status, 204);
    assert_eq!(call(app, a, "GET", &path, None, Value::Null).await.status, 404);
    // one audit entry per write, none for refused ones
    assert_eq!(
        audit_actions(&w.repos, "acme").await,
        ["mapping.create", "mapping.merge", "mapping.update", "mapping.update", "mapping.create", "mapping.delete"]
    );
}

#[tokio::test]
async fn roles_decide_who_reads_and_who_writes() {
    let w = world().await;
    let app = &w.app;
    let body = json!({"incident_id": "I-1", "technique": "T1059.001"});
    assert_eq!(call(app, &who("a-viewer"), "POST", &format!("{P}/incident-mappings"), None, body.clone()).await.status, 403);
    // a superuser of MITRE_SUPERUSERS belongs to no tenant: no tenant data to write
    assert_eq!(call(app, SU, "POST", &format!("{P}/incident-mappings"), None, body.clone()).await.status, 403);
    assert_eq!(call(app, &who("stranger"), "GET", &format!("{P}/incident-mappings"), None, Value::Null).await.status, 403);
    let r = call(app, &who("a-analyst"), "POST", &format!("{P}/incident-mappings"), None, body).await;
    assert_eq!(r.status, 201);
    let r = call(app, &who("a-viewer"), "GET", &format!("{P}/incident-mappings?incident_id=I-1"), None, Value::Null).await;
    assert_eq!((r.status, r.body["items"].as_array().unwrap().len()), (200, 1));
    // the audit log: admins read their own tenant's, not another's; analysts none; superusers any
    assert_eq!(call(app, &who("a-analyst"), "GET", &format!("{P}/audit"), None, Value::Null).await.status, 403);
    let r = call(app, &who("a-admin"), "GET", &format!("{P}/audit?action=mapping.create"), None, Value::Null).await;
    assert_eq!((r.status, r.body["items"].as_array().unwrap().len()), (200, 1));
    assert_eq!(call(app, &who("a-admin"), "GET", &format!("{P}/audit?tenant=globex"), None, Value::Null).await.status, 403);
    let r = call(app, SU, "GET", &format!("{P}/audit?tenant=acme&action=mapping.create"), None, Value::Null).await;
    assert_eq!((r.status, r.body["items"].as_array().unwrap().len()), (200, 1));
    assert_eq!(call(app, SU, "GET", &format!("{P}/audit?tenant=Not%20A%20Tenant"), None, Value::Null).await.status, 400);
    // tenant admins manage their own tenant's principals below superuser; superusers every one
    let arn = "arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fnewcomer";
    let (a_admin, principal_path) = (who("a-admin"), format!("{P}/admin/principals/{arn}"));
    let admin_put = |body: Value| call(app, &a_admin, "PUT", &principal_path, None, body);
    assert_eq!(admin_put(json!({"tenant": "globex", "role": "viewer"})).await.status, 403, "another tenant");
    assert_eq!(admin_put(json!({"tenant": "acme", "role": "superuser"})).await.status, 403, "above admin");
    assert_eq!(
        call(app, &who("a-analyst"), "PUT", &format!("{P}/admin/principals/{arn}"), None, json!({"tenant": "acme", "role": "viewer"})).await.status,
        403
    );
    let r = admin_put(json!({"tenant": "acme", "role": "analyst", "groups": ["ir", "hr"]})).await;
    assert_eq!((r.status, r.body["groups"].clone()), (201, json!(["hr", "ir"])), "{}", r.body);
    let r = call(app, &who("b-admin"), "GET", &format!("{P}/admin/principals"), None, Value::Null).await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|p| p["tenant"] == "globex"), "{}", r.body);
    assert_eq!(call(app, &who("b-admin"), "DELETE", &format!("{P}/admin/principals/{arn}"), None, Value::Null).await.status, 404, "not globex's");
    let r = call(app, SU, "PUT", &format!("{P}/admin/principals/{arn}"), None, json!({"tenant": "acme", "role": "viewer"})).await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("viewer")));
    let r = call(app, SU, "PUT", &format!("{P}/admin/principals/{arn}"), None, json!({"tenant": "-acme", "role": "viewer"})).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some("tenant")));
    assert_eq!(call(app, &who("newcomer"), "GET", &format!("{P}/incident-mappings"), None, Value::Null).await.status, 200);
    assert_eq!(call(app, SU, "DELETE", &format!("{P}/admin/principals/{arn}"), None, Value::Null).await.status, 204);
    assert_eq!(call(app, &who("newcomer"), "GET", &format!("{P}/incident-mappings"), None, Value::Null).await.status, 403);
}

#[tokio::test]
async fn another_tenants_ids_answer_like_missing_ones() {
    let w = world().await;
    let app = &w.app;
    let r = call(app, &who("a-analyst"), "POST", &format!("{P}/case-mappings"), None, json!({"case_id": "C-1", "technique": "T1059.001"})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("{P}/case-mappings/{id}");
    let b = &who("b-analyst");
    let missing = format!("{P}/case-mappings/01ARZ3NDEKTSV4RRFFQ69G5FAV");
    for (method, p, if_match, body) in [
        ("GET", &path, None, Value::Null),
        ("PATCH", &path, Some("*"), json!({"notes": "mine now"})),
        ("DELETE", &path, Some("*"), Value::Null),
        ("GET", &missing, None, Value::Null),
    ] {
        let r = call(app, b, method, p, if_match, body).await;
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (404, Some("not_found")), "{method} {p}");
    }
    let r = call(app, b, "GET", &format!("{P}/case-mappings?case_id=C-1"), None, Value::Null).await;
    assert_eq!(r.body["items"], json!([]));
    // the same case id in the other tenant is another mapping
    let r = call(app, b, "POST", &format!("{P}/case-mappings"), None, json!({"case_id": "C-1", "technique": "T1059.001"})).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["id"].as_str(), Some(id.as_str()));
    assert_eq!(audit_actions(&w.repos, "acme").await, ["mapping.create"], "globex's calls left acme's log alone");
}

#[tokio::test]
async fn the_catalog_decides_techniques_and_bad_input_writes_nothing() {
    let w = world().await;
    let (app, a) = (&w.app, &who("a-analyst"));
    let post = |body: Value| async move { call(app, a, "POST", &format!("{P}/alert-mappings"), None, body).await };
    // a revoked technique names its replacement; a deprecated one is refused
    let r = post(json!({"alert_id": "A-1", "technique": "T1000"})).await;
    assert_eq!((r.status, r.body["error"]["details"]["revoked_by"].as_str()), (422, Some("T1059")));
    assert_eq!(post(json!({"alert_id": "A-1", "technique": "T1001"})).await.status, 422);
    for (body, status, field) in [
        (json!({"alert_id": "A-1"}), 422, "technique"),
        (json!({"alert_id": "A-1", "technique": "T9999"}), 422, "technique"),
        (json!({"technique": "T1059"}), 422, "alert_id"),
        (json!({"incident_id": "I-1", "technique": "T1059"}), 422, "incident_id"),
        (json!({"alert_id": "A 1", "technique": "T1059"}), 422, "alert_id"),
        (json!({"alert_id": "A-1", "technique": "T1059", "confidence_score": 0}), 422, "confidence_score"),
        (json!({"alert_id": "A-1", "technique": "T1059", "detection_method": "psychic"}), 422, "detection_method"),
        (json!({"alert_id": "A-1", "technique": "T1059", "impact_level": "apocalyptic"}), 422, "impact_level"),
        (json!({"alert_id": "A-1", "technique": "T1059", "mitigation_status": "done"}), 422, "mitigation_status"),
        (
            json!({"alert_id": "A-1", "technique": "T1059", "first_observed": "2026-02-01T00:00:00Z", "last_observed": "2026-01-01T00:00:00Z"}),
            422,
            "first_observed",
        ),
        (json!({"alert_id": "A-1", "technique": "T1059", "last_observed": "tomorrow"}), 422, "last_observed"),
        (json!({"alert_id": "A-1", "technique": "T1059", "artifacts": "x".repeat(64 * 1024 + 1)}), 422, "artifacts"),
    ] {
        let r = post(body.clone()).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (status, Some(field)), "{body}");
    }
    let r = post(json!({"alert_id": "A-1", "technique": "T1059", "surprise": true})).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (400, Some("invalid_body")));
    let r = call(app, a, "GET", &format!("{P}/alert-mappings?cursor=nope"), None, Value::Null).await;
    assert_eq!((r.status, r.body["error"]["details"]["parameter"].as_str()), (400, Some("cursor")));
    assert!(audit_actions(&w.repos, "acme").await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn lists_page_through_every_mapping_once() {
    let w = world().await;
    let (app, a) = (&w.app, &who("a-analyst"));
    let mut made = Vec::new();
    for i in 0..7 {
        let r = call(app, a, "POST", &format!("{P}/observable-mappings"), None, json!({"observable_id": format!("O-{i}"), "technique": "T1059.001"})).await;
        made.push(r.body["id"].as_str().unwrap().to_string());
    }
    made.sort();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = call(app, a, "GET", &format!("{P}/observable-mappings?limit=3{cursor}"), None, Value::Null).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.body["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let r = call(app, a, "GET", &format!("{P}/observable-mappings?tactic=TA0002&technique=T1059.001&observable_id=O-3"), None, Value::Null).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

/// Generated from the route table, so a new route is covered without editing the test: every
/// route refuses a caller whose role is below the route's declared one with 403 before its
/// handler runs (nothing is written), lets the declared role through to the handler, and
/// refuses an unregistered caller unless it declares no role.
#[tokio::test]
async fn every_route_enforces_its_declared_role_before_its_handler() {
    use crate::routes::ROUTES;
    use mitre_domain::Role;
    let w = world().await;
    let caller_of = |role: Role| match role {
        Role::Integration => who("a-integration"),
        Role::Viewer => who("a-viewer"),
        Role::Analyst => who("a-analyst"),
        Role::Admin => who("a-admin"),
        Role::Superuser => SU.to_string(),
    };
    let stranger = who("nobody");
    let audit_before = audit_actions(&w.repos, "acme").await.len();
    let mut checked = 0;
    for r in ROUTES {
        let path = r.full_path().replace("{id}", "X-1").replace("{kind}", "alert");
        let call = |caller: &str| {
            let body = if matches!(r.method, "POST" | "PUT" | "PATCH") { json!({}) } else { Value::Null };
            Call::new(r.method, &path).by(caller).if_match(Some("*")).json(&body)
        };
        let a = call(&stranger).send(&w.app).await;
        match r.need {
            None => assert_ne!(a.status, 403, "{}: any authenticated caller may call it", r.route_key()),
            Some(_) => assert_eq!((a.status, a.body["error"]["code"].as_str()), (403, Some("forbidden")), "{}: an unregistered caller", r.route_key()),
        }
        let Some(need) = r.need else { continue };
        for role in Role::ALL {
            let a = call(&caller_of(role)).send(&w.app).await;
            let refused_for_role = a.body["error"]["message"].as_str().is_some_and(|m| m.starts_with("this needs one of the roles"));
            if need.allows(role) {
                // past the role check (the handler may still refuse, e.g. a superuser without a tenant)
                assert!(!refused_for_role, "{} as {role:?} (needs {need:?}): {}", r.route_key(), a.body);
            } else {
                assert_eq!((a.status, refused_for_role), (403, true), "{} as {role:?}: {}", r.route_key(), a.body);
            }
            checked += 1;
        }
    }
    assert!(checked >= ROUTES.len() * 3, "{checked}");
    // the refused calls wrote nothing (the allowed ones had bodies no handler accepts)
    assert_eq!(audit_actions(&w.repos, "acme").await.len(), audit_before);
}

/// Catalog routes reuse a registry entry read within `principal_ttl`; tenant routes read the
/// registry afresh, so a removed principal loses tenant data at once and the catalog within
/// the TTL.
#[tokio::test]
async fn catalog_routes_reuse_the_registry_entry_and_tenant_routes_read_it_afresh() {
    let w = world().await;
    let viewer = who("a-viewer");
    let techniques = format!("{P}/techniques?limit=1");
    assert_eq!(call(&w.app, &viewer, "GET", &techniques, None, Value::Null).await.status, 200);
    let p = w.repos.principal(&viewer).await.unwrap().unwrap();
    let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.delete", format!("principals/{viewer}"), Some(&p), None, "setup");
    w.repos.delete_principal(&p, audit).await.unwrap();
    assert_eq!(call(&w.app, &viewer, "GET", &techniques, None, Value::Null).await.status, 200, "cached within the TTL");
    assert_eq!(call(&w.app, &viewer, "GET", &format!("{P}/alert-mappings"), None, Value::Null).await.status, 403, "tenant data: read afresh");
    // with no TTL, nothing is reused
    let text = fixtures::small_bundle("2.1");
    let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
    let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
    let settings = Settings { principal_ttl: std::time::Duration::ZERO, metric_lines: false, ..Settings::default() };
    let uncached = App::in_memory(&[catalog], w.repos.clone(), settings).unwrap();
    assert_eq!(call(&uncached, &viewer, "GET", &techniques, None, Value::Null).await.status, 403);
}

/// The access property over every route, against the in-memory repositories.
#[test]
fn no_route_shows_a_principal_what_entity_access_hides() {
    use crate::access_property::{ROOT, run};
    let text = fixtures::small_bundle("2.1");
    let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
    let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
    let settings = Settings { superusers: vec![ROOT.into()], metric_lines: false, ..Settings::default() };
    let app = App::in_memory(&[catalog], Arc::new(MemoryRepos::new()), settings).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let techniques = [("T1059".to_string(), "execution".to_string()), ("T1059.001".to_string(), "execution".to_string())];
    let cases = 64;
    let checked = run(&app, &techniques, cases, |f| rt.block_on(f));
    println!(
        "access property (memory): {cases} cases, {} calls, {} hidden targets answered 404, {} lists walked",
        checked.calls, checked.hidden_answers, checked.lists
    );
    assert!(checked.hidden_answers > 0 && checked.lists > 0, "{checked:?}");
}

/// The review filters of mapping lists: each validated, each applied.
#[tokio::test]
async fn lists_filter_by_review_fields_and_refuse_bad_values() {
    let w = world().await;
    let (app, a) = (&w.app, &who("a-analyst"));
    for (alert, confidence, method) in [("A-1", 20, "edr"), ("A-2", 80, "siem"), ("A-3", 90, "edr")] {
        let body = json!({"alert_id": alert, "technique": "T1059.001", "confidence_score": confidence, "detection_method": method, "impact_level": "high"});
        assert_eq!(call(app, a, "POST", &format!("{P}/alert-mappings"), None, body).await.status, 201);
    }
    let ids = |q: &str| {
        let (path, q) = (format!("{P}/alert-mappings?{q}"), q.to_string());
        async move {
            let r = call(app, &who("a-viewer"), "GET", &path, None, Value::Null).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            r.body["items"].as_array().unwrap().iter().map(|m| m["alert_id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("detection_method=edr").await, ["A-1", "A-3"]);
    assert_eq!(ids("detection_method=edr&confidence_min=50").await, ["A-3"]);
    assert_eq!(ids("confidence_max=80&impact_level=high").await, ["A-1", "A-2"]);
    assert_eq!(ids("auto_suggested=false&needs_review=false&mitigation_status=not_started").await, ["A-1", "A-2", "A-3"]);
    assert!(ids("auto_suggested=true").await.is_empty());
    assert_eq!(ids(&format!("created_by={}", who("a-analyst").replace(':', "%3A").replace('/', "%2F"))).await.len(), 3);
    for (q, param) in [
        ("detection_method=guess", "detection_method"),
        ("impact_level=huge", "impact_level"),
        ("confidence_min=0", "confidence_min"),
        ("confidence_max=101", "confidence_max"),
        ("confidence_min=60&confidence_max=50", "confidence_min"),
        ("needs_review=maybe", "needs_review"),
    ] {
        let r = call(app, &who("a-viewer"), "GET", &format!("{P}/alert-mappings?{q}"), None, Value::Null).await;
        assert_eq!((r.status, r.body["error"]["details"]["parameter"].as_str()), (400, Some(param)), "{q}: {}", r.body);
    }
}

/// The review loop: enrich writes auto-suggested mappings into the queue; confirm records the
/// reviewer and takes it out; reject removes it with its reason; the feedback report counts both.
#[tokio::test]
async fn auto_mappings_are_reviewed_confirmed_or_rejected_and_counted() {
    let w = world().await;
    let (app, a) = (&w.app, &who("a-analyst"));
    let text = json!({"text": "powershell.exe -ExecutionPolicy Bypass -EncodedCommand ZQBjAGgAbwA= T1059.001"});
    for alert in ["A-1", "A-2"] {
        let r = call(app, a, "POST", &format!("{P}/alerts/{alert}/enrich"), None, text.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body["mapped"].as_array().unwrap().is_empty(), "{}", r.body);
    }
    let manual = json!({"alert_id": "A-3", "technique": "T1059.001"});
    assert_eq!(call(app, a, "POST", &format!("{P}/alert-mappings"), None, manual).await.status, 201);
    let queue = call(app, &who("a-viewer"), "GET", &format!("{P}/review-queue"), None, Value::Null).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let items = queue.body["items"].as_array().unwrap().clone();
    assert!(items.len() >= 2 && queue.body["waiting"].as_u64() == Some(items.len() as u64), "{}", queue.body);
    assert!(items.iter().all(|m| m["detection_method"] == "auto_suggested"), "only auto-suggested mappings wait");
    let (first, second) = (&items[0], &items[1]);
    let path = |m: &Value, verb: &str| format!("{P}/alert-mappings/{}/{verb}", m["id"].as_str().unwrap());
    let etag = |m: &Value| format!("\"{}\"", m["version"]);
    // confirm: If-Match required, reviewer recorded, out of the queue
    assert_eq!(call(app, a, "POST", &path(first, "confirm"), None, json!({})).await.status, 428);
    assert_eq!(call(app, &who("a-viewer"), "POST", &path(first, "confirm"), Some(&etag(first)), json!({})).await.status, 403);
    let r = call(app, a, "POST", &path(first, "confirm"), Some(&etag(first)), json!({"confidence_score": 95})).await;
    assert_eq!((r.status, r.body["reviewed_by"].as_str(), r.body["confidence_score"].as_u64()), (200, Some(a.as_str()), Some(95)), "{}", r.body);
    // reject: a reason is required; the mapping goes
    let r = call(app, a, "POST", &path(second, "reject"), Some(&etag(second)), json!({"reason": "  "})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = call(app, a, "POST", &path(second, "reject"), Some(&etag(second)), json!({"reason": "benign admin script"})).await;
    assert_eq!((r.status, r.body["rejection"]["reason"].as_str()), (200, Some("benign admin script")), "{}", r.body);
    assert_eq!(call(app, a, "GET", &format!("{P}/alert-mappings/{}", second["id"].as_str().unwrap()), None, Value::Null).await.status, 404);
    let after = call(app, a, "GET", &format!("{P}/review-queue?order=score"), None, Value::Null).await;
    assert_eq!(after.body["waiting"].as_u64(), Some(items.len() as u64 - 2), "{}", after.body);
    // a manual mapping is not reviewed
    let manual = call(app, a, "GET", &format!("{P}/alert-mappings?alert_id=A-3"), None, Value::Null).await;
    let m = &manual.body["items"][0];
    assert_eq!(call(app, a, "POST", &path(m, "confirm"), Some("*"), json!({})).await.status, 409);
    // the feedback report
    let f = call(app, &who("a-viewer"), "GET", &format!("{P}/review-feedback"), None, Value::Null).await;
    assert_eq!(
        (f.status, f.body["confirmed"].as_u64(), f.body["rejected"].as_u64(), f.body["precision"].as_f64()),
        (200, Some(1), Some(1), Some(0.5)),
        "{}",
        f.body
    );
    assert!(!f.body["evidence_sources"].as_array().unwrap().is_empty(), "{}", f.body);
    assert!(!f.text.contains("A-1") && !f.text.contains("A-2"), "counts only: {}", f.text);
    // audited
    let actions = audit_actions(&w.repos, "acme").await;
    assert!(actions.contains(&"mapping.confirm".to_string()) && actions.contains(&"mapping.reject".to_string()), "{actions:?}");
}
