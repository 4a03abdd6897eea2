//! The ATT&CK upgrade path: enterprise 16.1, mappings on T1574.002 in two tenants, 17.1
//! revokes it in favour of T1574.001; verify finds them, repair moves them.
use mitre_api::{App, Settings};
use mitre_attack::Domain;
use mitre_store::keys;
use mitre_store::tenancy::Role;
use mitre_sync::{FileSource, SyncOptions, Syncer};
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
        let (st, m) = call(
            &api,
            who,
            "POST",
            &format!("{P}/alert-mappings"),
            json!({"alert_id": alert, "technique": "T1574.002", "tactic": "persistence", "confidence_score": 70}),
        )
        .await;
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
    // the statistics followed the moves, in the same transactions: equal to a recount, and
    // the entity counts under the replacement
    for tenant in [t1, t2] {
        use mitre_domain::stats::{Aggregates, Counter, Window};
        use mitre_domain::{MappingFilter, MappingKind, MappingRepo, StatsRepo, TenantId};
        let tenant = TenantId::parse(tenant).unwrap();
        let all = s.all_mappings(&tenant, &MappingKind::ALL, &MappingFilter::default()).await.unwrap();
        let kept = s.statistics(&tenant, e, &Window::all()).await.unwrap();
        assert_eq!(kept, Aggregates::recount(&all, e, &Window::all()), "{tenant}: statistics after the repair");
        assert_eq!(kept.get(&Counter::TechniqueEntities { kind: MappingKind::Alert, technique: "T1574.001".into() }), 1);
        assert_eq!(kept.get(&Counter::TechniqueEntities { kind: MappingKind::Alert, technique: "T1574.002".into() }), 0);
    }
    let (st, stats) = call(&api, viewer, "GET", &format!("{P}/statistics/techniques"), Value::Null).await;
    assert_eq!((st, stats["items"][0]["technique"].as_str()), (200, Some("T1574.001")), "{stats}");

    // a lost tactic index item is found and rebuilt
    let t1055 = "attack-pattern--43e7dc91-05b2-474c-b9ac-2ed4fe101f4d";
    s.ddb
        .delete_item()
        .table_name(&s.table)
        .set_key(Some(mitre_store::ddb::key(keys::object_pk(e, t1055), keys::tactic_sk("defense-evasion"))))
        .send()
        .await
        .unwrap();
    let report = s.verify().await.unwrap();
    assert!(report.problems.iter().any(|p| p.kind == "tactic_index_missing" && p.count == 1), "{:?}", report.problems);
    let fixed = s.repair(false, "test", "t").await.unwrap();
    assert_eq!((fixed.index_items_added, fixed.index_items_removed), (1, 0));
    assert!(s.verify().await.unwrap().problems.iter().all(|p| !p.kind.starts_with("tactic_index")));

    // status shows the last verification
    let (_, status) = call(&api, viewer, "GET", &format!("{P}/status?detailed=true"), Value::Null).await;
    assert!(status["verify"]["checked_at"].is_string(), "{status}");
    assert_eq!(status["flagged_for_review"], 0);

    // Reading the verification serves the stored report: the caller's registry entry and one
    // Query, no archived bundle re-read; a fresh one is a superuser's `refresh=true`.
    let stored = s.last_verify().await.unwrap().unwrap();
    let (a, _) = call_with(&api, "GET", &format!("{P}/correlations/verify"), Some(viewer), &[], b"").await;
    assert_eq!((a.status, a.body["checked_at"].as_str()), (200, Some(stored.checked_at.to_string().as_str())));
    assert!(a.ddb_calls <= 2, "{} DynamoDB calls", a.ddb_calls);
    let (a, _) = call_with(&api, "GET", &format!("{P}/correlations/verify?refresh=true"), Some(viewer), &[], b"").await;
    assert_eq!(a.status, 403);
    let (a, _) = call_with(&api, "GET", &format!("{P}/correlations/verify?refresh=true"), Some(SU), &[], b"").await;
    assert_eq!(a.status, 200);
    assert!(a.ddb_calls > 2, "a fresh verification reads the catalog");
    assert_ne!(a.body["checked_at"].as_str(), Some(stored.checked_at.to_string().as_str()));
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
    let (st, m2) = call_with(
        &api,
        "PATCH",
        &format!("{P}/incident-mappings/{id}"),
        Some(analyst),
        &[("if-match", &format!("\"{}\"", m["version"]))],
        json!({"technique": "T1059"}).to_string().as_bytes(),
    )
    .await
    .0
    .pipe();
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

/// A mapping as this module wrote it before tactic identities were stored: no `tactic_id`, its
/// uniqueness guard and use counter keyed by the tactic's shortname.
async fn legacy_mapping(s: &mitre_store::Store, tenant: &str, case: &str, technique: &str, name: &str, tactic: &str) -> String {
    use mitre_domain::{AuditEntry, Mapping, MappingInput, MappingKind, MappingRepo, Resolved, TenantId};
    let tenant = TenantId::parse(tenant).unwrap();
    let resolved = Resolved {
        technique: mitre_attack::TechniqueId::parse(technique).unwrap(),
        name: name.into(),
        domain: Domain::EnterpriseAttack,
        tactic: tactic.into(),
        tactic_id: String::new(),
    };
    let input = MappingInput {
        case_id: Some(case.into()),
        confidence_score: Some(60),
        detection_method: Some("edr".into()),
        impact_level: Some("high".into()),
        mitigation_status: Some("in_progress".into()),
        ..MappingInput::default()
    };
    let mut m = Mapping::create(MappingKind::Case, &tenant, &input, resolved, "legacy").unwrap();
    m.tactic_id = None;
    let audit = AuditEntry::of(&tenant, "legacy", "mapping.create", m.target(), None, Some(&m), "legacy");
    s.create_mapping(&m, audit).await.unwrap();
    // today's guard and counter keys name the shortname
    assert_eq!(keys::guard_sk(&m.sameness()), format!("U#{case}#-#{technique}#{tactic}"));
    m.id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_v19_tactic_split_moves_mappings_by_tactic_identity() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    let sync = |path: std::path::PathBuf| {
        let s = s.clone();
        async move { Syncer::new(&s).run(&FileSource { path }, &SyncOptions::new(e), &|_| {}).await.unwrap() }
    };
    sync(attack_data("enterprise-attack-18.1.json.gz")).await;
    let (tenant, analyst) = ("tenant-v19", "arn:aws:iam::333333333333:user/analyst");
    register(s, analyst, tenant, Role::Analyst).await;
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    let mut current = Vec::new();
    // T1027 is only in defense-evasion (becomes stealth), T1562.001 moves to defense-impairment,
    // T1055 is in defense-evasion and privilege-escalation.
    for (case, technique, tactic) in [("C-1", "T1027", None), ("C-2", "T1562.001", None), ("C-3", "T1055", Some("defense-evasion"))] {
        let (st, m) = call(&api, analyst, "POST", &format!("{P}/case-mappings"), json!({"case_id": case, "technique": technique, "tactic": tactic})).await;
        assert_eq!(st, 201, "{m}");
        assert_eq!(m["tactic"], "defense-evasion");
        assert_eq!(m["tactic_id"], "x-mitre-tactic--78b23412-0651-46d7-a540-170a1ce8bd5a");
        current.push(m["id"].as_str().unwrap().to_string());
    }
    // and two mappings in the format written before tactic identities were stored
    let old_t1055 = legacy_mapping(s, tenant, "C-4", "T1055", "Process Injection", "defense-evasion").await;
    let old_t1027 = legacy_mapping(s, tenant, "C-5", "T1027", "Obfuscated Files or Information", "defense-evasion").await;
    // they read as they are
    let (st, old) = call(&api, analyst, "GET", &format!("{P}/case-mappings/{old_t1055}"), Value::Null).await;
    assert_eq!((st, old["tactic"].as_str(), old["tactic_id"].is_null()), (200, Some("defense-evasion"), true), "{old}");

    // ATT&CK "19.0": defense-evasion renamed stealth, defense-impairment split off
    let (v19, impairment) = mitre_tests::reshape_like_v19(&std::fs::read(attack_data("enterprise-attack-18.1.json.gz")).unwrap());
    let run = sync(mitre_tests::temp_file("enterprise-attack-19.0.json", &v19)).await;
    assert_eq!(run.version.as_deref(), Some("19.0"));
    let api = App::new(s.clone(), Settings { superusers: vec![SU.into()], ..Settings::default() });
    let (_, tactics) = call(&api, analyst, "GET", &format!("{P}/tactics"), Value::Null).await;
    let names: Vec<&str> = tactics["items"].as_array().unwrap().iter().map(|t| t["shortname"].as_str().unwrap()).collect();
    let at = names.iter().position(|n| *n == "stealth").unwrap();
    assert_eq!(names[at + 1], "defense-impairment", "matrix order from tactic_refs: {names:?}");
    assert!(!names.contains(&"defense-evasion"));

    // Mappings stored with the tactic's identity follow the rename without a write.
    let (_, m) = call(&api, analyst, "GET", &format!("{P}/case-mappings/{}", current[0]), Value::Null).await;
    assert_eq!((m["tactic"].as_str(), m["version"].as_u64()), (Some("stealth"), Some(1)), "{m}");
    let (_, listed) = call(&api, analyst, "GET", &format!("{P}/case-mappings?tactic=stealth"), Value::Null).await;
    let listed: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(listed.contains(&current[0].as_str()) && listed.contains(&current[2].as_str()), "{listed:?}");

    // verify flags what the split broke: T1562.001 (no longer in TA0005) and the two old-format mappings
    let (st, report) = call(&api, SU, "GET", &format!("{P}/correlations/verify"), Value::Null).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(kinds(&report), [("mapping_tactic_mismatch".to_string(), 3)], "{report}");

    // the dry run lists exactly what apply does: three moves, nothing flagged
    let (st, dry) = call(&api, SU, "POST", &format!("{P}/correlations/repair"), json!({"dry_run": true})).await;
    assert_eq!(st, 200, "{dry}");
    let moves = |r: &Value| -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = r["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap().into(),
                    m["action"].as_str().unwrap().into(),
                    m["to_technique"].as_str().unwrap_or("-").into(),
                    m["to_tactic"].as_str().unwrap_or("-").into(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let mut expected = vec![
        (current[1].clone(), "move".to_string(), "T1562.001".to_string(), "defense-impairment".to_string()),
        (old_t1055.clone(), "move".to_string(), "T1055".to_string(), "stealth".to_string()),
        (old_t1027.clone(), "move".to_string(), "T1027".to_string(), "stealth".to_string()),
    ];
    expected.sort();
    assert_eq!(moves(&dry), expected, "{dry}");
    let audit_before = s.audit_entries(tenant).await.unwrap().len();
    let (st, applied) = call(&api, SU, "POST", &format!("{P}/correlations/repair"), json!({"dry_run": false})).await;
    assert_eq!(st, 200, "{applied}");
    assert_eq!(moves(&applied), expected);
    assert_eq!(applied["failed"], json!([]));

    // verify again: nothing left; every mapping names a tactic its technique has
    let (_, report) = call(&api, SU, "GET", &format!("{P}/correlations/verify"), Value::Null).await;
    assert_eq!(report["ok"], true, "{report}");
    let (_, all) = call(&api, analyst, "GET", &format!("{P}/case-mappings?limit=100"), Value::Null).await;
    let all = all["items"].as_array().unwrap();
    assert_eq!(all.len(), 5);
    for m in all {
        let (_, t) = call(&api, analyst, "GET", &format!("{P}/techniques/{}", m["technique"].as_str().unwrap()), Value::Null).await;
        assert!(t["tactics"].as_array().unwrap().contains(&m["tactic"]), "{m} / {t}");
        assert!(m["needs_review"].is_null(), "{m}");
        assert!(m["tactic_id"].is_string(), "{m}");
    }
    let moved = all.iter().find(|m| m["id"] == current[1].as_str()).unwrap();
    assert_eq!((moved["tactic"].as_str(), moved["tactic_id"].as_str()), (Some("defense-impairment"), Some(impairment.as_str())));
    let history = moved["history"].as_array().unwrap();
    assert_eq!((history.len(), history[0]["tactic"].as_str()), (1, Some("defense-evasion")));
    let followed = all.iter().find(|m| m["id"] == old_t1055.as_str()).unwrap();
    assert_eq!(followed["tactic_id"], "x-mitre-tactic--78b23412-0651-46d7-a540-170a1ce8bd5a");
    // one audit entry per moved mapping (the repair's own entry goes to the system log)
    let entries = s.audit_entries(tenant).await.unwrap();
    assert_eq!(entries.len() - audit_before, 3);
    assert!(entries[audit_before..].iter().all(|e| e.action == "mapping.repair"));
    // the moved mappings' keys follow: a repeat of the same observation merges
    let (st, merged) = call(&api, analyst, "POST", &format!("{P}/case-mappings"), json!({"case_id": "C-4", "technique": "T1055", "tactic": "stealth"})).await;
    assert_eq!((st, merged["id"].as_str()), (200, Some(old_t1055.as_str())), "{merged}");
    // nothing is left for the migration
    let m = s.migrate(true, "test", "test").await.unwrap();
    assert_eq!((m.checked, m.migrated), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_gives_old_mappings_their_tactic_identity_once() {
    let app = spawn_app().await;
    let s = &app.store;
    let e = Domain::EnterpriseAttack;
    Syncer::new(s).run(&FileSource { path: attack_data("enterprise-attack-18.1.json.gz") }, &SyncOptions::new(e), &|_| {}).await.unwrap();
    let (tenant, analyst) = ("tenant-old", "arn:aws:iam::444444444444:user/analyst");
    register(s, analyst, tenant, Role::Analyst).await;
    let a = legacy_mapping(s, tenant, "C-1", "T1055", "Process Injection", "privilege-escalation").await;
    let b = legacy_mapping(s, tenant, "C-2", "T1059.001", "PowerShell", "execution").await;
    let unknown = legacy_mapping(s, tenant, "C-3", "T1027", "Obfuscated Files or Information", "no-such-tactic").await;

    let dry = s.migrate(true, "test", "test").await.unwrap();
    assert_eq!((dry.checked, dry.migrated, dry.unresolved.len()), (3, 2, 1));
    let applied = s.migrate(false, "test", "test").await.unwrap();
    assert_eq!((applied.checked, applied.migrated, applied.unresolved.len(), applied.failed.len()), (3, 2, 1, 0));
    assert_eq!(applied.unresolved[0]["id"], unknown.as_str());
    let api = App::new(s.clone(), Settings::default());
    for id in [&a, &b] {
        let (st, m) = call(&api, analyst, "GET", &format!("{P}/case-mappings/{id}"), Value::Null).await;
        assert_eq!(st, 200);
        assert!(m["tactic_id"].as_str().unwrap().starts_with("x-mitre-tactic--"), "{m}");
        assert_eq!(m["version"], 2);
    }
    // idempotent: the second run finds only the unresolvable one
    let again = s.migrate(false, "test", "test").await.unwrap();
    assert_eq!((again.checked, again.migrated), (1, 0));
    // the guard moved with it: the same observation merges into the migrated mapping
    let (st, merged) = call(&api, analyst, "POST", &format!("{P}/case-mappings"), json!({"case_id": "C-2", "technique": "T1059.001"})).await;
    assert_eq!((st, merged["id"].as_str()), (200, Some(b.as_str())), "{merged}");
    let migrations = s.audit_entries(tenant).await.unwrap().into_iter().filter(|e| e.action == "mapping.migrate").count();
    assert_eq!(migrations, 2);
    // verify counts the migrated mappings under their identity and flags the unresolved one
    let report = s.verify().await.unwrap();
    assert_eq!(report.problems.iter().map(|p| (p.kind.as_str(), p.count)).collect::<Vec<_>>(), [("mapping_tactic_mismatch", 1)]);
}

/// A case view reads the case's case mappings and the alert mappings that name it in one Query
/// of their shared entity partition; mappings stored with the former per-kind partitions are
/// re-keyed by the migration, and found again.
#[tokio::test(flavor = "multi_thread")]
async fn case_views_read_every_kind_in_one_query_and_migrate_rekeys_older_mappings() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    let s = &app.store;
    Syncer::new(s)
        .run(&FileSource { path: attack_data("enterprise-attack-18.1.json.gz") }, &SyncOptions::new(Domain::EnterpriseAttack), &|_| {})
        .await
        .unwrap();
    let (tenant, analyst) = ("tenant-keys", "arn:aws:iam::555555555555:user/analyst");
    register(s, analyst, tenant, Role::Analyst).await;
    let api = App::new(s.clone(), Settings::default());
    let mut created = Vec::new();
    for (path, body) in [
        ("case-mappings", json!({"case_id": "C-9", "technique": "T1059.001"})),
        ("alert-mappings", json!({"alert_id": "A-9", "case_id": "C-9", "technique": "T1055", "tactic": "privilege-escalation"})),
        ("alert-mappings", json!({"alert_id": "A-10", "technique": "T1027"})),
        ("incident-mappings", json!({"incident_id": "C-9", "technique": "T1003"})),
    ] {
        let (st, m) = call(&api, analyst, "POST", &format!("{P}/{path}"), body).await;
        assert_eq!(st, 201, "{m}");
        created.push((path, m["id"].as_str().unwrap().to_string()));
    }
    let layer_techniques = |body: &Value| -> Vec<String> {
        let mut t: Vec<String> = body["techniques"].as_array().unwrap().iter().map(|t| t["techniqueID"].as_str().unwrap().to_string()).collect();
        t.sort();
        t.dedup();
        t
    };
    let view = format!("{P}/cases/C-9/navigator-layer");
    let warm = mitre_tests::call(&api, "GET", &view, Some(analyst), b"").await;
    assert_eq!(warm.status, 200, "{}", warm.body);
    let r = mitre_tests::call(&api, "GET", &view, Some(analyst), b"").await;
    // (the parent of a sub-technique is listed to show it expanded)
    assert_eq!(layer_techniques(&r.body), ["T1055", "T1059", "T1059.001"], "{}", r.body);
    assert_eq!(r.ddb_calls, 2, "the registry entry and one Query");
    // one kind's list by entity still lists that kind only
    let (_, listed) = call(&api, analyst, "GET", &format!("{P}/alert-mappings?case_id=C-9"), Value::Null).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = call(&api, analyst, "GET", &format!("{P}/case-mappings?alert_id=A-9"), Value::Null).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

    // the case and alert mappings as stored before: per-kind partitions, the id as sort key
    let nothing_left = s.migrate(true, "test", "test").await.unwrap();
    assert_eq!(nothing_left.reindexed, 0);
    let legacy = [
        ("case", &created[0].1, [("gsi1", "case_id", "C-9")].as_slice()),
        ("alert", &created[1].1, [("gsi1", "alert_id", "A-9"), ("gsi2", "case_id", "C-9")].as_slice()),
    ];
    for (kind, id, slots) in legacy {
        let mut req = s
            .ddb
            .update_item()
            .table_name(&s.table)
            .key("pk", AttributeValue::S(format!("T#{tenant}#M#{kind}")))
            .key("sk", AttributeValue::S(format!("M#{id}")));
        let mut sets = Vec::new();
        for (index, field, value) in slots {
            sets.push(format!("{index}pk = :{index}pk, {index}sk = :{index}sk"));
            req = req
                .expression_attribute_values(format!(":{index}pk"), AttributeValue::S(format!("T#{tenant}#M#{kind}#{field}#{value}")))
                .expression_attribute_values(format!(":{index}sk"), AttributeValue::S(id.to_string()));
        }
        req.update_expression(format!("SET {}", sets.join(", "))).send().await.unwrap();
    }
    let (st, body) = call(&api, analyst, "GET", &view, Value::Null).await;
    assert_eq!((st, body["error"]["code"].as_str()), (404, Some("not_found")), "older keys are not found until migrated: {body}");

    let dry = s.migrate(true, "test", "test").await.unwrap();
    assert_eq!((dry.reindexed, dry.failed.len()), (2, 0));
    // migrate tells the operator which legacy paths the deployment still needs
    let remaining = |paths: Vec<mitre_store::legacy::LegacyPath>| paths.into_iter().find(|p| p.name == "per-kind entity index keys").unwrap().remaining;
    assert_eq!(remaining(mitre_store::legacy::still_needed(s, &dry).await.unwrap()), 2);
    let audit_before = s.audit_entries(tenant).await.unwrap().len();
    let applied = s.migrate(false, "test", "test").await.unwrap();
    assert_eq!((applied.reindexed, applied.failed.len(), applied.migrated, applied.counted), (2, 0, 0, 0));
    assert_eq!(remaining(mitre_store::legacy::still_needed(s, &applied).await.unwrap()), 0, "no longer needed after the applied run");
    let r = mitre_tests::call(&api, "GET", &view, Some(analyst), b"").await;
    assert_eq!((r.status, layer_techniques(&r.body)), (200, vec!["T1055".to_string(), "T1059".to_string(), "T1059.001".to_string()]), "{}", r.body);
    let (_, listed) = call(&api, analyst, "GET", &format!("{P}/alert-mappings?alert_id=A-9"), Value::Null).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    // re-keying is not a change of the mapping: same version, no audit entry; idempotent
    let (_, m) = call(&api, analyst, "GET", &format!("{P}/alert-mappings/{}", created[1].1), Value::Null).await;
    assert_eq!(m["version"], 1, "{m}");
    assert_eq!(s.audit_entries(tenant).await.unwrap().len(), audit_before);
    assert_eq!(s.migrate(false, "test", "test").await.unwrap().reindexed, 0);
}
