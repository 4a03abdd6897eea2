//! The platform's events, as the consumer reads them: an EventBridge event (the body of each
//! SQS message) whose `detail-type` says what happened and whose `detail` follows
//! `schemas/events/in/v1/*.json`. Parsing is pure; whether the tenant exists is the consumer's
//! question.
use mitre_domain::{EntityRef, MappingKind, TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The platform's `source` the template's rule matches by default (`PlatformEventSource`).
pub const DEFAULT_SOURCE: &str = "sentineliq.platform";

/// The largest event read, as EventBridge and SQS allow (256 KiB).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// The detail-types read, and what each asks for: the entity kind to enrich, or (None) an
/// access change.
pub const DETAIL_TYPES: [(&str, Option<MappingKind>); 6] = [
    ("AlertCreated", Some(MappingKind::Alert)),
    ("AlertUpdated", Some(MappingKind::Alert)),
    ("IncidentCreated", Some(MappingKind::Incident)),
    ("IncidentUpdated", Some(MappingKind::Incident)),
    ("ObservableAnalyzed", Some(MappingKind::Observable)),
    ("EntityAccessChanged", None),
];

/// Why an event was refused: the `reason` of its dead letter and the dimension of the
/// `EventsRejected` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not JSON, not an EventBridge event, or a detail that breaks its schema.
    Malformed,
    /// A source or detail-type this module does not read.
    Unsupported,
    /// A tenant with no registered principal.
    UnknownTenant,
    /// An entity kind other than alert, incident, case or observable.
    UnknownEntityKind,
    /// Larger than 256 KiB, or a field larger than enrichment takes.
    TooLarge,
    /// Well formed, but refused by enrichment or the access change (a bad observable, an
    /// unsynced domain, a bad group name).
    Invalid,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Unsupported => "unsupported",
            Reason::UnknownTenant => "unknown_tenant",
            Reason::UnknownEntityKind => "unknown_entity_kind",
            Reason::TooLarge => "too_large",
            Reason::Invalid => "invalid",
        }
    }
}

/// An event refused for good: it goes to the dead-letter queue with this.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: Reason,
    pub message: String,
}

impl Rejected {
    pub fn new(reason: Reason, message: impl Into<String>) -> Rejected {
        Rejected { reason, message: message.into() }
    }
}

/// What an event asks of the module.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Enrich the entity from `body` (`text`, `observables`, `domain`: the body of
    /// `POST {kind}s/{id}/enrich`).
    Enrich { entity: EntityRef, body: Value },
    /// Set the entity's access: `groups` (None: open to the whole tenant), as the platform
    /// changed it at `changed_at`.
    Access { entity: EntityRef, groups: Option<Vec<String>>, changed_at: Option<Timestamp> },
}

impl Action {
    pub fn entity(&self) -> &EntityRef {
        match self {
            Action::Enrich { entity, .. } | Action::Access { entity, .. } => entity,
        }
    }
}

/// One platform event, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct InEvent {
    /// EventBridge's event id: the request id of what the event writes.
    pub id: String,
    pub source: String,
    pub detail_type: String,
    pub tenant: TenantId,
    pub action: Action,
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrichDetail {
    schema_version: u64,
    tenant: String,
    #[serde(default)]
    alert_id: Option<String>,
    #[serde(default)]
    incident_id: Option<String>,
    #[serde(default)]
    observable_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    observables: Option<Vec<Value>>,
    #[serde(default)]
    domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityDetail {
    kind: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessDetail {
    schema_version: u64,
    tenant: String,
    entity: EntityDetail,
    /// Required, null for open.
    groups: Option<Vec<String>>,
    #[serde(default)]
    changed_at: Option<String>,
}

fn malformed(message: impl Into<String>) -> Rejected {
    Rejected::new(Reason::Malformed, message)
}

fn schema_version(v: u64) -> Result<(), Rejected> {
    if v == crate::SCHEMA_VERSION {
        Ok(())
    } else {
        Err(malformed(format!("schema_version {v} is not read here (this module reads {})", crate::SCHEMA_VERSION)))
    }
}

fn tenant(value: &str) -> Result<TenantId, Rejected> {
    TenantId::parse(value).map_err(|e| malformed(e.message))
}

/// Checks the body of one SQS message: an EventBridge event from `source`.
pub fn parse(body: &str, source: &str) -> Result<InEvent, Rejected> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(Rejected::new(Reason::TooLarge, format!("the event is {} bytes, more than {MAX_EVENT_BYTES}", body.len())));
    }
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| malformed(format!("not an EventBridge event: {e}")))?;
    if envelope.source != source {
        return Err(Rejected::new(Reason::Unsupported, format!("events of source {:?} are not read here (only {source:?})", envelope.source)));
    }
    let Some((detail_type, kind)) = DETAIL_TYPES.iter().find(|(t, _)| *t == envelope.detail_type) else {
        let known: Vec<&str> = DETAIL_TYPES.iter().map(|(t, _)| *t).collect();
        return Err(Rejected::new(Reason::Unsupported, format!("detail-type {:?} is not read here (only {})", envelope.detail_type, known.join(", "))));
    };
    let (tenant, action) = match kind {
        Some(kind) => enrich(*kind, envelope.detail)?,
        None => access(envelope.detail)?,
    };
    Ok(InEvent { id: envelope.id, source: envelope.source, detail_type: detail_type.to_string(), tenant, action })
}

fn enrich(kind: MappingKind, detail: Value) -> Result<(TenantId, Action), Rejected> {
    let d: EnrichDetail = serde_json::from_value(detail).map_err(|e| malformed(format!("detail: {e}")))?;
    schema_version(d.schema_version)?;
    let tenant = tenant(&d.tenant)?;
    let field = kind.entity_field();
    let ids = [("alert_id", d.alert_id), ("incident_id", d.incident_id), ("observable_id", d.observable_id)];
    if let Some((other, _)) = ids.iter().find(|(f, v)| *f != field && v.is_some()) {
        return Err(malformed(format!("detail: {other} does not belong in an event about an {}", kind.as_str())));
    }
    let id = ids.into_iter().find(|(f, _)| *f == field).and_then(|(_, v)| v).ok_or_else(|| malformed(format!("detail: {field} is missing")))?;
    let entity = EntityRef::parse(kind, &id).map_err(|e| Rejected::new(Reason::Invalid, e.message))?;
    let mut body = Map::new();
    if let Some(text) = d.text {
        body.insert("text".into(), Value::String(text));
    }
    if let Some(observables) = d.observables {
        body.insert("observables".into(), Value::Array(observables));
    }
    if let Some(domain) = d.domain {
        body.insert("domain".into(), Value::String(domain));
    }
    Ok((tenant, Action::Enrich { entity, body: Value::Object(body) }))
}

fn access(detail: Value) -> Result<(TenantId, Action), Rejected> {
    let has_groups = detail.get("groups").is_some();
    let d: AccessDetail = serde_json::from_value(detail).map_err(|e| malformed(format!("detail: {e}")))?;
    schema_version(d.schema_version)?;
    if !has_groups {
        return Err(malformed("detail: groups is missing (null opens the entity to its whole tenant)"));
    }
    let tenant = tenant(&d.tenant)?;
    let kind = MappingKind::ALL
        .into_iter()
        .find(|k| k.as_str() == d.entity.kind)
        .ok_or_else(|| Rejected::new(Reason::UnknownEntityKind, format!("entity kind {:?} is not one of alert, incident, case, observable", d.entity.kind)))?;
    let entity = EntityRef::parse(kind, &d.entity.id).map_err(|e| Rejected::new(Reason::Invalid, e.message))?;
    let groups = d.groups.map(|g| mitre_domain::access::groups(&g).map_err(|e| Rejected::new(Reason::Invalid, e.message))).transpose()?;
    let changed_at = d.changed_at.map(|t| Timestamp::parse(&t).map_err(|e| malformed(format!("detail: changed_at: {e}")))).transpose()?;
    Ok((tenant, Action::Access { entity, groups, changed_at }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str, detail: Value) -> String {
        json!({"version": "0", "id": "e-1", "source": DEFAULT_SOURCE, "detail-type": detail_type, "account": "1", "time": "2026-12-02T10:00:00Z", "region": "us-east-1", "resources": [], "detail": detail}).to_string()
    }

    #[test]
    fn an_alert_event_becomes_the_body_of_its_enrichment() {
        let e = parse(&event("AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "powershell -enc", "observables": [{"type": "process", "value": "powershell.exe"}]})), DEFAULT_SOURCE).unwrap();
        assert_eq!((e.id.as_str(), e.tenant.as_str()), ("e-1", "acme"));
        let Action::Enrich { entity, body } = e.action else { panic!("an enrichment") };
        assert_eq!((entity.kind, entity.id.as_str()), (MappingKind::Alert, "A-1"));
        assert_eq!(body, json!({"text": "powershell -enc", "observables": [{"type": "process", "value": "powershell.exe"}]}));
    }

    #[test]
    fn an_access_event_names_its_entity_and_groups() {
        let e = parse(
            &event(
                "EntityAccessChanged",
                json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": ["ir"], "changed_at": "2026-12-02T10:00:00Z"}),
            ),
            DEFAULT_SOURCE,
        )
        .unwrap();
        let Action::Access { entity, groups, changed_at } = e.action else { panic!("an access change") };
        assert_eq!((entity.kind, groups), (MappingKind::Case, Some(vec!["ir".to_string()])));
        assert!(changed_at.is_some());
        let open = parse(
            &event("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "alert", "id": "A-1"}, "groups": null})),
            DEFAULT_SOURCE,
        )
        .unwrap();
        assert!(matches!(open.action, Action::Access { groups: None, .. }));
    }

    #[test]
    fn every_bad_event_is_refused_with_its_reason() {
        let cases: Vec<(String, Reason)> = vec![
            ("not json".into(), Reason::Malformed),
            (json!({"id": "x"}).to_string(), Reason::Malformed),
            (event("AlertCreated", json!({"schema_version": 2, "tenant": "acme", "alert_id": "A-1"})), Reason::Malformed),
            (event("AlertCreated", json!({"schema_version": 1, "tenant": "Acme!", "alert_id": "A-1"})), Reason::Malformed),
            (event("AlertCreated", json!({"schema_version": 1, "tenant": "acme"})), Reason::Malformed),
            (event("AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "incident_id": "I-1"})), Reason::Malformed),
            (event("AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "severity": 3})), Reason::Malformed),
            (event("AlertDeleted", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1"})), Reason::Unsupported),
            (
                event("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "ticket", "id": "T-1"}, "groups": null})),
                Reason::UnknownEntityKind,
            ),
            (event("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}})), Reason::Malformed),
            (
                event("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "case", "id": "C-1"}, "groups": ["a b"]})),
                Reason::Invalid,
            ),
            (event("AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1", "text": "x".repeat(MAX_EVENT_BYTES)})), Reason::TooLarge),
        ];
        for (body, reason) in cases {
            let got = parse(&body, DEFAULT_SOURCE).unwrap_err();
            assert_eq!(got.reason, reason, "{}: {}", &body[..body.len().min(200)], got.message);
            assert!(!got.message.is_empty());
        }
        let other = parse(&event("AlertCreated", json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-1"})), "someone.else").unwrap_err();
        assert_eq!(other.reason, Reason::Unsupported);
    }
}
