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

/// The events' wiring: the rule feeds the queue, the consumer reports partial batch failures,
/// refused events have a dead-letter queue with an alarm, and the publisher reads the stream's
/// new audit entries with retries, bisection and an on-failure destination.
#[test]
fn events_flow_through_a_queue_with_a_dead_letter_queue_and_a_stream_with_an_on_failure_queue() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(r["Table"]["Properties"]["StreamSpecification"]["StreamViewType"], Value::from("NEW_IMAGE"));
    let rule = &r["PlatformEventsRule"]["Properties"];
    let types: Vec<&str> = rule["EventPattern"]["detail-type"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    let read: Vec<&str> = mitre_events::inbound::DETAIL_TYPES.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, read, "the rule matches exactly the detail-types the consumer reads");
    assert_eq!(r["EventsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"], Value::from(5));
    let consumer = &r["EventsConsumerFunction"];
    assert_eq!(consumer["Metadata"]["BuildProperties"]["Binary"], Value::from("events-in"));
    let queue = &consumer["Properties"]["Events"]["Queue"];
    assert_eq!((queue["Type"].as_str(), queue["Properties"]["FunctionResponseTypes"][0].as_str()), (Some("SQS"), Some("ReportBatchItemFailures")));
    // the visibility timeout covers six of the consumer's timeouts
    let timeout = consumer["Properties"]["Timeout"].as_u64().unwrap();
    assert!(r["EventsQueue"]["Properties"]["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    let publisher = &r["EventsPublisherFunction"];
    assert_eq!(publisher["Metadata"]["BuildProperties"]["Binary"], Value::from("events-out"));
    let stream = &publisher["Properties"]["Events"]["Stream"]["Properties"];
    assert_eq!(stream["BisectBatchOnFunctionError"], Value::Bool(true));
    assert_eq!(stream["FunctionResponseTypes"][0], Value::from("ReportBatchItemFailures"));
    assert!(!stream["DestinationConfig"]["OnFailure"]["Destination"].is_null());
    let filter = stream["FilterCriteria"]["Filters"][0]["Pattern"].as_str().unwrap();
    assert!(filter.contains("INSERT") && filter.contains(mitre_store::keys::AUDIT_GSI), "{filter}");
    for (alarm, queue) in [("EventsDeadLetterAlarm", "EventsDeadLetterQueue"), ("PublishFailureAlarm", "PublishFailureQueue")] {
        let dims = format!("{:?}", r[alarm]["Properties"]["Dimensions"]);
        assert!(dims.contains(queue), "{alarm} watches {queue}: {dims}");
    }
    // both functions' policies are their access classes' statements
    for (function, sid) in [("EventsConsumerFunction", "DeadLetters"), ("EventsPublisherFunction", "PublishEvents")] {
        let statements = format!("{:?}", r[function]["Properties"]["Policies"]);
        assert!(statements.contains(sid), "{function}: {statements}");
        assert!(!statements.contains("dynamodb:Scan") && !statements.contains("\"*\""), "{function}");
    }
}
