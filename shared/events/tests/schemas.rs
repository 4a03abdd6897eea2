//! The events' JSON schemas (`schemas/events/{in,out}/v1/<DetailType>.json`) and the code agree:
//! what the schema of an incoming detail-type admits the parser reads and what it refuses the
//! parser refuses; what the module publishes for every published audit action meets the schema
//! of its detail-type; and every detail-type has its schema, every schema a detail-type.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use mitre_domain::{AuditEntry, EntityAccess, EntityRef, Mapping, MappingKind, TenantId};
use mitre_events::{SCHEMA_VERSION, inbound, outbound};
use mitre_store::items::{Outcome, RunRecord};
use serde_json::{Value, json};

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
const ID_BASE: &str = "https://sentineliq.example/schemas/events";

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/events")
}

fn schema_path(direction: &str, detail_type: &str) -> PathBuf {
    schemas_dir().join(direction).join(format!("v{SCHEMA_VERSION}")).join(format!("{detail_type}.json"))
}

fn schema(direction: &str, detail_type: &str) -> Value {
    let path = schema_path(direction, detail_type);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The validator of a schema, formats (`date-time`) asserted.
fn validator(direction: &str, detail_type: &str) -> Validator {
    let s = schema(direction, detail_type);
    jsonschema::options().should_validate_formats(true).build(&s).unwrap_or_else(|e| panic!("{direction}/{detail_type}: {e}"))
}

/// What the schema finds wrong with `detail`: empty when it is valid.
fn errors(v: &Validator, detail: &Value) -> Vec<String> {
    v.iter_errors(detail).map(|e| format!("{}: {e}", e.instance_path)).collect()
}

/// An EventBridge event of the platform, as an SQS message carries it.
fn envelope(detail_type: &str, detail: &Value) -> String {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "source": inbound::DEFAULT_SOURCE,
        "detail-type": detail_type,
        "account": "111122223333",
        "time": "2026-12-02T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    })
    .to_string()
}

fn valid_incoming() -> Vec<(&'static str, Value)> {
    vec![
        (
            "AlertCreated",
            json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "powershell -nop -enc SQBFAFgA",
                   "observables": [{"type": "command_line", "value": "powershell.exe -nop -enc SQBFAFgA"}, {"type": "process", "value": "powershell.exe"}]}),
        ),
        (
            "AlertCreated",
            json!({"schema_version": 1, "tenant": "acme-eu-1", "alert_id": "siem:4711.a_b", "text": "Mimikatz sekurlsa::logonpasswords", "domain": "enterprise-attack"}),
        ),
        (
            "AlertUpdated",
            json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": null, "observables": [{"type": "parent_process", "value": "winword.exe"}], "domain": null}),
        ),
        (
            "IncidentCreated",
            json!({"schema_version": 1, "tenant": "0day", "incident_id": "INC-2026.0001", "text": "Ransomware note found on three file servers"}),
        ),
        (
            "IncidentUpdated",
            json!({"schema_version": 1, "tenant": "acme", "incident_id": "INC-7", "text": "",
                   "observables": [{"type": "registry", "value": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater"}, {"type": "url", "value": "http://203.0.113.9/p.ps1"}, {"type": "ip", "value": "203.0.113.9"}]}),
        ),
        (
            "ObservableAnalyzed",
            json!({"schema_version": 1, "tenant": "acme", "observable_id": "obs_9f2", "observables": [{"type": "hash", "value": "44d88612fea8a8f36de82e1278abb02f"}], "domain": "ics-attack"}),
        ),
        (
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": ["ir", "soc/tier-2", "alice@example.com"], "changed_at": "2026-12-02T10:00:00Z"}),
        ),
        ("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "alert", "id": "A-1"}, "groups": null})),
        (
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "incident", "id": "INC-7"}, "groups": [], "changed_at": "2026-12-02T11:00:00.250+01:00"}),
        ),
        (
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "observable", "id": "obs_9f2"}, "groups": ["ir"], "changed_at": null}),
        ),
    ]
}

#[test]
fn every_valid_incoming_example_meets_its_schema_and_the_parser() {
    let types: BTreeSet<&str> = valid_incoming().iter().map(|(t, _)| *t).collect();
    for (t, _) in inbound::DETAIL_TYPES {
        assert!(types.contains(t), "no valid example of {t}");
    }
    for (detail_type, detail) in valid_incoming() {
        let found = errors(&validator("in", detail_type), &detail);
        assert!(found.is_empty(), "{detail_type} {detail}: the schema refuses it: {found:?}");
        let event = inbound::parse(&envelope(detail_type, &detail), inbound::DEFAULT_SOURCE)
            .unwrap_or_else(|r| panic!("{detail_type} {detail}: the parser refuses it ({:?}): {}", r.reason, r.message));
        assert_eq!((event.detail_type.as_str(), event.tenant.as_str()), (detail_type, detail["tenant"].as_str().unwrap()));
        match event.action {
            inbound::Action::Enrich { entity, .. } => assert_eq!(Some(entity.id.as_str()), detail[entity.field()].as_str(), "{detail}"),
            inbound::Action::Access { entity, groups, .. } => {
                assert_eq!((entity.kind.as_str(), entity.id.as_str()), (detail["entity"]["kind"].as_str().unwrap(), detail["entity"]["id"].as_str().unwrap()));
                assert_eq!(groups.is_none(), detail["groups"].is_null(), "{detail}");
            }
        }
    }
}

fn invalid_incoming() -> Vec<(&'static str, &'static str, Value)> {
    let groups: Vec<String> = (0..33).map(|i| format!("g{i}")).collect();
    vec![
        ("wrong schema_version", "AlertCreated", json!({"schema_version": 2, "tenant": "acme", "alert_id": "A-1", "text": "x"})),
        ("schema_version as a string", "AlertCreated", json!({"schema_version": "1", "tenant": "acme", "alert_id": "A-1", "text": "x"})),
        ("no schema_version", "IncidentCreated", json!({"tenant": "acme", "incident_id": "I-1", "text": "x"})),
        (
            "wrong schema_version of an access change",
            "EntityAccessChanged",
            json!({"schema_version": 0, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": null}),
        ),
        ("missing alert_id", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "text": "x"})),
        ("missing incident_id", "IncidentUpdated", json!({"schema_version": 1, "tenant": "acme", "text": "x"})),
        (
            "missing observable_id",
            "ObservableAnalyzed",
            json!({"schema_version": 1, "tenant": "acme", "observables": [{"type": "ip", "value": "203.0.113.9"}]}),
        ),
        ("another kind's id instead", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "incident_id": "I-1", "text": "x"})),
        ("another kind's id as well", "IncidentCreated", json!({"schema_version": 1, "tenant": "acme", "incident_id": "I-1", "alert_id": "A-1", "text": "x"})),
        ("a null id", "ObservableAnalyzed", json!({"schema_version": 1, "tenant": "acme", "observable_id": null, "text": "x"})),
        ("a bad entity id", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A 1", "text": "x"})),
        ("an entity id too long", "AlertUpdated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "a".repeat(129), "text": "x"})),
        ("unknown field", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "x", "severity": 3})),
        (
            "unknown field of an access change",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": null, "reason": "x"}),
        ),
        (
            "unknown field of an entity",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1", "name": "x"}, "groups": null}),
        ),
        ("upper-case tenant", "AlertCreated", json!({"schema_version": 1, "tenant": "Acme", "alert_id": "A-1", "text": "x"})),
        ("tenant with a '!'", "IncidentCreated", json!({"schema_version": 1, "tenant": "acme!", "incident_id": "I-1", "text": "x"})),
        ("tenant starting with '-'", "ObservableAnalyzed", json!({"schema_version": 1, "tenant": "-acme", "observable_id": "O-1", "text": "x"})),
        ("empty tenant", "AlertCreated", json!({"schema_version": 1, "tenant": "", "alert_id": "A-1", "text": "x"})),
        ("tenant of 65 characters", "AlertCreated", json!({"schema_version": 1, "tenant": "a".repeat(65), "alert_id": "A-1", "text": "x"})),
        (
            "bad tenant of an access change",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "ac me", "entity": {"kind": "case", "id": "C-1"}, "groups": null}),
        ),
        ("missing tenant", "AlertCreated", json!({"schema_version": 1, "alert_id": "A-1", "text": "x"})),
        ("text not a string", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": 42})),
        ("observables not a list", "AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": "powershell.exe"})),
        ("detail not an object", "AlertCreated", json!(["acme", "A-1"])),
        ("missing groups", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}})),
        (
            "missing groups, with changed_at",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "changed_at": "2026-12-02T10:00:00Z"}),
        ),
        ("missing entity", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "groups": null})),
        ("entity without id", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case"}, "groups": null})),
        (
            "unknown entity kind",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "ticket", "id": "T-1"}, "groups": null}),
        ),
        (
            "bad entity id of an access change",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": ""}, "groups": null}),
        ),
        ("bad group", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": ["a b"]})),
        ("groups not a list", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": "ir"})),
        ("too many groups", "EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": groups})),
        (
            "changed_at not a timestamp",
            "EntityAccessChanged",
            json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": null, "changed_at": "yesterday"}),
        ),
    ]
}

#[test]
fn every_invalid_incoming_detail_fails_the_schema_and_the_parser() {
    for (why, detail_type, detail) in invalid_incoming() {
        assert!(!validator("in", detail_type).is_valid(&detail), "{why}: the {detail_type} schema admits {detail}");
        let refused = inbound::parse(&envelope(detail_type, &detail), inbound::DEFAULT_SOURCE);
        assert!(refused.is_err(), "{why}: the parser reads {detail_type} {detail}");
    }
}

/// Details the parser reads and enrichment then refuses (the event is dead-lettered as invalid
/// or too large): the schemas, which describe what the module takes, refuse them at once.
#[test]
fn what_enrichment_refuses_the_schemas_refuse() {
    let many: Vec<Value> = (0..101).map(|i| json!({"type": "ip", "value": format!("203.0.113.{i}")})).collect();
    let cases = [
        ("neither text nor observables", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1"})),
        ("a blank text and no observables", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": " \n\t", "observables": []})),
        ("an unknown observable type", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": [{"type": "pcap", "value": "x"}]})),
        (
            "an observable with another field",
            json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": [{"type": "ip", "value": "203.0.113.9", "score": 3}]}),
        ),
        ("a blank observable", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "x", "observables": [{"type": "ip", "value": " "}]})),
        ("an observable without a value", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": [{"type": "ip"}]})),
        ("too many observables", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": many})),
        (
            "an observable too large",
            json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "observables": [{"type": "file", "value": "a".repeat(16 * 1024 + 1)}]}),
        ),
        ("a text too large", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "a".repeat(64 * 1024 + 1)})),
        ("an unknown domain", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "x", "domain": "pre-attack"})),
    ];
    let v = validator("in", "AlertCreated");
    for (why, detail) in cases {
        assert!(!v.is_valid(&detail), "{why}: the schema admits it");
    }
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

const ANALYST: &str = "arn:aws:iam::111122223333:role/analyst";

/// A whole stored mapping (what the audit log keeps as before and after), checked by reading it
/// as a [`Mapping`]; `changes` overrides fields of an alert mapping of T1059.001.
fn mapping(changes: Value) -> Value {
    let mut m = json!({
        "id": "01JDQ8Z5V3X7K2M4N6P8R0T2W4", "kind": "alert", "tenant": "acme", "alert_id": "A-1", "case_id": "C-1",
        "technique": "T1059.001", "technique_name": "PowerShell", "domain": "enterprise-attack", "tactic": "execution",
        "tactic_id": "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5", "confidence_score": 80, "detection_method": "edr",
        "detection_detail": "EDR rule 17", "artifacts": "powershell.exe -nop -enc SQBFAFgA", "impact_level": "high", "mitigation_status": "in_progress",
        "first_observed": "2026-12-01T09:00:00.000Z", "last_observed": "2026-12-01T09:05:00.000Z", "notes": "only the module sees these",
        "evidence": [], "history": [], "created_by": ANALYST, "created_at": "2026-12-01T09:06:00.000Z", "updated_by": ANALYST,
        "updated_at": "2026-12-01T09:06:00.000Z", "version": 1, "access": {"alert": {"version": 1, "groups": ["ir"]}, "case": {"version": 0}},
    });
    if let (Some(m), Value::Object(changes)) = (m.as_object_mut(), changes) {
        for (k, v) in changes {
            let _ = if v.is_null() { m.remove(&k) } else { m.insert(k, v) };
        }
    }
    let typed: Mapping = serde_json::from_value(m).unwrap_or_else(|e| panic!("not a mapping: {e}"));
    serde_json::to_value(typed).unwrap()
}

fn mapping_entry(action: &str, before: Option<Value>, after: Option<Value>) -> AuditEntry {
    let of = before.as_ref().or(after.as_ref()).unwrap();
    let target = format!("{}-mappings/{}", of["kind"].as_str().unwrap(), of["id"].as_str().unwrap());
    AuditEntry::new(&acme(), ANALYST, action, target, before, after, "req-01JDQ9")
}

fn access_entry(action: &str, before: &EntityAccess, after: &EntityAccess) -> AuditEntry {
    let target = format!("{}s/{}/access", before.entity.kind, before.entity.id);
    AuditEntry::new(&acme(), "integration:platform", action, target, serde_json::to_value(before).ok(), serde_json::to_value(after).ok(), "6a7e8feb-b491")
}

/// The `after` of a sync run's entry, as mitre-sync's pipeline writes it from the run record.
fn sync_entry(rec: &RunRecord) -> AuditEntry {
    let after = json!({
        "outcome": rec.outcome, "version": rec.version, "bundle_sha256": rec.bundle_sha256, "objects": rec.objects,
        "written": rec.written, "deleted": rec.deleted, "error": rec.error,
    });
    AuditEntry::new(&TenantId::system(), "sync:scheduled", "sync.run", format!("catalog/{}", rec.domain.as_str()), None, Some(after), &rec.run_id)
}

fn run(outcome: Outcome, domain: mitre_attack::Domain) -> RunRecord {
    let ok = matches!(outcome, Outcome::Succeeded | Outcome::Unchanged);
    RunRecord {
        run_id: mitre_domain::new_id(),
        domain,
        source: "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master".into(),
        started_at: mitre_domain::Timestamp::parse("2026-12-02T03:00:00.000Z").unwrap(),
        finished_at: mitre_domain::Timestamp::parse("2026-12-02T03:01:10.500Z").ok(),
        seconds: 70.5,
        outcome,
        version: ok.then(|| "18.1".to_string()),
        bundle_sha256: ok.then(|| "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string()),
        objects: if ok { 24_512 } else { 0 },
        written: if outcome == Outcome::Succeeded { 1_204 } else { 0 },
        unchanged: if ok { 23_308 } else { 0 },
        deleted: if outcome == Outcome::Succeeded { 3 } else { 0 },
        write_units: 1_850.0,
        forced: false,
        error: (outcome == Outcome::Failed).then(|| "the source answered 503".to_string()),
    }
}

/// A realistic audit entry of every published action (several of some).
fn published_entries() -> Vec<AuditEntry> {
    let v1 = mapping(json!({}));
    let merged = mapping(json!({"confidence_score": 90, "last_observed": "2026-12-01T10:00:00.000Z", "updated_at": "2026-12-01T10:00:01.000Z", "version": 2}));
    let updated = mapping(json!({"mitigation_status": "completed", "notes": "contained", "updated_at": "2026-12-01T11:00:00.000Z", "version": 3}));
    let enriched = mapping(json!({
        "id": "01JDQB0000AAAABBBBCCCCDDDD", "kind": "observable", "alert_id": null, "case_id": null, "observable_id": "obs_9f2",
        "technique": "T1003.001", "technique_name": "LSASS Memory", "tactic": "credential-access", "tactic_id": "x-mitre-tactic--2558fd61-8c75-4730-94c4-11926db2a263",
        "confidence_score": 72, "detection_method": "auto_suggested", "detection_detail": null, "artifacts": null, "notes": null,
        "evidence": [{"kind": "rule", "rule": "lsass-dump", "field": "observables[0]", "start": 0, "end": 23}],
        "needs_review": "T1003.001 is in several tactics; the first was chosen", "created_by": "integration:platform", "updated_by": "integration:platform",
        "access": {},
    }));
    let confirmed = mapping(json!({"version": 4, "reviewed_by": ANALYST, "reviewed_at": "2026-12-01T12:00:00.000Z", "updated_at": "2026-12-01T12:00:00.000Z"}));
    let flagged = mapping(
        json!({"version": 5, "needs_review": "T1059.001 is deprecated in ATT&CK 19.0", "updated_by": "repair", "updated_at": "2026-12-02T04:00:00.000Z"}),
    );
    let incident = mapping(json!({"id": "01JDQC0000EEEEFFFFGGGGHHHH", "kind": "incident", "alert_id": null, "case_id": null, "incident_id": "INC-7",
                                  "technique": "T1574.002", "technique_name": "DLL Side-Loading", "tactic": "persistence", "version": 3, "access": {}}));
    let repaired = mapping(json!({"id": "01JDQC0000EEEEFFFFGGGGHHHH", "kind": "incident", "alert_id": null, "case_id": null, "incident_id": "INC-7",
                                  "technique": "T1574.001", "technique_name": "DLL", "tactic": "persistence", "version": 4, "updated_by": "repair",
                                  "history": [{"technique": "T1574.002", "technique_name": "DLL Side-Loading", "tactic": "persistence", "replaced_by": "T1574.001",
                                               "reason": "T1574.002 was revoked by T1574.001 in ATT&CK 18.0", "at": "2026-12-02T04:00:00.000Z", "by": "repair"}],
                                  "updated_at": "2026-12-02T04:00:00.000Z", "access": {}}));
    let unmigrated = mapping(json!({"tactic_id": null, "version": 2}));
    let migrated = mapping(json!({"version": 3, "updated_by": "migrate", "updated_at": "2026-12-02T05:00:00.000Z"}));

    let open = EntityAccess::open(EntityRef::new(MappingKind::Case, "C-1"));
    let restricted = EntityAccess { mappings: 2, ..open.changed(Some(vec!["ir".into(), "soc/tier-2".into()]), "integration:platform") };
    let reopened = restricted.changed(None, "integration:platform");
    let alert = EntityAccess::open(EntityRef::new(MappingKind::Alert, "A-1"));
    let admins_only = alert.changed(Some(vec![]), ANALYST);

    let repair = AuditEntry::new(
        &TenantId::system(),
        "repair",
        "correlations.repair",
        "correlations".into(),
        None,
        Some(json!({"index_items_added": 3, "index_items_removed": 1, "mappings": 2, "failed": 0})),
        "req-repair-1",
    );
    use mitre_attack::Domain::{EnterpriseAttack, IcsAttack, MobileAttack};
    vec![
        mapping_entry("mapping.create", None, Some(v1.clone())),
        mapping_entry("mapping.enrich", None, Some(enriched)),
        mapping_entry("mapping.merge", Some(v1), Some(merged.clone())),
        mapping_entry("mapping.update", Some(merged), Some(updated.clone())),
        mapping_entry("mapping.confirm", Some(updated.clone()), Some(confirmed.clone())),
        mapping_entry("mapping.flag", Some(confirmed), Some(flagged.clone())),
        mapping_entry("mapping.delete", Some(flagged), None),
        mapping_entry("mapping.reject", Some(updated), Some(json!({"rejection": {"reason": "benign admin script", "by": ANALYST}}))),
        mapping_entry("mapping.repair", Some(incident), Some(repaired)),
        mapping_entry("mapping.migrate", Some(unmigrated), Some(migrated)),
        access_entry("access.put", &open, &restricted),
        access_entry("access.put", &alert, &admins_only),
        access_entry("access.delete", &restricted, &reopened),
        sync_entry(&run(Outcome::Succeeded, EnterpriseAttack)),
        sync_entry(&run(Outcome::Unchanged, MobileAttack)),
        sync_entry(&run(Outcome::Failed, IcsAttack)),
        sync_entry(&run(Outcome::Skipped, EnterpriseAttack)),
        repair,
    ]
}

fn published_actions() -> Vec<(&'static str, &'static str)> {
    outbound::PUBLISHED.into_iter().chain([outbound::REPAIR]).collect()
}

#[test]
fn every_published_action_meets_its_schema() {
    let entries = published_entries();
    let covered: BTreeSet<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for (action, _) in published_actions() {
        assert!(covered.contains(action), "no audit entry of {action}");
    }
    for e in &entries {
        let out = outbound::of_entry(e).unwrap_or_else(|| panic!("{} is not published", e.action));
        assert_eq!(Some(out.detail_type), outbound::detail_type(&e.action));
        let found = errors(&validator("out", out.detail_type), &out.detail);
        assert!(found.is_empty(), "{} as {}: {found:?}\n{:#}", e.action, out.detail_type, out.detail);
        assert_eq!(out.event_id(), e.id);
    }
}

/// The out schemas are no blank cheques: a detail that breaks the contract fails them.
#[test]
fn the_out_schemas_refuse_what_breaks_their_contract() {
    fn without(d: &mut Value, field: &str) {
        d.as_object_mut().unwrap().remove(field);
    }
    let entries = published_entries();
    let by_action = |action: &str| outbound::of_entry(entries.iter().find(|e| e.action == action).unwrap()).unwrap();
    type Break = fn(&mut Value);
    let breaks: [(&str, &str, Break); 14] = [
        ("mapping.create", "no event_id", |d| without(d, "event_id")),
        ("mapping.create", "schema_version 2", |d| d["schema_version"] = json!(2)),
        ("mapping.create", "the action of another type", |d| d["action"] = json!("mapping.update")),
        ("mapping.create", "no mapping", |d| without(d, "mapping")),
        ("mapping.create", "a mapping without version", |d| without(&mut d["mapping"], "version")),
        ("mapping.create", "a mapping of no entity", |d| {
            without(&mut d["mapping"], "alert_id");
            without(&mut d["mapping"], "case_id");
        }),
        ("mapping.create", "occurred_at not in UTC milliseconds", |d| d["occurred_at"] = json!("2026-12-02T10:00:00+01:00")),
        ("mapping.update", "no previous", |d| without(d, "previous")),
        ("mapping.delete", "a bad tenant", |d| d["tenant"] = json!("Acme")),
        ("access.put", "no version", |d| without(d, "version")),
        ("access.delete", "no previous_groups", |d| without(d, "previous_groups")),
        ("sync.run", "an unknown outcome", |d| d["run"]["outcome"] = json!("partial")),
        ("sync.run", "a tenant's", |d| d["tenant"] = json!("acme")),
        ("correlations.repair", "no repair", |d| without(d, "repair")),
    ];
    for (action, why, breaking) in breaks {
        let out = by_action(action);
        let v = validator("out", out.detail_type);
        assert!(v.is_valid(&out.detail), "{action}");
        let mut broken = out.detail.clone();
        breaking(&mut broken);
        assert!(!v.is_valid(&broken), "{action}, {why}: the {} schema admits {broken:#}", out.detail_type);
    }
}

/// Each out schema's `action` names exactly the audit actions published as its detail-type, and
/// each in schema requires the id field of the entity its detail-type is about.
#[test]
fn the_schemas_name_what_the_code_maps() {
    for detail_type in outbound::DETAIL_TYPES {
        let s = schema("out", detail_type);
        let named: BTreeSet<&str> = s["properties"]["action"]["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let published: BTreeSet<&str> = published_actions().into_iter().filter(|(_, t)| *t == detail_type).map(|(a, _)| a).collect();
        assert_eq!(named, published, "{detail_type}");
        let required: BTreeSet<&str> = s["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for field in ["schema_version", "event_id", "occurred_at", "tenant", "action", "actor", "request_id", "target"] {
            assert!(required.contains(field), "{detail_type} does not require {field}");
        }
        assert_ne!(s["additionalProperties"], json!(false), "{detail_type}: consumers must tolerate new fields");
    }
    for (detail_type, kind) in inbound::DETAIL_TYPES {
        let s = schema("in", detail_type);
        let required: Vec<&str> = s["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let own = kind.map(|k| k.entity_field()).unwrap_or("entity");
        assert!(required.contains(&own) && required.contains(&"schema_version") && required.contains(&"tenant"), "{detail_type}: {required:?}");
        assert_eq!(s["additionalProperties"], json!(false), "{detail_type}: the parser refuses unknown fields");
        assert_eq!(s["properties"]["schema_version"]["const"], json!(SCHEMA_VERSION), "{detail_type}");
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_detail_type_has_its_schema_and_every_schema_a_detail_type() {
    let dir = schemas_dir();
    let expected: BTreeSet<String> = inbound::DETAIL_TYPES
        .iter()
        .map(|(t, _)| format!("in/v{SCHEMA_VERSION}/{t}.json"))
        .chain(outbound::DETAIL_TYPES.iter().map(|t| format!("out/v{SCHEMA_VERSION}/{t}.json")))
        .collect();
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    let found: BTreeSet<String> =
        files.iter().map(|p| p.strip_prefix(&dir).unwrap().components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")).collect();
    assert_eq!(found, expected, "schema files without a detail-type, or detail-types without a schema file");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for relative in &expected {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(relative)).unwrap()).unwrap();
        assert_eq!(s["$schema"], DRAFT, "{relative}");
        assert_eq!(s["$id"], format!("{ID_BASE}/{relative}"), "{relative}");
        assert_eq!(s["type"], "object", "{relative}");
        if let Err(e) = jsonschema::meta::validate(&s) {
            panic!("{relative} is not a valid schema: {e}");
        }
        let detail_type = relative.rsplit('/').next().unwrap().trim_end_matches(".json");
        assert!(readme.contains(&format!("`{detail_type}`")), "the README does not name {detail_type}");
    }
}
