//! template.yaml and infra/table.json must describe the same table; the sync is scheduled.
use mitre_store::schema::{TableSpec, table_spec};
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn the_template_table_is_infra_table_json() {
    let t = template();
    let props = &t["Resources"]["Table"]["Properties"];
    let spec = TableSpec {
        attribute_definitions: serde_yaml::from_value(props["AttributeDefinitions"].clone()).unwrap(),
        key_schema: serde_yaml::from_value(props["KeySchema"].clone()).unwrap(),
        global_secondary_indexes: serde_yaml::from_value(props["GlobalSecondaryIndexes"].clone()).unwrap(),
        billing_mode: serde_yaml::from_value(props["BillingMode"].clone()).unwrap(),
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
    let schedules: Vec<_> = events.values().filter(|e| e["Type"] == Value::from("Schedule")).collect();
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
