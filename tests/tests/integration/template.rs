//! template.yaml and infra/table.json must describe the same table; the sync is scheduled.
use mitre_store::schema::{TableSpec, table_spec};
use serde_norway::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn the_template_table_is_infra_table_json() {
    let t = template();
    let props = &t["Resources"]["Table"]["Properties"];
    let spec = TableSpec {
        attribute_definitions: serde_norway::from_value(props["AttributeDefinitions"].clone()).unwrap(),
        key_schema: serde_norway::from_value(props["KeySchema"].clone()).unwrap(),
        global_secondary_indexes: serde_norway::from_value(props["GlobalSecondaryIndexes"].clone()).unwrap(),
        billing_mode: serde_norway::from_value(props["BillingMode"].clone()).unwrap(),
        stream_specification: serde_norway::from_value(props["StreamSpecification"].clone()).unwrap(),
    };
    assert_eq!(spec, table_spec());
    assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], Value::Bool(true));
    assert_eq!(props["SSESpecification"]["SSEEnabled"], Value::Bool(true));
}

#[test]
fn the_sync_runs_every_ten_minutes_on_arm64() {
    let t = template();
    let f = &t["Resources"]["SyncFunction"];
    assert_eq!(f["Metadata"]["BuildMethod"], Value::from("rust-cargolambda"));
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], Value::from("sync"));
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let schedules: Vec<_> = events.values().filter(|e| e["Type"] == "Schedule").collect();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["Properties"]["Schedule"], Value::from("rate(10 minutes)"));
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], Value::from("provided.al2023"));
    assert_eq!(globals["Architectures"][0], Value::from("arm64"));
    let bucket = &t["Resources"]["ArchiveBucket"]["Properties"];
    assert_eq!(bucket["VersioningConfiguration"]["Status"], Value::from("Enabled"));
    for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][k], Value::Bool(true), "{k}");
    }
}

#[test]
fn every_route_is_a_function_and_every_function_a_route() {
    use std::collections::BTreeSet;
    let t = template();
    let mut deployed = BTreeSet::new();
    let mut functions = BTreeSet::new();
    for (name, res) in t["Resources"].as_mapping().unwrap() {
        let events = match res["Properties"]["Events"].as_mapping() {
            Some(e) => e,
            None => continue,
        };
        for ev in events.values().filter(|e| e["Type"] == "HttpApi") {
            let method = ev["Properties"]["Method"].as_str().unwrap().to_uppercase();
            let path = ev["Properties"]["Path"].as_str().unwrap().to_string();
            deployed.insert((method.clone(), path.clone()));
            let route_env = res["Properties"]["Environment"]["Variables"]["MITRE_ROUTE"].as_str().unwrap();
            assert_eq!(route_env, format!("{method} {}", path.trim_end_matches('/')), "{name:?}");
            assert_eq!(res["Metadata"]["Binary"], Value::Null);
            assert_eq!(res["Metadata"]["BuildProperties"]["Binary"], Value::from("api"), "{name:?}");
            functions.insert(name.as_str().unwrap().to_string());
        }
    }
    let mut routed = BTreeSet::new();
    for r in mitre_api::routes::ROUTES {
        routed.insert((r.method.to_string(), r.full_path()));
        routed.insert((r.method.to_string(), format!("{}/", r.full_path())));
        assert!(functions.contains(r.function), "{} has no function {}", r.route_key(), r.function);
    }
    assert_eq!(deployed, routed);
    assert_eq!(functions.len(), mitre_api::routes::ROUTES.len());
}
