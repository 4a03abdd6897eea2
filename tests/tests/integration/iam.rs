//! DynamoDB Local and the S3 emulator enforce no IAM, so a missing grant shows only once
//! deployed. Here every route is served through a store that records each request it makes,
//! and every request must be one that the IAM statements of the route's access class (the
//! statements template.yaml gives the route's function) allow.
use std::collections::BTreeSet;

use mitre_api::access::{Access, Target};
use mitre_api::routes::{ROUTES, match_route};
use mitre_api::{App, Settings};
use mitre_attack::Domain;
use mitre_store::Store;
use mitre_store::keys::{mapping_pk, mapping_sk};
use mitre_store::tenancy::{MappingKind, Role};
use mitre_sync::{FileSource, SyncOptions, Syncer};
use mitre_tests::{Recorded, Recording, attack_data, call_with, recording_store, register, spawn_app};
use serde_json::{Value, json};

const P: &str = "/api/v1/mitre";
const SU: &str = "arn:aws:iam::111111111111:user/root-admin";
const ANALYST: &str = "arn:aws:iam::222222222222:user/analyst";
const ADMIN: &str = "arn:aws:iam::222222222222:user/admin";
const TENANT: &str = "tenant-one";

struct Harness {
    store: Store,
    log: Recording,
    /// (route key, request) of every request served so far.
    seen: Vec<(String, Recorded)>,
}

impl Harness {
    /// Serves one request on a fresh App (a cold container: registry, domain states and
    /// snapshots are read again) and checks each request the handler made.
    async fn call(&mut self, who: &str, method: &str, path: &str, if_match: Option<&str>, body: Value) -> (u16, Value, Option<String>) {
        self.log.lock().unwrap().clear();
        let app = App::new(self.store.clone(), Settings { superusers: vec![SU.into()], metric_lines: false, ..Settings::default() });
        let headers: Vec<(&str, &str)> = if_match.map(|e| ("if-match", e)).into_iter().collect();
        let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let (answer, etag) = call_with(&app, method, path, Some(who), &headers, &bytes).await;
        let route = match_route(method, path.split('?').next().unwrap()).unwrap().spec;
        for r in self.log.lock().unwrap().drain(..) {
            let target = match (&r.index, &r.object) {
                (Some(index), _) => Target::Index(index),
                (_, Some(key)) => Target::Object(key),
                _ => Target::Table,
            };
            let keys: Vec<&str> = r.keys.iter().map(String::as_str).collect();
            assert!(
                route.access.allows(&r.action, target, &keys),
                "{method} {path} made {r:?}, which the statements of {:?} ({}) do not allow",
                route.access,
                route.function
            );
            self.seen.push((route.route_key(), r));
        }
        (answer.status, answer.body, etag)
    }

    fn saw(&self, route_key: &str, action: &str, key_prefix: &str) -> bool {
        self.seen.iter().any(|(k, r)| k == route_key && r.action == action && r.keys.iter().any(|x| x.starts_with(key_prefix)))
    }
}

fn entities(kind: MappingKind) -> Value {
    match kind {
        MappingKind::Alert => json!({"alert_id": "A-1", "case_id": "C-1"}),
        MappingKind::Case => json!({"case_id": "C-1", "alert_id": "A-1"}),
        MappingKind::Incident => json!({"incident_id": "I-1"}),
        MappingKind::Observable => json!({"observable_id": "O-1"}),
    }
}

fn with(mut body: Value, extra: Value) -> Value {
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_of_every_route_is_allowed_by_its_functions_iam_statements() {
    let app = spawn_app().await;
    let s = app.store.clone();
    let sync = |file: &'static str| {
        let s = s.clone();
        async move { Syncer::new(&s).run(&FileSource { path: attack_data(file) }, &SyncOptions::new(Domain::EnterpriseAttack), &|_| {}).await.unwrap() }
    };
    sync("enterprise-attack-16.1.json.gz").await;
    register(&s, ANALYST, TENANT, Role::Analyst).await;
    register(&s, ADMIN, TENANT, Role::Admin).await;
    let (store, log) = recording_store(&s);
    let mut h = Harness { store, log, seen: Vec::new() };

    // a mapping of a technique that 17.1 revokes, for the repair below
    let (st, revoked, _) =
        h.call(ANALYST, "POST", &format!("{P}/alert-mappings"), None, json!({"alert_id": "A-9", "technique": "T1574.002", "tactic": "persistence"})).await;
    assert_eq!(st, 201, "{revoked}");
    sync("enterprise-attack-17.1.json.gz").await;

    // the catalog, status and the OpenAPI document
    for path in [
        "tactics",
        "tactics/TA0002",
        "techniques?q=powershell",
        "techniques/T1059.001",
        "mitigations",
        "mitigations/M1038",
        "relationships?target=T1059.001",
        "groups",
        "groups/G0007",
        "software",
        "software/S0002",
        "kill-chain-phases",
        "status?detailed=true",
        "openapi.json",
    ] {
        let (st, body, _) = h.call(ANALYST, "GET", &format!("{P}/{path}"), None, Value::Null).await;
        assert_eq!(st, 200, "{path}: {body}");
    }
    assert!(!h.seen.iter().any(|(k, _)| k.ends_with("/openapi.json")), "the OpenAPI document reads nothing");

    // every mapping route of every kind: create, merge, list by each access path, get, change, delete
    for kind in MappingKind::ALL {
        let base = format!("{P}/{}-mappings", kind.as_str());
        let body = with(entities(kind), json!({"technique": "T1059.001", "confidence_score": 60}));
        let (st, m, _) = h.call(ANALYST, "POST", &base, None, body.clone()).await;
        assert_eq!(st, 201, "{m}");
        let id = m["id"].as_str().unwrap().to_string();
        let (st, _, etag) = h.call(ANALYST, "POST", &base, None, with(body, json!({"confidence_score": 80}))).await;
        assert_eq!(st, 200, "a repeat merges");
        let mut lists = vec![String::new(), "?technique=T1059.001".into(), "?tactic=execution".into()];
        for field in kind.entity_fields() {
            lists.push(format!("?{field}={}", entities(kind)[field].as_str().unwrap()));
        }
        for q in lists {
            let (st, page, _) = h.call(ANALYST, "GET", &format!("{base}{q}"), None, Value::Null).await;
            let found = page["items"].as_array().is_some_and(|items| items.iter().any(|m| m["id"] == id.as_str()));
            assert!(st == 200 && found, "{base}{q}: {page}");
        }
        let (st, _, _) = h.call(ANALYST, "GET", &format!("{base}/{id}"), None, Value::Null).await;
        assert_eq!(st, 200);
        // the analyst views of the mapping's entity, and the tenant's
        let (entity_path, views): (&str, &[&str]) = match kind {
            MappingKind::Case => {
                ("cases/C-1", &["navigator-layer", "matrix", "matrix?format=svg", "mitigations", "report", "report?format=html", "inferences"])
            }
            MappingKind::Alert => ("alerts/A-1", &["navigator-layer", "matrix?format=html", "mitigations", "inferences?domain=enterprise-attack"]),
            MappingKind::Incident => ("incidents/I-1", &["navigator-layer", "matrix", "mitigations", "report?format=json", "inferences"]),
            MappingKind::Observable => ("observables/O-1", &["navigator-layer", "inferences"]),
        };
        let tenant_wide = [
            "navigator-layer",
            "matrix?format=svg",
            "statistics/techniques?top=5",
            "statistics/tactics?from=2026-01",
            "statistics/kill-chain?entity_type=case",
        ];
        for view in views.iter().map(|v| format!("{entity_path}/{v}")).chain(tenant_wide.iter().map(|v| v.to_string())) {
            let (st, _, _) = h.call(ANALYST, "GET", &format!("{P}/{view}"), None, Value::Null).await;
            assert_eq!(st, 200, "{view}");
        }
        // flagged for an analyst: changing its technique clears the flag and the flagged counter
        s.ddb
            .update_item()
            .table_name(&s.table)
            .set_key(Some(mitre_store::ddb::key(mapping_pk(TENANT, kind.as_str()), mapping_sk(&id))))
            .update_expression("SET needs_review = :r")
            .expression_attribute_values(":r", mitre_store::ddb::s("checked by the IAM test"))
            .send()
            .await
            .unwrap();
        let (st, changed, etag) = h.call(ANALYST, "PATCH", &format!("{base}/{id}"), etag.as_deref(), json!({"technique": "T1059.003"})).await;
        assert_eq!(st, 200, "{changed}");
        let (st, _, _) = h.call(ANALYST, "DELETE", &format!("{base}/{id}"), etag.as_deref(), Value::Null).await;
        assert_eq!(st, 204);
    }

    // upgrade impact (the move from 16.1 to 17.1 revoked the DLL side-loading technique the
    // tenant maps) and inference from a set
    let (st, body, _) = h.call(ANALYST, "GET", &format!("{P}/attack-updates?domain=enterprise-attack"), None, Value::Null).await;
    assert_eq!((st, body["from"].as_str(), body["to"].as_str()), (200, Some("16.1"), Some("17.1")), "{body}");
    assert!(body["items"].as_array().unwrap().iter().any(|i| i["technique"] == "T1574.002" && i["change"]["revoked_by"]["attack_id"] == "T1574.001"), "{body}");
    let (st, body, _) = h.call(ANALYST, "POST", &format!("{P}/inferences"), None, json!({"techniques": ["T1059.001", "T1105"]})).await;
    assert_eq!(st, 200, "{body}");

    // suggestions and auto-mapping
    let alert = json!({"text": "powershell.exe -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA", "limit": 3});
    let (st, body, _) = h.call(ANALYST, "POST", &format!("{P}/suggestions"), None, alert.clone()).await;
    assert_eq!(st, 200, "{body}");
    for path in ["alerts/A-9/enrich", "incidents/I-9/enrich?dry_run=true", "incidents/I-8/enrich", "observables/O-9/enrich"] {
        let (st, body, _) = h.call(ANALYST, "POST", &format!("{P}/{path}"), None, alert.clone()).await;
        assert_eq!(st, 200, "{path}: {body}");
    }
    // the review loop over what enrichment wrote: the queue, a confirm and a reject of each kind
    let (st, queue, _) = h.call(ANALYST, "GET", &format!("{P}/review-queue?order=score"), None, Value::Null).await;
    assert_eq!(st, 200, "{queue}");
    for kind in [MappingKind::Alert, MappingKind::Incident, MappingKind::Observable] {
        let waiting: Vec<&Value> = queue["items"].as_array().unwrap().iter().filter(|m| m["kind"] == kind.as_str()).collect();
        for (verb, body, m) in [("confirm", json!({"confidence_score": 90}), waiting.first()), ("reject", json!({"reason": "benign"}), waiting.get(1))] {
            let id = m.and_then(|m| m["id"].as_str()).unwrap_or("01ZZZZZZZZZZZZZZZZZZZZZZZZ");
            let (st, out, _) = h.call(ANALYST, "POST", &format!("{P}/{kind}-mappings/{id}/{verb}"), Some("*"), body).await;
            assert_eq!(st, if m.is_some() { 200 } else { 404 }, "{kind} {verb}: {out}");
        }
    }
    let (st, report, _) = h.call(ANALYST, "GET", &format!("{P}/review-feedback"), None, Value::Null).await;
    assert!(st == 200 && report["confirmed"].as_u64() >= Some(1), "{report}");
    // the sync runs; starting one (no sync function in the tests: 503 after the caller check)
    let (st, _, _) = h.call(SU, "GET", &format!("{P}/sync/runs?domain=enterprise-attack"), None, Value::Null).await;
    assert_eq!(st, 200);
    let (st, _, _) = h.call(SU, "POST", &format!("{P}/sync"), None, json!({"domain": "enterprise-attack"})).await;
    assert_eq!(st, 503);

    // the registry and the audit log
    let newcomer = "arn%3Aaws%3Aiam%3A%3A333333333333%3Auser%2Fnewcomer";
    let (st, _, _) = h.call(SU, "PUT", &format!("{P}/admin/principals/{newcomer}"), None, json!({"tenant": "tenant-two", "role": "viewer"})).await;
    assert_eq!(st, 201);
    let (st, _, _) = h.call(SU, "GET", &format!("{P}/admin/principals"), None, Value::Null).await;
    assert_eq!(st, 200);
    let (st, _, _) = h.call(SU, "DELETE", &format!("{P}/admin/principals/{newcomer}"), None, Value::Null).await;
    assert_eq!(st, 204);
    for (who, q) in [(ADMIN, ""), (SU, ""), (SU, "?tenant=tenant-two")] {
        let (st, log, _) = h.call(who, "GET", &format!("{P}/audit{q}"), None, Value::Null).await;
        assert_eq!(st, 200, "{log}");
    }

    // entity access of every kind: the admin restricts an entity with a mapping, writes and
    // changes a mapping of it while restricted, reads the access and opens it again
    for kind in MappingKind::ALL {
        let (field, id) = (kind.entity_field(), format!("{}-ACL", kind.as_str().to_uppercase()));
        let base = format!("{P}/{kind}-mappings");
        let (st, m, _) = h.call(ANALYST, "POST", &base, None, json!({field: id, "technique": "T1059.001"})).await;
        assert_eq!(st, 201, "{m}");
        let access = format!("{P}/{kind}s/{id}/access");
        let (st, a, etag) = h.call(ADMIN, "PUT", &access, Some("\"0\""), json!({"groups": ["ir"]})).await;
        assert_eq!(st, 200, "{a}");
        let (st, m, _) = h.call(ADMIN, "POST", &base, None, json!({field: id, "technique": "T1059.003"})).await;
        assert_eq!(st, 201, "{m}");
        let (st, _, _) = h.call(ADMIN, "PATCH", &format!("{base}/{}", m["id"].as_str().unwrap()), Some("*"), json!({"notes": "restricted"})).await;
        assert_eq!(st, 200);
        let (st, got, _) = h.call(ADMIN, "GET", &access, None, Value::Null).await;
        assert_eq!((st, got["mappings"].as_i64()), (200, Some(2)), "{got}");
        let (st, _, _) = h.call(ADMIN, "DELETE", &access, etag.as_deref(), Value::Null).await;
        assert_eq!(st, 204);
    }
    // a tenant admin registers a principal of its tenant, with groups
    let colleague = "arn%3Aaws%3Aiam%3A%3A222222222222%3Auser%2Fcolleague";
    let (st, p, _) =
        h.call(ADMIN, "PUT", &format!("{P}/admin/principals/{colleague}"), None, json!({"tenant": TENANT, "role": "viewer", "groups": ["ir"]})).await;
    assert_eq!(st, 201, "{p}");

    // verification and repair (with a lost tactic index item to rebuild)
    let t1055 = "attack-pattern--43e7dc91-05b2-474c-b9ac-2ed4fe101f4d";
    let edge = mitre_store::ddb::key(mitre_store::keys::object_pk(Domain::EnterpriseAttack, t1055), mitre_store::keys::tactic_sk("defense-evasion"));
    s.ddb.delete_item().table_name(&s.table).set_key(Some(edge)).send().await.unwrap();
    let (st, report, _) = h.call(SU, "GET", &format!("{P}/correlations/verify"), None, Value::Null).await;
    assert_eq!((st, report["ok"].as_bool()), (200, Some(false)), "{report}");
    let (st, dry, _) = h.call(SU, "POST", &format!("{P}/correlations/repair"), None, Value::Null).await;
    assert_eq!((st, dry["dry_run"].as_bool()), (200, Some(true)), "{dry}");
    let (st, applied, _) = h.call(SU, "POST", &format!("{P}/correlations/repair"), None, json!({"dry_run": false})).await;
    assert_eq!((st, applied["index_items_added"].as_u64(), applied["mappings"].as_array().map(Vec::len)), (200, Some(1), Some(1)), "{applied}");
    assert!(applied["failed"].as_array().unwrap().is_empty(), "{applied}");

    // every route was served, and the writes the issue was about were among the checked requests
    let served: BTreeSet<&str> = h.seen.iter().map(|(k, _)| k.as_str()).collect();
    for r in ROUTES.iter().filter(|r| r.access != Access::OpenApi) {
        assert!(served.contains(r.route_key().as_str()), "{} was not exercised", r.route_key());
    }
    let create = format!("POST {P}/alert-mappings");
    let update = format!("PATCH {P}/alert-mappings/{{id}}");
    let repair = format!("POST {P}/correlations/repair");
    assert!(h.saw(&create, "dynamodb:UpdateItem", "MAPSTATS"), "mapping writes update the use counters");
    assert!(h.saw(&create, "dynamodb:BatchGetItem", "T#"), "mapping writes read the statistics presence records");
    assert!(h.saw(&create, "dynamodb:UpdateItem", "T#"), "mapping writes update the tenant's statistics counters");
    assert!(h.saw(&update, "dynamodb:UpdateItem", "CATALOG"), "clearing a flag updates the flagged-mapping counter");
    assert!(h.saw(&update, "dynamodb:DeleteItem", "T#"), "a changed technique moves the uniqueness guard");
    assert!(h.saw(&repair, "dynamodb:BatchWriteItem", "C#"), "repair rebuilds the tactic index");
    assert!(h.saw(&create, "dynamodb:UpdateItem", &format!("T#{TENANT}#M#")), "mapping writes count themselves in their entities' access records");
    assert!(
        h.saw(&format!("PUT {P}/cases/{{id}}/access"), "dynamodb:PutItem", &format!("T#{TENANT}#M#case")),
        "an access change rewrites the record and the mappings"
    );
    assert!(h.saw(&repair, "dynamodb:PutItem", "T#_system#AUDIT"), "repair is audited");
    assert!(h.seen.iter().any(|(k, r)| *k == format!("GET {P}/alert-mappings") && r.index.as_deref() == Some("gsi2")), "lists use gsi2");
}
