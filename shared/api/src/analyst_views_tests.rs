//! The analyst-view routes through the router, against in-memory repositories and the small
//! fixture catalog: what each answers, in which format, for whom.
use std::sync::Arc;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, fixtures, parse_bundle};
use mitre_domain::{MemoryRepos, Principal, PrincipalRepo};
use serde_json::{Value, json};

use crate::testing::Call;
use crate::{App, Settings, local, serve};

const P: &str = "/api/v1/mitre";

fn who(name: &str) -> String {
    format!("arn:aws:iam::1:user/{name}")
}

async fn app() -> App {
    let text = fixtures::small_bundle("2.1");
    let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
    let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
    let repos = Arc::new(MemoryRepos::new());
    for (name, tenant, role) in [("a-viewer", "acme", "viewer"), ("a-analyst", "acme", "analyst"), ("b-analyst", "globex", "analyst")] {
        let p = Principal::register(&who(name), tenant, role, &[], "setup", None).unwrap();
        let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", format!("principals/{}", p.principal), None, Some(&p), "setup");
        repos.put_principal(&p, audit).await.unwrap();
    }
    App::in_memory(&[catalog], repos, Settings { metric_lines: false, ..Settings::default() }).unwrap()
}

async fn call(app: &App, who: &str, method: &str, path: &str, body: Value) -> (u16, String, String) {
    let a = Call::new(method, path).by(who).json(&body).send(app).await;
    (a.status, a.content_type, a.text)
}

#[tokio::test]
async fn views_answer_in_their_formats_for_the_callers_tenant_only() {
    let app = app().await;
    let a = &who("a-analyst");
    // a case with its own mapping and an alert mapping that names it (and an injected-looking id)
    for body in [
        json!({"case_id": "C-1", "technique": "T1059.001", "confidence_score": 90, "artifacts": "<script>alert(1)</script> | `x`"}),
        json!({"alert_id": "A-1", "case_id": "C-1", "technique": "T1059", "impact_level": "high"}),
        json!({"alert_id": "A-2", "technique": "T1059"}),
    ] {
        let kind = if body.get("alert_id").is_some() { "alert" } else { "case" };
        let (status, _, text) = call(&app, a, "POST", &format!("{P}/{kind}-mappings"), body).await;
        assert_eq!(status, 201, "{text}");
    }
    let v = &who("a-viewer");
    // the layer of the case covers both mappings that name it
    let (status, ct, text) = call(&app, v, "GET", &format!("{P}/cases/C-1/navigator-layer"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"), "{text}");
    let layer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(layer["versions"]["layer"], "4.5");
    let ids: Vec<&str> = layer["techniques"].as_array().unwrap().iter().map(|t| t["techniqueID"].as_str().unwrap()).collect();
    assert!(ids.contains(&"T1059.001") && ids.contains(&"T1059"), "{ids:?}");
    // matrix: json (default), svg, html; a bad format names the parameter
    let (status, ct, _) = call(&app, v, "GET", &format!("{P}/cases/C-1/matrix"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let (status, ct, svg) = call(&app, v, "GET", &format!("{P}/cases/C-1/matrix?format=svg"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..80.min(svg.len())]);
    let (status, ct, html) = call(&app, v, "GET", &format!("{P}/cases/C-1/matrix?format=html"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(!html.contains("<script>alert(1)") && !svg.contains("<script>alert(1)"), "artifacts are escaped");
    let (status, _, text) = call(&app, v, "GET", &format!("{P}/cases/C-1/matrix?format=pdf"), Value::Null).await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"]["details"]["parameter"], "format");
    // mitigations and the report
    let (status, _, text) = call(&app, v, "GET", &format!("{P}/cases/C-1/mitigations"), Value::Null).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("M1038"), "{text}");
    let (status, ct, md) = call(&app, v, "GET", &format!("{P}/cases/C-1/report"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "text/markdown; charset=utf-8"));
    // artifacts in the table are escaped (the attached layer is a fenced JSON block, which Markdown shows as text)
    assert!(md.contains("T1059.001") && md.contains("&lt;script&gt;alert(1)&lt;/script&gt; \\| \\`x\\`"), "{md}");
    let (status, _, _) = call(&app, v, "GET", &format!("{P}/cases/C-1/report?format=html"), Value::Null).await;
    assert_eq!(status, 200);
    // the heatmap counts distinct entities: T1059 is on two alerts
    let (status, _, text) = call(&app, v, "GET", &format!("{P}/navigator-layer?entity_type=alert"), Value::Null).await;
    assert_eq!(status, 200, "{text}");
    let heat: Value = serde_json::from_str(&text).unwrap();
    let t1059 = heat["techniques"].as_array().unwrap().iter().find(|t| t["techniqueID"] == "T1059").unwrap();
    assert_eq!(t1059["score"], 2);
    let (status, ct, _) = call(&app, v, "GET", &format!("{P}/matrix?format=html"), Value::Null).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    for bad in ["entity_type=tenant", "from=soon", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "tactic=nope"] {
        assert_eq!(call(&app, v, "GET", &format!("{P}/navigator-layer?{bad}"), Value::Null).await.0, 400, "{bad}");
    }
    // another tenant's entity answers 404 like a missing one, on every view
    let b = &who("b-analyst");
    for path in ["cases/C-1/navigator-layer", "cases/C-1/matrix", "cases/C-1/mitigations", "cases/C-1/report", "cases/NOPE/matrix", "alerts/A-1/matrix"] {
        assert_eq!(call(&app, b, "GET", &format!("{P}/{path}"), Value::Null).await.0, 404, "{path}");
    }
    let (status, _, text) = call(&app, b, "GET", &format!("{P}/navigator-layer"), Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["techniques"], json!([]), "globex sees none of acme's");
}

/// A trigger that records what it was asked to start.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<crate::sync_trigger::SyncRequest>>);

#[async_trait::async_trait]
impl crate::sync_trigger::SyncTrigger for Recorded {
    async fn start(&self, request: crate::sync_trigger::SyncRequest) -> Result<(), crate::ApiError> {
        self.0.lock().unwrap().push(request);
        Ok(())
    }
}

#[tokio::test]
async fn a_sync_is_started_by_superusers_with_post_only() {
    let text = fixtures::small_bundle("2.1");
    let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
    let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
    let repos = Arc::new(MemoryRepos::new());
    let p = Principal::register(&who("a-admin"), "acme", "admin", &[], "setup", None).unwrap();
    repos.put_principal(&p, mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", "principals/x".into(), None, Some(&p), "setup")).await.unwrap();
    let su = "arn:aws:iam::1:user/root";
    let settings = Settings { metric_lines: false, superusers: vec![su.into()], ..Settings::default() };
    let plain = App::in_memory(std::slice::from_ref(&catalog), repos.clone(), settings.clone()).unwrap();
    // without a sync function to start: 503
    assert_eq!(call(&plain, su, "POST", &format!("{P}/sync"), json!({"domain": "enterprise-attack"})).await.0, 503);
    let recorded = Arc::new(Recorded::default());
    let app = App::in_memory(&[catalog], repos.clone(), settings).unwrap().with_sync(recorded.clone());
    assert_eq!(call(&app, &who("a-admin"), "POST", &format!("{P}/sync"), json!({"domain": "enterprise-attack"})).await.0, 403);
    assert_eq!(call(&app, su, "GET", &format!("{P}/sync"), Value::Null).await.0, 405, "never a state-changing GET");
    let (status, _, text) = call(&app, su, "POST", &format!("{P}/sync"), json!({"domain": "nowhere"})).await;
    assert_eq!(status, 422, "{text}");
    assert_eq!(
        call(&app, su, "POST", &format!("{P}/sync"), json!({"domain": "ics-attack", "url": "http://evil.example/"})).await.0,
        400,
        "the source is never the request's"
    );
    assert!(recorded.0.lock().unwrap().is_empty(), "nothing started on a refused request");
    let (status, _, text) = call(&app, su, "POST", &format!("{P}/sync"), json!({"domain": "ics-attack", "force": true})).await;
    assert_eq!(status, 202, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let started = recorded.0.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert_eq!(
        (started[0].run_id.as_str(), started[0].domain, started[0].force, started[0].requested_by.as_str()),
        (answer["run_id"].as_str().unwrap(), Domain::IcsAttack, true, su)
    );
    // audited in the system log
    let log = mitre_domain::AuditLog::list_audit(
        repos.as_ref(),
        &mitre_domain::AuditFilter { tenant: Some(mitre_domain::TenantId::system()), ..Default::default() },
        10,
        None,
    )
    .await
    .unwrap();
    assert_eq!((log.items.len(), log.items[0].action.as_str(), log.items[0].target.as_str()), (1, "sync.request", "catalog/ics-attack"));
    let (status, _, text) = call(&app, su, "GET", &format!("{P}/sync/runs?domain=ics-attack"), Value::Null).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(call(&app, &who("a-admin"), "GET", &format!("{P}/sync/runs"), Value::Null).await.0, 403);
}

#[tokio::test]
async fn statistics_count_distinct_entities_of_the_callers_tenant_only() {
    let app = app().await;
    let (a, b) = (&who("a-analyst"), &who("b-analyst"));
    for (caller, kind, body) in [
        (a, "case", json!({"case_id": "C-1", "technique": "T1059.001", "first_observed": "2026-01-10T00:00:00Z", "last_observed": "2026-01-10T00:00:00Z"})),
        (
            a,
            "alert",
            json!({"alert_id": "A-1", "case_id": "C-1", "technique": "T1059.001", "first_observed": "2026-02-10T00:00:00Z", "last_observed": "2026-02-10T00:00:00Z"}),
        ),
        (a, "case", json!({"case_id": "C-2", "technique": "T1059.001", "first_observed": "2026-02-11T00:00:00Z", "last_observed": "2026-02-11T00:00:00Z"})),
        (a, "case", json!({"case_id": "C-2", "technique": "T1059", "first_observed": "2026-02-12T00:00:00Z", "last_observed": "2026-02-12T00:00:00Z"})),
        (b, "case", json!({"case_id": "C-9", "technique": "T1059", "first_observed": "2026-02-12T00:00:00Z", "last_observed": "2026-02-12T00:00:00Z"})),
    ] {
        let (status, _, text) = call(&app, caller, "POST", &format!("{P}/{kind}-mappings"), body).await;
        assert_eq!(status, 201, "{text}");
    }
    let v = &who("a-viewer");
    let app = &app;
    let get = |path: String| async move {
        let (status, _, text) = call(app, v, "GET", &path, Value::Null).await;
        (status, serde_json::from_str::<Value>(&text).unwrap())
    };
    let (status, s) = get(format!("{P}/statistics/techniques")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["items"][0]["technique"], "T1059.001");
    assert_eq!((s["items"][0]["entities"].as_i64(), s["items"][0]["mappings"].as_i64()), (Some(3), Some(3)));
    assert_eq!(s["items"][1]["technique"], "T1059");
    assert_eq!(s["items"][1]["entities"], 1, "globex's C-9 is not counted");
    let (_, s) = get(format!("{P}/statistics/techniques?entity_type=case&top=1")).await;
    assert_eq!((s["items"].as_array().unwrap().len(), s["items"][0]["entities"].as_i64()), (1, Some(2)));
    // February only: C-1 was first seen with T1059.001 in January
    let (_, s) = get(format!("{P}/statistics/techniques?from=2026-02&to=2026-02-28T00:00:00Z&entity_type=case")).await;
    assert_eq!(s["items"][0]["entities"], 1, "{s}");
    let (_, t) = get(format!("{P}/statistics/tactics")).await;
    let execution = t["items"].as_array().unwrap().iter().find(|r| r["shortname"] == "execution").unwrap().clone();
    assert_eq!((execution["entities"].as_i64(), execution["mappings"].as_i64()), (Some(3), Some(4)));
    let (_, k) = get(format!("{P}/statistics/kill-chain")).await;
    assert_eq!(k["kill_chain_name"], "mitre-attack");
    assert_eq!(k["phases_reached"], 1);
    // another tenant sees its own
    let (_, _, text) = call(app, b, "GET", &format!("{P}/statistics/techniques"), Value::Null).await;
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["items"].as_array().unwrap().len(), 1);
    // bad parameters: 400 naming each
    for (q, param) in [
        ("top=0", "top"),
        ("top=x", "top"),
        ("from=2026-13", "from"),
        ("from=2026-03&to=2026-01", "from"),
        ("entity_type=user", "entity_type"),
        ("domain=x", "domain"),
        ("limit=3", "limit"),
    ] {
        let (status, _, text) = call(app, v, "GET", &format!("{P}/statistics/techniques?{q}"), Value::Null).await;
        assert_eq!(status, 400, "{q}: {text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert!(e["error"]["details"]["parameter"] == param || e["error"]["code"] == "unknown_parameter", "{q}: {e}");
    }
    // unregistered callers are refused
    let (status, _, _) = call(app, &who("nobody"), "GET", &format!("{P}/statistics/tactics"), Value::Null).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_405_names_the_allowed_methods_and_an_empty_parameter_is_refused() {
    let app = app().await;
    let served = serve(&app, local::apigw_request("TRACE", &format!("{P}/techniques/T1059"), &[], b"", Some(&who("a-viewer"))).unwrap()).await;
    assert_eq!(served.response.status().as_u16(), 405);
    assert_eq!(served.response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
    for q in ["to=", "cursor=%20", "domain="] {
        let (status, _, text) = call(&app, &who("a-viewer"), "GET", &format!("{P}/navigator-layer?{q}"), Value::Null).await;
        assert_eq!(status, 400, "{q}: {text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(e["error"]["details"]["parameter"], q.split('=').next().unwrap(), "{q}");
    }
}

/// Found by the api_request fuzz target: a NUL in the query made the event conversion panic.
#[test]
fn a_request_no_http_server_passes_on_is_refused_not_a_panic() {
    let nul = "/api/v1/mitre/techniques/T1059.001?domain\0\0\0\0\0=enterprise-attack";
    assert!(local::apigw_request("GET", nul, &[], b"", Some(&who("a-viewer"))).is_err());
    assert!(local::apigw_request("GE T", "/api/v1/mitre/techniques", &[], b"", Some(&who("a-viewer"))).is_err());
    assert!(
        local::apigw_request("GET", "/api/v1/mitre/techniques?q=a%00b", &[], b"", Some(&who("a-viewer"))).is_ok(),
        "an encoded NUL is a value like any other"
    );
}
