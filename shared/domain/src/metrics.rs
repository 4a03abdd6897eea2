//! The module's CloudWatch metrics, in Embedded Metric Format: one JSON line on stdout that
//! CloudWatch Logs turns into metrics of the `SentineliqMitre` namespace. The API writes one
//! per request, the sync one per run.
use serde_json::{Map, Value, json};

/// The namespace of every metric of the module (the template's alarms watch it).
pub const NAMESPACE: &str = "SentineliqMitre";

/// One metric of a line: name, CloudWatch unit and value.
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub value: Value,
}

/// The EMF line for `metrics`, with `dimensions` (name and value, each a dimension of the
/// metrics) and `properties` (logged beside them, not dimensions).
pub fn emf_line(dimensions: &[(&str, Value)], metrics: &[Metric<'_>], properties: &[(&str, Value)]) -> Value {
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions.iter().chain(properties) {
        line.insert((*name).into(), value.clone());
    }
    for m in metrics {
        line.insert(m.name.into(), m.value.clone());
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_its_metrics_and_dimensions_and_carries_their_values() {
        let line = emf_line(&[("Route", json!("GET /x"))], &[Metric { name: "Latency", unit: "Milliseconds", value: json!(1.5) }], &[("Status", json!(200))]);
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Route"]]));
        assert_eq!(declared["Metrics"], json!([{"Name": "Latency", "Unit": "Milliseconds"}]));
        assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 0);
        assert_eq!((&line["Route"], &line["Latency"], &line["Status"]), (&json!("GET /x"), &json!(1.5), &json!(200)));
        // No dimensions: one empty dimension set, as the sync's metrics have.
        assert_eq!(emf_line(&[], &[], &[])["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
    }
}
