//! Technique mappings of alerts, incidents, cases and observables: tenant-scoped, validated
//! against the catalog, versioned (ETag / If-Match) and audited.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use mitre_attack::TechniqueId;
use mitre_store::items::AuditEntry;
use mitre_store::tenancy::{Mapping, MappingKind, Role, WriteError, entity_index, mapping_from_item, mapping_pk, technique_gsi};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::params::Params;
use crate::{App, Reply};

pub const MAX_ARTIFACTS: usize = 64 * 1024;
pub const MAX_TEXT: usize = 16 * 1024;
pub const DETECTION_METHODS: &[&str] = &["siem", "edr", "ids", "manual_analysis", "threat_intel", "other"];
pub const IMPACT_LEVELS: &[&str] = &["low", "medium", "high"];
pub const MITIGATION_STATUSES: &[&str] = &["not_started", "in_progress", "completed"];

/// The body of POST and PATCH. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    pub alert_id: Option<String>,
    pub case_id: Option<String>,
    pub incident_id: Option<String>,
    pub observable_id: Option<String>,
    pub technique: Option<String>,
    pub tactic: Option<String>,
    pub confidence_score: Option<i64>,
    pub detection_method: Option<String>,
    pub detection_detail: Option<String>,
    pub artifacts: Option<String>,
    pub impact_level: Option<String>,
    pub mitigation_status: Option<String>,
    pub first_observed: Option<String>,
    pub last_observed: Option<String>,
    pub notes: Option<String>,
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable { message: message.into(), details: Some(json!({ "field": field })) }
}

/// A new time-ordered id.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn timestamp(field: &str, v: &str) -> Result<String, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Millis, true))
        .map_err(|_| unprocessable(field, format!("{field} must be an RFC 3339 timestamp, not {v:?}")))
}

fn entity_id(field: &str, v: &str) -> Result<String, ApiError> {
    let ok = !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok { Ok(v.to_string()) } else { Err(unprocessable(field, format!("{field} must be 1 to 128 letters, digits, '-', '_', '.' or ':'"))) }
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<String, ApiError> {
    if allowed.contains(&v) { Ok(v.to_string()) } else { Err(unprocessable(field, format!("{field} must be one of {}", allowed.join(", ")))) }
}

fn text(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    if v.len() <= max { Ok(v.to_string()) } else { Err(unprocessable(field, format!("{field} is longer than {max} bytes"))) }
}

pub fn parse_body(body: &[u8]) -> Result<MappingInput, ApiError> {
    parse_json(body)
}

/// A JSON object body of type `T`: 400 for malformed JSON, wrong types and unknown fields.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest { code: "invalid_body", message: "the request needs a JSON object body".into(), details: None });
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::BadRequest { code: "invalid_body", message: e.to_string(), details: None },
        _ => ApiError::BadRequest { code: "malformed_json", message: format!("the body is not valid JSON: {e}"), details: None },
    })
}

/// Resolves and checks the technique and tactic against the catalog.
/// Answers the technique's ATT&CK ID and name, its domain, and the tactic's shortname and STIX id.
async fn technique_and_tactic(app: &App, technique: &str, tactic: Option<&str>) -> Result<(String, String, mitre_attack::Domain, String, String), ApiError> {
    let id = TechniqueId::parse(technique).map_err(|e| unprocessable("technique", e.to_string()))?;
    for domain in app.catalog.domains().await? {
        let c = app.catalog.domain(domain).await?;
        let Some(t) = c.technique_by_attack_id(id.as_str()) else { continue };
        if t.revoked {
            let by = c.relationships_from(&t.stix_id, Some("revoked-by")).find_map(|r| c.technique_by_stix_id(&r.target_ref));
            return Err(ApiError::Unprocessable {
                message: match by {
                    Some(b) => format!("{} is revoked; use {} ({}) instead", t.attack_id, b.attack_id, b.name),
                    None => format!("{} is revoked", t.attack_id),
                },
                details: Some(json!({ "field": "technique", "revoked_by": by.map(|b| &b.attack_id) })),
            });
        }
        if t.deprecated {
            return Err(unprocessable("technique", format!("{} is deprecated in ATT&CK {}", t.attack_id, c.version)));
        }
        let tactic = match tactic {
            Some(given) => {
                let shortname = c.tactic(given).map(|x| x.shortname.clone()).unwrap_or_else(|| given.to_string());
                if !t.tactics.contains(&shortname) {
                    return Err(ApiError::Unprocessable {
                        message: format!("{} is not in tactic {given:?}; it is in {}", t.attack_id, t.tactics.join(", ")),
                        details: Some(json!({ "field": "tactic", "allowed": t.tactics })),
                    });
                }
                shortname
            }
            None if t.tactics.len() == 1 => t.tactics[0].clone(),
            None => {
                return Err(ApiError::Unprocessable {
                    message: format!("{} is in several tactics; say which one it was observed in", t.attack_id),
                    details: Some(json!({ "field": "tactic", "allowed": t.tactics })),
                });
            }
        };
        let tactic_id = c.tactic(&tactic).map(|x| x.stix_id.clone()).ok_or_else(|| ApiError::internal(format!("{} names tactic {tactic}, which its domain lacks", t.attack_id)))?;
        return Ok((t.attack_id.clone(), t.name.clone(), domain, tactic, tactic_id));
    }
    Err(unprocessable("technique", format!("{} is not an ATT&CK technique of any synced domain", id)))
}

fn apply_common(m: &mut Mapping, input: &MappingInput) -> Result<(), ApiError> {
    if let Some(c) = input.confidence_score {
        if !(1..=100).contains(&c) {
            return Err(unprocessable("confidence_score", "confidence_score must be from 1 to 100"));
        }
        m.confidence_score = c as u8;
    }
    if let Some(v) = &input.detection_method {
        m.detection_method = one_of("detection_method", v, DETECTION_METHODS)?;
    }
    if let Some(v) = &input.detection_detail {
        m.detection_detail = Some(text("detection_detail", v, 1024)?);
    }
    if let Some(v) = &input.artifacts {
        m.artifacts = Some(text("artifacts", v, MAX_ARTIFACTS)?);
    }
    if let Some(v) = &input.impact_level {
        m.impact_level = one_of("impact_level", v, IMPACT_LEVELS)?;
    }
    if let Some(v) = &input.mitigation_status {
        m.mitigation_status = one_of("mitigation_status", v, MITIGATION_STATUSES)?;
    }
    if let Some(v) = &input.first_observed {
        m.first_observed = timestamp("first_observed", v)?;
    }
    if let Some(v) = &input.last_observed {
        m.last_observed = timestamp("last_observed", v)?;
    }
    if m.first_observed > m.last_observed {
        return Err(unprocessable("first_observed", "first_observed is after last_observed"));
    }
    if let Some(v) = &input.notes {
        m.notes = Some(text("notes", v, MAX_TEXT)?);
    }
    Ok(())
}

fn entities(kind: MappingKind, input: &MappingInput) -> Result<[Option<String>; 4], ApiError> {
    let given = [("alert_id", &input.alert_id), ("case_id", &input.case_id), ("incident_id", &input.incident_id), ("observable_id", &input.observable_id)];
    let fields = kind.entity_fields();
    let mut out: [Option<String>; 4] = Default::default();
    for (i, (name, value)) in given.iter().enumerate() {
        if let Some(v) = value {
            if !fields.contains(name) {
                return Err(unprocessable(name, format!("a {} mapping has no {name}", kind.as_str())));
            }
            out[i] = Some(entity_id(name, v)?);
        }
    }
    if out.iter().all(Option::is_none) {
        return Err(unprocessable(fields[0], format!("a {} mapping needs {}", kind.as_str(), fields.join(" or "))));
    }
    Ok(out)
}

fn etag(m: &Mapping) -> String {
    format!("\"{}\"", m.version)
}

fn mapping_reply(status: u16, m: &Mapping) -> Result<Reply, ApiError> {
    Ok(Reply { status, body: Some(serde_json::to_value(m).map_err(ApiError::internal)?), etag: Some(etag(m)) })
}

fn audit(who: &Identity, tenant: &str, action: &str, m: &Mapping, before: Option<&Mapping>, after: Option<&Mapping>) -> AuditEntry {
    AuditEntry {
        id: ulid::Ulid::new().to_string(),
        tenant: tenant.to_string(),
        actor: who.principal.clone(),
        action: action.to_string(),
        target: format!("{}-mappings/{}", m.kind.as_str(), m.id),
        before: before.map(|b| serde_json::to_value(b).unwrap_or(Value::Null)),
        after: after.map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
        at: now(),
        request_id: who.request_id.clone(),
    }
}

fn store_error(e: WriteError) -> ApiError {
    match e {
        WriteError::Stale => ApiError::PreconditionFailed("the mapping changed since it was read; fetch it again".into()),
        WriteError::Duplicate => ApiError::Conflict("another mapping already holds this entity, technique and tactic".into()),
        WriteError::Store(e) => e.into(),
    }
}

pub async fn create(app: &App, who: &Identity, kind: MappingKind, body: &[u8]) -> Result<Reply, ApiError> {
    who.require(Role::Analyst)?;
    let tenant = who.tenant()?.to_string();
    let input = parse_body(body)?;
    let [alert_id, case_id, incident_id, observable_id] = entities(kind, &input)?;
    let technique = input.technique.as_deref().ok_or_else(|| unprocessable("technique", "technique is required"))?;
    let (technique, technique_name, domain, tactic, tactic_id) = technique_and_tactic(app, technique, input.tactic.as_deref()).await?;
    let at = now();
    let mut m = Mapping {
        id: ulid::Ulid::new().to_string(),
        kind,
        tenant: tenant.clone(),
        alert_id,
        case_id,
        incident_id,
        observable_id,
        technique,
        technique_name,
        domain,
        tactic,
        tactic_id: Some(tactic_id),
        confidence_score: 50,
        detection_method: "manual_analysis".into(),
        detection_detail: None,
        artifacts: None,
        impact_level: "medium".into(),
        mitigation_status: "not_started".into(),
        first_observed: at.clone(),
        last_observed: at.clone(),
        notes: None,
        history: Vec::new(),
        needs_review: None,
        created_by: who.principal.clone(),
        created_at: at.clone(),
        updated_by: who.principal.clone(),
        updated_at: at,
        version: 1,
    };
    if input.first_observed.is_none() && input.last_observed.is_some() {
        m.first_observed = timestamp("last_observed", input.last_observed.as_deref().unwrap_or_default())?.min(m.first_observed.clone());
    }
    if input.first_observed.is_some() && input.last_observed.is_none() {
        m.last_observed = timestamp("first_observed", input.first_observed.as_deref().unwrap_or_default())?.max(m.last_observed.clone());
    }
    apply_common(&mut m, &input)?;
    for _ in 0..5 {
        match app.store.create_mapping(&m, audit(who, &tenant, "mapping.create", &m, None, Some(&m))).await {
            Ok(()) => return mapping_reply(201, &m),
            Err(WriteError::Duplicate) => {
                // The same entity, technique and tactic: merge the observation into the existing mapping.
                let Some(existing) = app.store.mapping_by_guard(&m).await? else { continue };
                let mut merged = existing.clone();
                merged.first_observed = existing.first_observed.clone().min(m.first_observed.clone());
                merged.last_observed = existing.last_observed.clone().max(m.last_observed.clone());
                merged.confidence_score = existing.confidence_score.max(m.confidence_score);
                merged.updated_by = who.principal.clone();
                merged.updated_at = now();
                merged.version = existing.version + 1;
                match app.store.update_mapping(&existing, &merged, audit(who, &tenant, "mapping.merge", &merged, Some(&existing), Some(&merged))).await {
                    Ok(()) => return mapping_reply(200, &merged),
                    Err(WriteError::Stale) => continue,
                    Err(e) => return Err(store_error(e)),
                }
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::Conflict("the mapping is being changed by others; try again".into()))
}

async fn load(app: &App, tenant: &str, kind: MappingKind, id: &str) -> Result<Mapping, ApiError> {
    let valid = id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric());
    let not_found = || ApiError::NotFound(format!("no {} mapping {id:?}", kind.as_str()));
    if !valid {
        return Err(not_found());
    }
    app.store.mapping(tenant, kind, id).await?.ok_or_else(not_found)
}

/// Shows the tactic under its current shortname: a mapping names its tactic by identity, so a
/// tactic that ATT&CK renamed since the mapping was written is followed without a write.
async fn current_tactic(app: &App, mut m: Mapping) -> Result<Mapping, ApiError> {
    if let Some(id) = &m.tactic_id
        && let Ok(c) = app.catalog.domain(m.domain).await
        && let Some(t) = c.tactics.iter().find(|t| &t.stix_id == id)
    {
        m.tactic = t.shortname.clone();
    }
    Ok(m)
}

pub async fn get(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<Reply, ApiError> {
    who.require(Role::Viewer)?;
    let m = current_tactic(app, load(app, who.tenant()?, kind, id).await?).await?;
    mapping_reply(200, &m)
}

/// The version an If-Match header names.
pub fn if_match(header: Option<&str>) -> Result<u64, ApiError> {
    let h = header.ok_or_else(|| ApiError::BadRequest {
        code: "missing_if_match",
        message: "this change needs an If-Match header with the mapping's ETag".into(),
        details: Some(json!({ "header": "If-Match" })),
    })?;
    h.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map_err(|_| ApiError::BadRequest { code: "invalid_header", message: format!("If-Match {h:?} is not an ETag of this API"), details: Some(json!({ "header": "If-Match" })) })
}

pub async fn update(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8], if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    who.require(Role::Analyst)?;
    let tenant = who.tenant()?.to_string();
    let expected = if_match(if_match_header)?;
    let input = parse_body(body)?;
    for (name, v) in [("alert_id", &input.alert_id), ("case_id", &input.case_id), ("incident_id", &input.incident_id), ("observable_id", &input.observable_id)] {
        if v.is_some() {
            return Err(unprocessable(name, format!("{name} of a mapping cannot change; create a new mapping")));
        }
    }
    let old = load(app, &tenant, kind, id).await?;
    if old.version != expected {
        return Err(ApiError::PreconditionFailed(format!("the mapping is at version {}, not {expected}", old.version)));
    }
    let mut new = old.clone();
    if input.technique.is_some() || input.tactic.is_some() {
        let technique = input.technique.clone().unwrap_or_else(|| old.technique.clone());
        let tactic = input.tactic.as_deref().or(if input.technique.is_some() { None } else { Some(old.tactic.as_str()) });
        let (t, name, domain, tactic, tactic_id) = technique_and_tactic(app, &technique, tactic).await?;
        new.technique = t;
        new.technique_name = name;
        new.domain = domain;
        new.tactic = tactic;
        new.tactic_id = Some(tactic_id);
        new.needs_review = None;
    }
    apply_common(&mut new, &input)?;
    new.updated_by = who.principal.clone();
    new.updated_at = now();
    new.version = old.version + 1;
    app.store.update_mapping(&old, &new, audit(who, &tenant, "mapping.update", &new, Some(&old), Some(&new))).await.map_err(store_error)?;
    mapping_reply(200, &new)
}

pub async fn delete(app: &App, who: &Identity, kind: MappingKind, id: &str, if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    who.require(Role::Analyst)?;
    let tenant = who.tenant()?.to_string();
    let expected = if_match(if_match_header)?;
    let m = load(app, &tenant, kind, id).await?;
    if m.version != expected {
        return Err(ApiError::PreconditionFailed(format!("the mapping is at version {}, not {expected}", m.version)));
    }
    app.store.delete_mapping(&m, audit(who, &tenant, "mapping.delete", &m, Some(&m), None)).await.map_err(store_error)?;
    Ok(Reply { status: 204, body: None, etag: None })
}

/// A DynamoDB continuation key as an opaque cursor bound to one list's filters.
pub fn encode_cursor(key: &HashMap<String, AttributeValue>, fingerprint: &str) -> String {
    let k: HashMap<&str, &str> = key.iter().filter_map(|(n, v)| v.as_s().ok().map(|s| (n.as_str(), s.as_str()))).collect();
    URL_SAFE_NO_PAD.encode(json!({ "k": k, "f": fingerprint }).to_string())
}

pub fn decode_cursor(cursor: Option<&str>, fingerprint: &str) -> Result<Option<HashMap<String, AttributeValue>>, ApiError> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::bad_param("cursor", "cursor is not valid for this list; start again without it");
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v["f"] != fingerprint {
        return Err(bad());
    }
    let k = v["k"].as_object().ok_or_else(bad)?;
    Ok(Some(k.iter().filter_map(|(n, v)| v.as_str().map(|s| (n.clone(), AttributeValue::S(s.to_string())))).collect()))
}

pub async fn list(app: &App, who: &Identity, kind: MappingKind, params: &Params) -> Result<Reply, ApiError> {
    who.require(Role::Viewer)?;
    let tenant = who.tenant()?;
    let limit = params.limit()?;
    let mut filters: Vec<String> = Vec::new();
    let mut values: HashMap<String, AttributeValue> = HashMap::new();
    let mut access: Option<(Option<&'static str>, String, Option<String>)> = None;
    for (i, field) in kind.entity_fields().iter().enumerate() {
        if let Some(v) = params.str(field) {
            let v = entity_id(field, v).map_err(|_| ApiError::bad_param(field, format!("{field} is not a valid id")))?;
            if access.is_none() {
                let (index, pk) = entity_index(tenant, kind, field, &v);
                access = Some((Some(index), pk, None));
            } else {
                filters.push(format!("{field} = :e{i}"));
                values.insert(format!(":e{i}"), AttributeValue::S(v));
            }
        }
    }
    if let Some(t) = params.str("technique") {
        let t = TechniqueId::parse(t).map_err(|e| ApiError::bad_param("technique", e.to_string()))?;
        if access.is_none() {
            access = Some((Some("gsi3"), technique_gsi(t.as_str()), Some(format!("T#{tenant}#{}#", kind.as_str()))));
        } else {
            filters.push("technique = :t".into());
            values.insert(":t".into(), AttributeValue::S(t.as_str().to_string()));
        }
    }
    if let Some(t) = params.str("tactic") {
        // a TA id, name, shortname or STIX id of any synced domain: mappings of that tactic's
        // identity (whatever it was called when they were written), and older mappings by shortname
        let mut shortname = t.to_ascii_lowercase();
        let mut stix_id = None;
        for d in app.catalog.domains().await? {
            if let Some(x) = app.catalog.domain(d).await?.tactic(t) {
                shortname = x.shortname.clone();
                stix_id = Some(x.stix_id.clone());
                break;
            }
        }
        match stix_id {
            Some(id) => {
                filters.push("(tactic_id = :tid OR (attribute_not_exists(tactic_id) AND tactic = :tac))".into());
                values.insert(":tid".into(), AttributeValue::S(id));
            }
            None => filters.push("tactic = :tac".into()),
        }
        values.insert(":tac".into(), AttributeValue::S(shortname));
    }
    if let Some(f) = params.str("observed_from") {
        let f = timestamp("observed_from", f).map_err(|_| ApiError::bad_param("observed_from", "observed_from must be an RFC 3339 timestamp"))?;
        filters.push("last_observed >= :from".into());
        values.insert(":from".into(), AttributeValue::S(f));
    }
    if let Some(t) = params.str("observed_to") {
        let t = timestamp("observed_to", t).map_err(|_| ApiError::bad_param("observed_to", "observed_to must be an RFC 3339 timestamp"))?;
        filters.push("first_observed <= :to".into());
        values.insert(":to".into(), AttributeValue::S(t));
    }
    let (index, pk, prefix) = access.unwrap_or((None, mapping_pk(tenant, kind), Some("M#".into())));
    let fingerprint = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(format!("{tenant}|{}|{pk}|{prefix:?}|{filters:?}|{values:?}", kind.as_str()).as_bytes()));
    let start = decode_cursor(params.str("cursor"), &fingerprint)?;
    let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
    let (page, next) = app
        .store
        .query_filled(index, &pk, prefix.as_deref(), filter.as_deref().map(|f| (f, values.clone())), &[], start, limit, false)
        .await?;
    let mut items = Vec::with_capacity(page.len());
    for item in page {
        items.push(current_tactic(app, mapping_from_item(item)?).await?);
    }
    let next_cursor = next.map(|k| encode_cursor(&k, &fingerprint));
    Ok(Reply { status: 200, body: Some(json!({ "items": items, "next_cursor": next_cursor })), etag: None })
}
