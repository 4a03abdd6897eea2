//! The ATT&CK upgrade path: enterprise 16.1, mappings on T1574.002 in two tenants, 17.1
//! revokes it in favour of T1574.001; verify finds them, repair moves them.
use mitre_api::{App, Settings};
use mitre_attack::Domain;
use mitre_store::tenancy::Role;
use mitre_store::{FileSource, SyncOptions, Syncer, keys};
use mitre_tests::{attack_data, call_with, register, spawn_app};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";
const SU: &str = "arn:aws:iam::111111111111:user/root-admin";

async fn call(app: &App, who: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let (a, _) = call_with(app, method, path, Some(who), &[], &bytes).await;
    (a.status, a.body)
}

fn kinds(report: &Value) -> Vec<(String, u64)> {
    report["problems"].as_array().unwrap().iter().map(|p| (p["kind"].as_str().unwrap().to_string(), p["count"].as_u64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_that_revokes_a_technique_keeps_every_mapping() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let sync = |file: &'static str| {
        let s = s.clone();
        async move { Syncer::new(&s).run(&FileSource { path: attack_data(file) }, &SyncOptions::new(e), &|_| {}).await.unwrap() }
    };
    sync("enterprise-attack-16.1.json.gz").await;
    let (t1, t2) = ("tenant-one", "tenant-two");
    let (a1, a2, viewer) = ("arn:aws:iam::222222222222:user/one", "arn:aws:iam::222222222222:user/two", "arn:aws:iam::222222222222:user/viewer");
    register(s, a1, t1, Role::Analyst).await;
    register(s, a2, t2, Role::Admin).await;
    register(s, viewer, t1, Role::Viewer).await;
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    let mut ids = Vec::new();
    for (who, alert) in [(a1, "A-1"), (a2, "A-2")] {
        let (st, m) = call(&api, who, "POST", &format!("{P}/alert-mappings"), json!({"alert_id": alert, "technique": "T1574.002", "tactic": "persistence", "confidence_score": 70})).await;
        assert_eq!(st, 201, "{m}");
        ids.push(m["id"].as_str().unwrap().to_string());
    }

    sync("enterprise-attack-17.1.json.gz").await;
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    // verify finds both mappings; a viewer gets the summary, the superuser the details
    let (st, report) = call(&api, SU, "GET", &format!("{P}/correlations/verify"), Value::Null).await;
    assert_eq!(st, 200, "{report}");
    assert!(kinds(&report).contains(&("mapping_technique_revoked".to_string(), 2)), "{:?}", kinds(&report));
    let revoked = report["problems"].as_array().unwrap().iter().find(|p| p["kind"] == "mapping_technique_revoked").unwrap();
    let found: Vec<&str> = revoked["examples"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert!(ids.iter().all(|id| found.contains(&id.as_str())));
    let (st, summary) = call(&api, viewer, "GET", &format!("{P}/correlations/verify"), Value::Null).await;
    assert_eq!(st, 200);
    assert!(summary["problems"].as_array().unwrap().iter().all(|p| p.get("examples").is_none()));
    // only superusers repair; a dry run lists exactly the two moves
    let (st, _) = call(&api, a2, "POST", &format!("{P}/correlations/repair"), json!({})).await;
    assert_eq!(st, 403);
    let (st, dry) = call(&api, SU, "POST", &format!("{P}/correlations/repair"), Value::Null).await;
    assert_eq!((st, dry["dry_run"].as_bool()), (200, Some(true)), "{dry}");
    let moves: Vec<&Value> = dry["mappings"].as_array().unwrap().iter().filter(|m| m["technique"] == "T1574.002").collect();
    assert_eq!(moves.len(), 2, "{dry}");
    assert!(moves.iter().all(|m| m["action"] == "move" && m["to_technique"] == "T1574.001" && m["to_tactic"] == "persistence"));
    let (_, still) = call(&api, a1, "GET", &format!("{P}/alert-mappings/{}", ids[0]), Value::Null).await;
    assert_eq!(still["technique"], "T1574.002", "a dry run changes nothing");
    // apply: the same changes
    let (st, applied) = call(&api, SU, "POST", &format!("{P}/correlations/repair"), json!({"dry_run": false})).await;
    assert_eq!(st, 200, "{applied}");
    assert_eq!(applied["mappings"], dry["mappings"]);
    assert!(applied["failed"].as_array().unwrap().is_empty(), "{applied}");
    let (_, clean) = call(&api, SU, "GET", &format!("{P}/correlations/verify"), Value::Null).await;
    assert!(kinds(&clean).iter().all(|(k, _)| !k.starts_with("mapping_") && !k.starts_with("tactic_index")), "{:?}", kinds(&clean));
    // the mappings name the replacement, with their history and an audit entry each
    for ((who, tenant_admin), id) in [(a1, None), (a2, Some(a2))].into_iter().zip(&ids) {
        let (st, m) = call(&api, who, "GET", &format!("{P}/alert-mappings/{id}"), Value::Null).await;
        assert_eq!(st, 200);
        assert_eq!((m["technique"].as_str(), m["tactic"].as_str(), m["version"].as_u64()), (Some("T1574.001"), Some("persistence"), Some(2)));
        assert_eq!(m["history"][0]["technique"], "T1574.002");
        assert_eq!(m["history"][0]["replaced_by"], "T1574.001");
        assert!(m["needs_review"].is_null());
        if let Some(admin) = tenant_admin {
            let (_, log) = call(&api, admin, "GET", &format!("{P}/audit?action=mapping.repair"), Value::Null).await;
            assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
            assert_eq!(log["items"][0]["before"]["technique"], "T1574.002");
        }
    }
    let (_, log) = call(&api, SU, "GET", &format!("{P}/audit?action=mapping.repair&limit=500"), Value::Null).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);

    // a lost tactic index item is found and rebuilt
    let t1055 = "attack-pattern--43e7dc91-05b2-474c-b9ac-2ed4fe101f4d";
    s.ddb.delete_item().table_name(&s.table).set_key(Some(mitre_store::ddb::key(keys::object_pk(e, t1055), keys::tactic_sk("defense-evasion")))).send().await.unwrap();
    let report = s.verify().await.unwrap();
    assert!(report.problems.iter().any(|p| p.kind == "tactic_index_missing" && p.count == 1), "{:?}", report.problems);
    let fixed = s.repair(false, "test", "t").await.unwrap();
    assert_eq!((fixed.index_items_added, fixed.index_items_removed), (1, 0));
    assert!(s.verify().await.unwrap().problems.iter().all(|p| !p.kind.starts_with("tactic_index")));

    // status shows the last verification
    let (_, status) = call(&api, viewer, "GET", &format!("{P}/status?detailed=true"), Value::Null).await;
    assert!(status["verify"]["checked_at"].is_string(), "{status}");
    assert_eq!(status["flagged_for_review"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn mappings_of_a_deprecated_technique_are_flagged_not_moved() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let text = mitre_attack::fixtures::small_bundle("2.0");
    let sync = |body: String| {
        let s = s.clone();
        async move {
            let path = mitre_tests::temp_file("enterprise-attack-1.0.json", body.as_bytes());
            Syncer::new(&s).run(&FileSource { path }, &SyncOptions::new(e), &|_| {}).await.unwrap()
        }
    };
    sync(text.clone()).await;
    let analyst = "arn:aws:iam::222222222222:user/analyst";
    register(s, analyst, "tenant-one", Role::Admin).await;
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    let (st, m) = call(&api, analyst, "POST", &format!("{P}/incident-mappings"), json!({"incident_id": "INC-7", "technique": "T1059.001"})).await;
    assert_eq!(st, 201, "{m}");
    let id = m["id"].as_str().unwrap().to_string();

    // the next release deprecates T1059.001
    let deprecated = text.replace("\"x_mitre_future_field\"", "\"x_mitre_deprecated\": true, \"x_mitre_future_field\"");
    assert_ne!(deprecated, text);
    sync(deprecated).await;
    let report = s.verify().await.unwrap();
    assert!(report.problems.iter().any(|p| p.kind == "mapping_technique_deprecated" && p.count == 1), "{:?}", report.problems);
    let dry = s.repair(true, "test", "t").await.unwrap();
    assert_eq!(dry.mappings.len(), 1);
    assert_eq!((dry.mappings[0].action.as_str(), dry.mappings[0].to_technique.as_deref()), ("flag", None));
    let applied = s.repair(false, "test", "t").await.unwrap();
    assert_eq!(applied.mappings.len(), 1);
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    let (_, m) = call(&api, analyst, "GET", &format!("{P}/incident-mappings/{id}"), Value::Null).await;
    assert_eq!(m["technique"], "T1059.001", "flagged, not moved");
    assert!(m["needs_review"].as_str().unwrap().contains("deprecated"), "{m}");
    // a second repair has nothing left to do; status counts the flagged mapping
    assert!(s.repair(false, "test", "t").await.unwrap().mappings.is_empty());
    let (_, status) = call(&api, analyst, "GET", &format!("{P}/status?detailed=true"), Value::Null).await;
    assert_eq!(status["flagged_for_review"], 1, "{status}");
    let (_, log) = call(&api, analyst, "GET", &format!("{P}/audit?action=mapping.flag"), Value::Null).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    // an analyst who re-maps it to an active technique clears the flag
    let (st, m2) = call_with(&api, "PATCH", &format!("{P}/incident-mappings/{id}"), Some(analyst), &[("if-match", &format!("\"{}\"", m["version"]))], json!({"technique": "T1059"}).to_string().as_bytes()).await.0.pipe();
    assert_eq!(st, 200, "{m2}");
    assert!(m2["needs_review"].is_null());
    let (_, status) = call(&api, analyst, "GET", &format!("{P}/status?detailed=true"), Value::Null).await;
    assert_eq!(status["flagged_for_review"], 0);
}

trait Pipe {
    fn pipe(self) -> (u16, Value);
}

impl Pipe for mitre_tests::Answer {
    fn pipe(self) -> (u16, Value) {
        (self.status, self.body)
    }
}
