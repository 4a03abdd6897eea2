//! Technique suggestions and auto-mapping through the router, on enterprise 18.1 synced.
use mitre_api::{App, Settings};
use mitre_store::tenancy::Role;
use mitre_tests::{call_with, register, synced_store};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";

async fn post(app: &App, who: &str, path: &str, body: &Value) -> (u16, Value) {
    let (a, _) = call_with(app, "POST", path, Some(who), &[], body.to_string().as_bytes()).await;
    (a.status, a.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn suggestions_say_why_and_enrich_maps_idempotently() {
    let store = synced_store().await;
    let n = ulid::Ulid::new().to_string().to_lowercase();
    let (tenant, analyst, viewer) =
        (format!("s-{n}"), format!("arn:aws:iam::444444444444:user/analyst-{n}"), format!("arn:aws:iam::444444444444:user/viewer-{n}"));
    register(&store, &analyst, &tenant, Role::Analyst).await;
    register(&store, &viewer, &tenant, Role::Viewer).await;
    let app = App::new(store, Settings::default());
    let alert = json!({
        "text": "EDR: suspicious PowerShell on WS-114, parent winword.exe",
        "observables": [{"type": "command_line", "value": "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBi"}],
        "limit": 5
    });
    let (status, body) = post(&app, &viewer, &format!("{P}/suggestions"), &alert).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 5);
    let top3: Vec<&str> = items.iter().take(3).map(|s| s["technique"].as_str().unwrap()).collect();
    assert!(top3.contains(&"T1059.001"), "{body}");
    for s in items {
        let score = s["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(!s["evidence"].as_array().unwrap().is_empty(), "every suggestion says why: {s}");
    }
    // an explicit revoked ID is followed to its replacement, and said so
    let (_, body) = post(&app, &viewer, &format!("{P}/suggestions"), &json!({"text": "analyst note: looks like T1086 again"})).await;
    assert!(body["items"].as_array().unwrap().iter().any(|s| s["technique"] == "T1059.001"), "{body}");

    // bad input: 4xx in the common shape naming the field, nothing computed
    let big = "a".repeat(64 * 1024 + 1);
    let many: Vec<Value> = (0..101).map(|i| json!({"type": "ip", "value": format!("10.0.0.{}", i % 250)})).collect();
    for (body, status, field) in [
        (json!({"text": ""}), 400, "text"),
        (json!({"text": "x", "observables": [{"type": "horoscope", "value": "leo"}]}), 400, "observables[0].type"),
        (json!({"text": "x", "limit": 0}), 400, "limit"),
        (json!({"text": "x", "limit": 21}), 400, "limit"),
        (json!({"text": "x", "domain": "mobile-attack"}), 422, "domain"),
        (json!({"text": "x", "domain": "pre-attack"}), 422, "domain"),
        (json!({"text": big}), 413, "text"),
        (json!({"text": "x", "observables": many}), 413, "observables"),
    ] {
        let (s, b) = post(&app, &viewer, &format!("{P}/suggestions"), &body).await;
        assert_eq!((s, b["error"]["details"]["field"].as_str()), (status, Some(field)), "{b}");
    }

    // enrich: analysts only; a dry run writes nothing
    let enrich = format!("{P}/alerts/ALRT-{n}/enrich");
    assert_eq!(post(&app, &viewer, &enrich, &alert).await.0, 403);
    let (status, dry) = post(&app, &analyst, &format!("{enrich}?dry_run=true"), &alert).await;
    assert_eq!(status, 200, "{dry}");
    let planned: Vec<&str> = dry["mapped"].as_array().unwrap().iter().map(|m| m["mapping"]["technique"].as_str().unwrap()).collect();
    // the best suggestion only (the text names no ATT&CK ID), and it is one of the alert's
    assert_eq!(planned.len(), 1, "{dry}");
    assert_eq!(planned[0], items[0]["technique"], "{dry}");
    assert!(["T1059.001", "T1564.003", "T1027.010"].contains(&planned[0]), "{dry}");
    let decisions: Vec<&str> = dry["suggestions"].as_array().unwrap().iter().map(|s| s["auto_map"]["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions[0], "map", "{dry}");
    assert!(decisions[1..].iter().all(|d| ["secondary", "below"].contains(d)), "{dry}");
    assert!(dry["mapped"].as_array().unwrap().iter().all(|m| m["status"] == "would_map"));
    let list = |who: String| {
        let app = &app;
        let path = format!("{P}/alert-mappings?alert_id=ALRT-{n}");
        async move { call_with(app, "GET", &path, Some(&who), &[], b"").await.0.body["items"].as_array().unwrap().len() }
    };
    assert_eq!(list(viewer.clone()).await, 0, "the dry run wrote nothing");
    // bad input writes nothing either
    assert_eq!(post(&app, &analyst, &enrich, &json!({"text": "", "observables": []})).await.0, 400);
    assert_eq!(list(viewer.clone()).await, 0);
    // the real run maps what the dry run showed, as auto_suggested with the evidence
    let (status, done) = post(&app, &analyst, &enrich, &alert).await;
    assert_eq!(status, 200, "{done}");
    let mapped = done["mapped"].as_array().unwrap();
    assert_eq!(mapped.len(), planned.len());
    assert!(mapped.iter().all(|m| m["status"] == "created" && m["mapping"]["detection_method"] == "auto_suggested"), "{done}");
    assert!(mapped.iter().all(|m| !m["mapping"]["evidence"].as_array().unwrap().is_empty()));
    assert!(mapped[0]["mapping"]["confidence_score"].as_u64().unwrap() >= 50, "{done}");
    assert_eq!(list(viewer.clone()).await, planned.len());
    // idempotent: the same alert enriched again merges into the same mappings
    let (_, again) = post(&app, &analyst, &enrich, &alert).await;
    assert!(again["mapped"].as_array().unwrap().iter().all(|m| m["status"] == "merged"), "{again}");
    assert_eq!(list(viewer.clone()).await, planned.len());
    // audited as such
    let (a, _) = call_with(&app, "GET", &format!("{P}/audit?action=mapping.enrich"), Some(&analyst), &[], b"").await;
    assert_eq!(a.status, 403, "analysts do not read the audit log");
}

/// On DynamoDB Local: an analyst rejects what enrichment mapped, and the same technique on the
/// same evidence is not auto-mapped again in that tenant; another tenant's enrichment still maps it.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_teaches_its_tenant_alone() {
    let store = synced_store().await;
    let n = ulid::Ulid::new().to_string().to_lowercase();
    let (a, b) = (format!("arn:aws:iam::444444444444:user/fa-{n}"), format!("arn:aws:iam::444444444444:user/fb-{n}"));
    register(&store, &a, &format!("fa-{n}"), Role::Analyst).await;
    register(&store, &b, &format!("fb-{n}"), Role::Analyst).await;
    let app = App::new(store, Settings::default());
    let alert =
        json!({"text": "EDR: T1059.001 PowerShell ran an encoded command", "observables": [{"type": "command_line", "value": "powershell.exe -enc SQBFAFgA"}]});
    let (status, body) = post(&app, &a, &format!("{P}/alerts/FA-1/enrich"), &alert).await;
    assert_eq!(status, 200, "{body}");
    let m = &body["mapped"][0]["mapping"];
    let (id, technique) = (m["id"].as_str().unwrap().to_string(), m["technique"].clone());
    let (r, _) =
        call_with(&app, "POST", &format!("{P}/alert-mappings/{id}/reject"), Some(&a), &[("if-match", "*")], json!({"reason": "benign"}).to_string().as_bytes())
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, body) = post(&app, &a, &format!("{P}/alerts/FA-2/enrich"), &alert).await;
    assert!(body["mapped"].as_array().unwrap().iter().all(|x| x["mapping"]["technique"] != technique), "{body}");
    let s = body["suggestions"].as_array().unwrap().iter().find(|s| s["technique"] == technique).unwrap();
    assert_eq!(s["auto_map"]["decision"], "suppressed", "{s}");
    let (_, body) = post(&app, &b, &format!("{P}/alerts/FB-1/enrich"), &alert).await;
    assert_eq!(body["mapped"][0]["mapping"]["technique"], technique, "{body}");
}
