//! The catalog API through the router, against the local stack with enterprise 18.1 and
//! ICS 18.1 synced.
use std::collections::HashSet;

use mitre_api::routes::ROUTES;
use mitre_api::{App, Settings};
use mitre_tests::{ALICE, call, get, synced_store};
use serde_json::Value;

const P: &str = "/api/v1/mitre";

async fn app() -> App {
    App::new(synced_store().await, Settings::default())
}

fn ids(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["attack_id"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn tactics_in_matrix_order_and_domains_never_mix() {
    let app = app().await;
    let r = get(&app, &format!("{P}/tactics")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|t| t["shortname"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "reconnaissance",
            "resource-development",
            "initial-access",
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "credential-access",
            "discovery",
            "lateral-movement",
            "collection",
            "command-and-control",
            "exfiltration",
            "impact"
        ]
    );
    let cred = r.body["items"].as_array().unwrap().iter().find(|t| t["shortname"] == "credential-access").unwrap();
    assert_eq!(cred["technique_count"], 67);
    assert_eq!(cred["attack_id"], "TA0006");
    // by TA id or shortname, with its techniques
    let t = get(&app, &format!("{P}/tactics/credential-access/")).await;
    assert_eq!((t.status, t.body["attack_id"].as_str()), (200, Some("TA0006")));
    assert_eq!(t.body["techniques"].as_array().unwrap().len(), 67);
    assert_eq!(get(&app, &format!("{P}/tactics/TA0006")).await.body["shortname"], "credential-access");

    let ics = get(&app, &format!("{P}/tactics?domain=ics-attack")).await;
    let ics_names: Vec<&str> = ics.body["items"].as_array().unwrap().iter().map(|t| t["shortname"].as_str().unwrap()).collect();
    assert!(ics_names.contains(&"inhibit-response-function"));
    assert!(!ics_names.contains(&"credential-access"), "{ics_names:?}");
    assert!(ics.body["items"].as_array().unwrap().iter().all(|t| t["domain"] == "ics-attack"));
    assert!(!names.contains(&"inhibit-response-function"));
    let ics_tech = get(&app, &format!("{P}/techniques?domain=ics-attack&limit=500")).await;
    assert!(ids(&ics_tech.body).iter().all(|i| i.starts_with("T08")), "ICS techniques only");
    assert!(ids(&get(&app, &format!("{P}/techniques?limit=500")).await.body).iter().all(|i| !i.starts_with("T08")));
    // an ICS technique is found without naming the domain
    let t0800 = get(&app, &format!("{P}/techniques/T0800")).await;
    assert_eq!((t0800.status, t0800.body["domain"].as_str()), (200, Some("ics-attack")));

    let phases = get(&app, &format!("{P}/kill-chain-phases")).await;
    let items = phases.body["items"].as_array().unwrap();
    let ent: Vec<_> = items.iter().filter(|p| p["domain"] == "enterprise-attack").collect();
    assert_eq!(ent.len(), 14);
    assert_eq!(ent[7]["phase_name"], "credential-access");
    assert_eq!(ent[7]["technique_count"], 67);
    assert!(ent.iter().all(|p| p["kill_chain_name"] == "mitre-attack"));
    assert!(items.iter().filter(|p| p["domain"] == "ics-attack").all(|p| p["kill_chain_name"] == "mitre-ics-attack"));
}

#[tokio::test(flavor = "multi_thread")]
async fn techniques_filter_paginate_and_detail() {
    let app = app().await;
    // Pagination walks every item exactly once, in a stable order.
    let mut seen = Vec::new();
    let mut url = format!("{P}/techniques?tactic=credential-access&limit=10");
    loop {
        let r = get(&app, &url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for t in r.body["items"].as_array().unwrap() {
            assert!(t["tactics"].as_array().unwrap().iter().any(|x| x == "credential-access"));
            assert_eq!((t["revoked"].as_bool(), t["deprecated"].as_bool()), (Some(false), Some(false)));
            seen.push(t["attack_id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => url = format!("{P}/techniques?tactic=credential-access&limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 67);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 67);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    let all = get(&app, &format!("{P}/techniques?limit=500&include_subtechniques=false")).await;
    assert!(all.body["items"].as_array().unwrap().iter().all(|t| t["is_subtechnique"] == false));
    let with_revoked = get(&app, &format!("{P}/techniques?limit=500&include_revoked=true&include_deprecated=true")).await;
    let count = with_revoked.body["items"].as_array().unwrap().len() + if with_revoked.body["next_cursor"].is_null() { 0 } else { 500 };
    assert!(count > 691, "revoked and deprecated included");
    let win = get(&app, &format!("{P}/techniques?platform=macos&kill_chain_phase=execution&limit=500")).await;
    assert!(win.body["items"].as_array().unwrap().iter().all(|t| t["platforms"].as_array().unwrap().iter().any(|p| p == "macOS")));

    let d = get(&app, &format!("{P}/techniques/t1059.001")).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.body["parent"], "T1059");
    assert_eq!(d.body["tactics"], serde_json::json!(["execution"]));
    assert_eq!(d.body["is_subtechnique"], true);
    assert!(d.body["mitigations"].as_array().unwrap().iter().any(|m| m["attack_id"] == "M1038"));
    assert!(d.body["groups"].as_array().unwrap().iter().any(|g| g["attack_id"] == "G0007"));
    assert!(!d.body["software"].as_array().unwrap().is_empty());
    assert!(!d.body["campaigns"].as_array().unwrap().is_empty());
    assert!(!d.body["detection_strategies"].as_array().unwrap().is_empty());
    assert!(d.body["revoked_by"].is_null());
    let by_stix = get(&app, &format!("{P}/techniques/{}", d.body["stix_id"].as_str().unwrap())).await;
    assert_eq!(by_stix.body["attack_id"], "T1059.001");
    let parent = get(&app, &format!("{P}/techniques/T1059")).await;
    assert!(parent.body["subtechniques"].as_array().unwrap().iter().any(|s| s["attack_id"] == "T1059.001"));
    // a revoked technique names its replacement
    let old = get(&app, &format!("{P}/techniques/T1193")).await;
    assert_eq!((old.status, old.body["revoked"].as_bool()), (200, Some(true)));
    assert_eq!(old.body["revoked_by"]["attack_id"], "T1566.001");

    let m = get(&app, &format!("{P}/mitigations/M1038")).await;
    assert!(m.body["techniques"].as_array().unwrap().iter().any(|t| t["attack_id"] == "T1059.001"));
    let g = get(&app, &format!("{P}/groups/G0007")).await;
    assert_eq!(g.body["name"], "APT28");
    assert!(g.body["aliases"].as_array().unwrap().iter().any(|a| a == "Fancy Bear"));
    assert!(g.body["techniques"].as_array().unwrap().len() > 50);
    let s = get(&app, &format!("{P}/software/S0002")).await;
    assert_eq!(s.body["name"], "Mimikatz");
    assert!(s.body["groups"].as_array().unwrap().len() > 10);
    let rels = get(&app, &format!("{P}/relationships?source=G0007&type=uses&limit=500")).await;
    let apt28 = g.body["stix_id"].as_str().unwrap();
    assert!(rels.body["items"].as_array().unwrap().iter().all(|r| r["source_ref"] == apt28 && r["relationship_type"] == "uses"));
    assert!(rels.body["items"].as_array().unwrap().len() >= 100);
    let groups = get(&app, &format!("{P}/groups?q=fancy%20bear")).await;
    assert_eq!(ids(&groups.body)[0], "G0007");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_ranks_what_analysts_look_for() {
    let app = app().await;
    let first = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move { ids(&get(app, &format!("{P}/techniques?q={q}&limit=5")).await.body) }
    };
    assert_eq!(first("powershell").await[0], "T1059.001");
    assert!(first("credential%20dumping").await[..3].contains(&"T1003".to_string()));
    assert_eq!(first("T1566").await[0], "T1566");
    assert_eq!(first("spearphishing+attachment").await[0], "T1566.001");
    assert!(first("zzzzqqqq").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_their_4xx_in_the_common_shape() {
    let app = app().await;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("GET", format!("{P}/techniques?colour=red"), 400, "colour"),
        ("GET", format!("{P}/techniques?limit=0"), 400, "limit"),
        ("GET", format!("{P}/techniques?limit=501"), 400, "limit"),
        ("GET", format!("{P}/techniques?limit=ten"), 400, "limit"),
        ("GET", format!("{P}/techniques?limit=5&limit=6"), 400, "limit"),
        ("GET", format!("{P}/techniques?include_revoked=maybe"), 400, "include_revoked"),
        ("GET", format!("{P}/techniques?include_subtechniques=2"), 400, "include_subtechniques"),
        ("GET", format!("{P}/techniques?domain=pre-attack"), 400, "domain"),
        ("GET", format!("{P}/techniques?tactic=nope"), 400, "tactic"),
        ("GET", format!("{P}/techniques?kill_chain_phase=nope"), 400, "kill_chain_phase"),
        ("GET", format!("{P}/techniques?cursor=garbage"), 400, "cursor"),
        ("GET", format!("{P}/techniques?q=..."), 400, "q"),
        ("GET", format!("{P}/relationships?type=befriends"), 400, "type"),
        ("GET", format!("{P}/relationships?source=G9999"), 400, "source"),
        ("GET", format!("{P}/status?detailed=sometimes"), 400, "detailed"),
        ("GET", format!("{P}/tactics?q=x"), 400, "q"),
        ("GET", format!("{P}/techniques/T9999"), 404, "T9999"),
        ("GET", format!("{P}/techniques/not-an-id"), 404, "not-an-id"),
        ("GET", format!("{P}/groups/G9999"), 404, "G9999"),
        ("GET", format!("{P}/software/S9999"), 404, "S9999"),
        ("GET", format!("{P}/mitigations/M9999"), 404, "M9999"),
        ("GET", format!("{P}/tactics/nope"), 404, "nope"),
        ("GET", format!("{P}/nothing-here"), 404, "nothing-here"),
        ("GET", "/api/v2/other".to_string(), 404, "other"),
        ("POST", format!("{P}/techniques"), 405, "GET"),
        ("DELETE", format!("{P}/techniques/T1059"), 405, "GET"),
        ("GET", format!("{P}/techniques?domain=mobile-attack"), 503, "mobile-attack"),
    ];
    for (method, path, status, mention) in cases {
        let r = call(&app, method, &path, Some(ALICE), b"").await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        let e = &r.body["error"];
        assert!(e["code"].is_string() && e["message"].is_string() && e.get("details").is_some(), "{path}: {}", r.body);
        assert!(r.body.to_string().contains(mention), "{path} should mention {mention}: {}", r.body);
    }
    // a cursor of one list is refused by another
    let page = get(&app, &format!("{P}/techniques?limit=2")).await;
    let c = page.body["next_cursor"].as_str().unwrap();
    let r = get(&app, &format!("{P}/techniques?limit=2&tactic=execution&cursor={c}")).await;
    assert_eq!(r.status, 400);
    // no identity, an unregistered identity, too large a body
    let r = call(&app, "GET", &format!("{P}/techniques"), None, b"").await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (401, Some("unauthenticated")));
    let r = call(&app, "GET", &format!("{P}/techniques"), Some("arn:aws:iam::999999999999:user/mallory"), b"").await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (403, Some("forbidden")));
    let big = vec![b'x'; 300 * 1024];
    let r = call(&app, "GET", &format!("{P}/techniques"), Some(ALICE), &big).await;
    assert_eq!(r.status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_reads_cost_at_most_two_dynamodb_calls() {
    let app = app().await;
    let routes = [
        format!("{P}/tactics"),
        format!("{P}/tactics/TA0002"),
        format!("{P}/techniques?q=powershell"),
        format!("{P}/techniques/T1059.001"),
        format!("{P}/mitigations"),
        format!("{P}/mitigations/M1038"),
        format!("{P}/relationships?target=T1059.001"),
        format!("{P}/groups"),
        format!("{P}/groups/G0007"),
        format!("{P}/software"),
        format!("{P}/software/S0002"),
        format!("{P}/kill-chain-phases"),
        format!("{P}/status"),
        format!("{P}/openapi.json"),
    ];
    assert_eq!(routes.len(), ROUTES.iter().filter(|r| r.tag == "catalog" || r.tag == "status").count());
    for (i, path) in routes.iter().enumerate() {
        let r = get(&app, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.ddb_calls <= 2, "{path} made {} DynamoDB calls", r.ddb_calls);
        if i > 0 && !path.ends_with("/status") {
            assert_eq!(r.ddb_calls, 0, "{path}: a warm container reads the catalog from memory");
        }
    }
    let status = get(&app, &format!("{P}/status?detailed=true")).await;
    assert_eq!(status.body["domains"]["enterprise-attack"]["version"], "18.1");
    assert_eq!(status.body["domains"]["enterprise-attack"]["counts"]["attack-pattern"], 835);
    assert_eq!(status.body["domains"]["ics-attack"]["version"], "18.1");
    assert!(status.body["domains"]["enterprise-attack"]["tactics"].is_array());
    let doc = get(&app, &format!("{P}/openapi.json")).await;
    assert_eq!(doc.body["openapi"], "3.1.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_errors_show_no_detail() {
    let app = mitre_tests::spawn_app().await;
    // A domain state naming a snapshot that is not in the bucket.
    let item = serde_json::json!({"pk": "CATALOG", "sk": "DOMAIN#enterprise-attack", "domain": "enterprise-attack", "snapshot_key": "snapshots/secret-path.json.gz", "dirty": false, "item_schema": 1, "snapshot_schema": 1});
    let item: mitre_store::ddb::Item = serde_dynamo::to_item(item).unwrap();
    app.store.ddb.put_item().table_name(&app.store.table).set_item(Some(item)).send().await.unwrap();
    let api = App::new(app.store.clone(), Settings { superusers: vec![ALICE.into()], ..Settings::default() });
    let r = get(&api, &format!("{P}/tactics")).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body, serde_json::json!({"error": {"code": "internal", "message": "internal error", "details": null}}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_serves_only_its_own_route() {
    let settings = Settings { only_route: Some(format!("GET {P}/techniques/{{id}}")), ..Settings::default() };
    let app = App::new(synced_store().await, settings);
    assert_eq!(get(&app, &format!("{P}/techniques/T1059")).await.status, 200);
    assert_eq!(get(&app, &format!("{P}/techniques")).await.status, 404);
}
