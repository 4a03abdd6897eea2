//! What the module publishes: one event per audit entry of a committed change
//! (`schemas/events/out/v1/*.json`). The mapping of actions to detail-types, and each detail, are
//! pure functions of the entry, so an entry published twice is the same event twice (consumers
//! drop repeats by `event_id`).
use mitre_domain::AuditEntry;
use serde_json::{Map, Value, json};

/// The `source` of every event the module publishes.
pub const SOURCE: &str = "sentineliq.mitre";

/// Audit actions and the detail-type each is published as. Entries of other actions (the
/// principal registry, sync requests) are not published.
pub const PUBLISHED: [(&str, &str); 13] = [
    ("mapping.create", "MappingCreated"),
    ("mapping.enrich", "MappingCreated"),
    ("mapping.merge", "MappingMerged"),
    ("mapping.update", "MappingChanged"),
    ("mapping.confirm", "MappingChanged"),
    ("mapping.flag", "MappingChanged"),
    ("mapping.delete", "MappingDeleted"),
    ("mapping.reject", "MappingDeleted"),
    ("mapping.repair", "MappingRepaired"),
    ("mapping.migrate", "MappingRepaired"),
    ("access.put", "EntityAccessChanged"),
    ("access.delete", "EntityAccessChanged"),
    ("sync.run", "SyncFinished"),
];

/// The repair's own entry (after its mappings' entries).
pub const REPAIR: (&str, &str) = ("correlations.repair", "RepairApplied");

/// Every detail-type published.
pub const DETAIL_TYPES: [&str; 8] =
    ["MappingCreated", "MappingMerged", "MappingChanged", "MappingDeleted", "MappingRepaired", "EntityAccessChanged", "SyncFinished", "RepairApplied"];

/// The fields of a mapping an event carries.
const MAPPING_FIELDS: [&str; 15] = [
    "id",
    "kind",
    "alert_id",
    "case_id",
    "incident_id",
    "observable_id",
    "technique",
    "technique_name",
    "tactic",
    "domain",
    "version",
    "confidence_score",
    "detection_method",
    "needs_review",
    "updated_at",
];

/// One event to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutEvent {
    pub detail_type: &'static str,
    pub detail: Value,
}

impl OutEvent {
    /// The audit entry's id, which the event carries as `event_id`.
    pub fn event_id(&self) -> &str {
        self.detail["event_id"].as_str().unwrap_or_default()
    }
}

/// The detail-type an audit action is published as, if it is.
pub fn detail_type(action: &str) -> Option<&'static str> {
    PUBLISHED.iter().chain(std::iter::once(&REPAIR)).find(|(a, _)| *a == action).map(|(_, t)| *t)
}

fn pick(value: Option<&Value>, fields: &[&str]) -> Value {
    let Some(Value::Object(o)) = value else { return Value::Null };
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = o.get(*f).filter(|v| !v.is_null()) {
            out.insert((*f).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The event of a committed audit entry, if its action is published.
pub fn of_entry(e: &AuditEntry) -> Option<OutEvent> {
    let detail_type = detail_type(&e.action)?;
    let mut detail = json!({
        "schema_version": crate::SCHEMA_VERSION,
        "event_id": e.id,
        "occurred_at": e.at,
        "tenant": e.tenant,
        "action": e.action,
        "actor": e.actor,
        "request_id": e.request_id,
        "target": e.target,
    });
    let (before, after) = (e.before.as_ref(), e.after.as_ref());
    match detail_type {
        "MappingCreated" | "MappingMerged" | "MappingChanged" | "MappingRepaired" => {
            detail["mapping"] = pick(after, &MAPPING_FIELDS);
            if before.is_some() {
                detail["previous"] = pick(before, &["technique", "technique_name", "tactic", "version", "confidence_score", "needs_review"]);
            }
        }
        "MappingDeleted" => detail["mapping"] = pick(before, &MAPPING_FIELDS),
        "EntityAccessChanged" => {
            let now = after.or(before);
            detail["entity"] = now.and_then(|a| a.get("entity")).cloned().unwrap_or(Value::Null);
            detail["groups"] = after.and_then(|a| a.get("groups")).cloned().unwrap_or(Value::Null);
            detail["version"] = after.and_then(|a| a.get("version")).cloned().unwrap_or(Value::Null);
            detail["previous_groups"] = before.and_then(|a| a.get("groups")).cloned().unwrap_or(Value::Null);
        }
        "SyncFinished" => {
            detail["domain"] = Value::String(e.target.strip_prefix("catalog/").unwrap_or(&e.target).to_string());
            detail["run"] = after.cloned().unwrap_or(Value::Null);
        }
        _ => detail["repair"] = after.cloned().unwrap_or(Value::Null),
    }
    Some(OutEvent { detail_type, detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitre_domain::TenantId;

    fn entry(action: &str, before: Option<Value>, after: Option<Value>) -> AuditEntry {
        AuditEntry::new(&TenantId::parse("acme").unwrap(), "arn:aws:iam::1:user/a", action, "alert-mappings/01J".into(), before, after, "req-1")
    }

    fn mapping(technique: &str, version: u64) -> Value {
        json!({"id": "01J", "kind": "alert", "tenant": "acme", "alert_id": "A-1", "technique": technique, "technique_name": "X", "tactic": "execution",
               "domain": "enterprise-attack", "version": version, "confidence_score": 80, "detection_method": "manual", "evidence": [{"big": "x"}], "notes": "secret notes"})
    }

    #[test]
    fn each_mapping_write_is_its_event_with_what_orders_it() {
        let created = of_entry(&entry("mapping.create", None, Some(mapping("T1059", 1)))).unwrap();
        assert_eq!(created.detail_type, "MappingCreated");
        assert_eq!(created.detail["mapping"]["technique"], "T1059");
        assert_eq!(created.detail["mapping"]["version"], 1);
        assert_eq!(created.detail["tenant"], "acme");
        assert!(created.detail.get("previous").is_none());
        // notes and evidence stay in the module
        assert!(created.detail["mapping"].get("notes").is_none() && created.detail["mapping"].get("evidence").is_none());

        let repaired = of_entry(&entry("mapping.repair", Some(mapping("T1574.002", 3)), Some(mapping("T1574.001", 4)))).unwrap();
        assert_eq!(
            (repaired.detail_type, &repaired.detail["previous"]["technique"], &repaired.detail["mapping"]["version"]),
            ("MappingRepaired", &json!("T1574.002"), &json!(4))
        );

        let deleted = of_entry(&entry("mapping.reject", Some(mapping("T1059", 2)), None)).unwrap();
        assert_eq!((deleted.detail_type, &deleted.detail["mapping"]["id"]), ("MappingDeleted", &json!("01J")));
        assert_eq!(deleted.event_id(), deleted.detail["event_id"].as_str().unwrap());
    }

    #[test]
    fn registry_changes_are_not_published_and_system_entries_are() {
        assert!(of_entry(&entry("principal.put", None, Some(json!({})))).is_none());
        assert!(of_entry(&entry("sync.request", None, None)).is_none());
        let mut sync = entry("sync.run", None, Some(json!({"outcome": "succeeded", "version": "18.1", "written": 12})));
        sync.target = "catalog/enterprise-attack".into();
        let e = of_entry(&sync).unwrap();
        assert_eq!((e.detail_type, &e.detail["domain"], &e.detail["run"]["version"]), ("SyncFinished", &json!("enterprise-attack"), &json!("18.1")));
        assert_eq!(of_entry(&entry("correlations.repair", None, Some(json!({"mappings": 3})))).unwrap().detail_type, "RepairApplied");
        let access = of_entry(&entry(
            "access.delete",
            Some(json!({"entity": {"kind": "case", "id": "C-1"}, "groups": ["ir"], "version": 2})),
            Some(json!({"entity": {"kind": "case", "id": "C-1"}, "version": 3})),
        ))
        .unwrap();
        assert_eq!(
            (access.detail["groups"].clone(), access.detail["previous_groups"].clone(), access.detail["version"].clone()),
            (Value::Null, json!(["ir"]), json!(3))
        );
    }

    #[test]
    fn every_published_detail_type_is_listed() {
        for (_, t) in PUBLISHED.iter().chain(std::iter::once(&REPAIR)) {
            assert!(DETAIL_TYPES.contains(t), "{t}");
        }
    }
}
