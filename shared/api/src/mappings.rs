//! Technique mappings of alerts, incidents, cases and observables: tenant-scoped, validated
//! against the catalog, versioned (ETag / If-Match) and audited. The rules are the domain's
//! (`mitre_domain::Mapping`); this module reads the request, applies them and replies.
use std::sync::Arc;

use mitre_attack::TechniqueId;
use mitre_attack::catalog::DomainCatalog;
use mitre_domain::mapping::{Resolved, resolve};
use mitre_domain::{
    AuditEntry, DetectionMethod, EntityAccess, EntityRef, ImpactLevel, Mapping, MappingFilter, MappingInput, MappingKind, MitigationStatus, Precondition,
    TacticFilter, WriteError,
};
use serde_json::json;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::params::Params;
use crate::{App, Reply, ReplyBody};

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

/// Every synced catalog, enterprise first.
async fn catalogs(app: &App) -> Result<Vec<Arc<DomainCatalog>>, ApiError> {
    let mut out = Vec::new();
    for d in app.catalog.domains().await? {
        out.push(app.catalog.domain(d).await?);
    }
    Ok(out)
}

/// The technique (and tactic) checked against the synced catalogs.
pub(crate) async fn resolved(app: &App, technique: &str, tactic: Option<&str>) -> Result<Resolved, ApiError> {
    let catalogs = catalogs(app).await?;
    Ok(resolve(catalogs.iter().map(|c| c.as_ref()), technique, tactic)?)
}

fn etag(m: &Mapping) -> String {
    format!("\"{}\"", m.version)
}

pub(crate) fn mapping_reply(status: u16, m: &Mapping) -> Result<Reply, ApiError> {
    Ok(Reply { status, body: ReplyBody::Json(serde_json::to_value(m).map_err(ApiError::internal)?), etag: Some(etag(m)) })
}

pub(crate) fn audit(who: &Identity, action: &str, m: &Mapping, before: Option<&Mapping>, after: Option<&Mapping>) -> AuditEntry {
    AuditEntry::of(&m.tenant, &who.principal, action, m.target(), before, after, &who.request_id)
}

pub(crate) fn write_error(e: WriteError) -> ApiError {
    match e {
        WriteError::Stale => ApiError::PreconditionFailed("the mapping changed since it was read; fetch it again".into()),
        WriteError::Duplicate => ApiError::Conflict("another mapping already holds this entity, technique and tactic".into()),
        e @ WriteError::Contended => ApiError::Overtaken(Box::new(e)),
        WriteError::Repo(e) => e.into(),
    }
}

pub async fn create(app: &App, who: &Identity, kind: MappingKind, body: &[u8]) -> Result<Reply, ApiError> {
    let tenant = who.tenant()?;
    let input: MappingInput = parse_json(body)?;
    input.entities(kind)?;
    let technique = resolved(app, input.required_technique()?, input.tactic.as_deref()).await?;
    let m = Mapping::create(kind, tenant, &input, technique, &who.principal)?;
    record(app, who, m).await
}

/// Stores a new observation: created (201), or merged into the mapping of the same entity,
/// technique and tactic (200). Automated enrichment relies on this to stay idempotent.
pub async fn record(app: &App, who: &Identity, m: Mapping) -> Result<Reply, ApiError> {
    record_as(app, who, m, "mapping.create").await
}

/// The access records of `entities` (read consistently), when the caller may see every one of
/// them; else 404, as for an entity that has nothing. Every write of a mapping copies them onto
/// the mapping, and holds only while they stay at their versions.
pub async fn visible_entities(app: &App, who: &Identity, entities: &[EntityRef]) -> Result<Vec<EntityAccess>, ApiError> {
    let records = app.access.entity_access(who.tenant()?, entities).await?;
    let sight = who.sight();
    match records.iter().find(|r| !sight.sees_entity(r)) {
        Some(hidden) => Err(ApiError::NotFound(format!("no {} {:?}", hidden.entity.kind, hidden.entity.id))),
        None => Ok(records),
    }
}

/// [`record`], audited as `created_as` when the mapping is new (a merge is `mapping.merge`).
/// One attempt: a writer that lost a race with another writer of the same mapping is overtaken,
/// and the request is tried again as a whole (`dispatch`); 409 when every try was overtaken.
pub async fn record_as(app: &App, who: &Identity, m: Mapping, created_as: &str) -> Result<Reply, ApiError> {
    let overtaken = || ApiError::Overtaken("another writer changed the mapping this observation merges into".into());
    let records = visible_entities(app, who, &m.entities()).await?;
    let m = m.stamped(&records);
    match app.mappings.create_mapping(&m, audit(who, created_as, &m, None, Some(&m))).await {
        Ok(()) => mapping_reply(201, &m),
        Err(WriteError::Duplicate) => {
            // the mapping went again between the two calls
            let existing = app.mappings.same_mapping(&m).await?.ok_or_else(overtaken)?;
            let merged = existing.merged_with(&m, &who.principal).stamped(&records);
            match app.mappings.update_mapping(&existing, &merged, audit(who, "mapping.merge", &merged, Some(&existing), Some(&merged))).await {
                Ok(()) => mapping_reply(200, &merged),
                Err(WriteError::Stale) => Err(overtaken()),
                Err(e) => Err(write_error(e)),
            }
        }
        Err(e) => Err(write_error(e)),
    }
}

/// The mapping `id` of the caller's tenant, when the caller may see it (by the copies of its
/// entities' access it carries); else 404, as for one that does not exist.
async fn load(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<Mapping, ApiError> {
    let valid = id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric());
    let not_found = || ApiError::NotFound(format!("no {} mapping {id:?}", kind.as_str()));
    if !valid {
        return Err(not_found());
    }
    let sight = who.sight();
    app.mappings.mapping(who.tenant()?, kind, id).await?.filter(|m| sight.sees(m)).ok_or_else(not_found)
}

/// The mapping `id` about to change: visible to the caller by the current access records of its
/// entities (not only by its copies), which the write copies afresh.
pub(crate) async fn load_for_change(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<(Mapping, Vec<EntityAccess>), ApiError> {
    let m = load(app, who, kind, id).await?;
    // a hidden entity answers as the mapping not existing; a busy or failed read stays what it is
    let records = visible_entities(app, who, &m.entities()).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound(format!("no {} mapping {id:?}", kind.as_str())),
        e => e,
    })?;
    Ok((m, records))
}

/// Shows the tactic under its current shortname: a mapping names its tactic by identity, so a
/// tactic that ATT&CK renamed since the mapping was written is followed without a write.
async fn current_tactic(app: &App, mut m: Mapping) -> Mapping {
    if let Some(id) = &m.tactic_id
        && let Ok(c) = app.catalog.domain(m.domain).await
        && let Some(t) = c.tactics.iter().find(|t| &t.stix_id == id)
    {
        m.tactic = t.shortname.clone();
    }
    m
}

pub async fn get(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<Reply, ApiError> {
    let m = current_tactic(app, load(app, who, kind, id).await?).await;
    mapping_reply(200, &m)
}

/// The precondition an If-Match header states: `*` (any current version) or one ETag of this
/// API, its version in quotes (`"3"`, or weak: `W/"3"`), blanks around it allowed: exactly what
/// the document's pattern (`openapi::IF_MATCH_PATTERN`) says. A change without one is refused
/// with 428, a malformed one (an unquoted or half-quoted version, a list, a sign) with 400.
pub fn if_match(header: Option<&str>) -> Result<Precondition, ApiError> {
    let h = header.ok_or_else(|| ApiError::PreconditionRequired("this change needs an If-Match header with the mapping's ETag (or *)".into()))?;
    let value = h.trim_matches([' ', '\t']);
    if value == "*" {
        return Ok(Precondition::Any);
    }
    let tag = value.strip_prefix("W/").unwrap_or(value);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|v| (1..=19).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Precondition::Version)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_header",
            message: format!("If-Match {h:?} is not an ETag of this API: give the mapping's ETag as read (\"3\" or W/\"3\") or *"),
            details: Some(json!({ "header": "If-Match" })),
        })
}

pub(crate) fn check(m: &Mapping, expected: Precondition) -> Result<(), ApiError> {
    match expected {
        _ if m.matches(expected) => Ok(()),
        Precondition::Version(v) => Err(ApiError::PreconditionFailed(format!("the mapping is at version {}, not {v}", m.version))),
        Precondition::Any => Ok(()),
    }
}

pub async fn update(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8], if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let expected = if_match(if_match_header)?;
    let input: MappingInput = parse_json(body)?;
    input.keeps_entities()?;
    let (old, records) = load_for_change(app, who, kind, id).await?;
    check(&old, expected)?;
    let technique = match old.technique_change(&input) {
        Some((technique, tactic)) => Some(resolved(app, &technique, tactic).await?),
        None => None,
    };
    let new = old.updated(&input, technique, &who.principal)?.stamped(&records);
    app.mappings.update_mapping(&old, &new, audit(who, "mapping.update", &new, Some(&old), Some(&new))).await.map_err(write_error)?;
    mapping_reply(200, &new)
}

pub async fn delete(app: &App, who: &Identity, kind: MappingKind, id: &str, if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let expected = if_match(if_match_header)?;
    let (m, records) = load_for_change(app, who, kind, id).await?;
    check(&m, expected)?;
    let m = m.stamped(&records);
    app.mappings.delete_mapping(&m, audit(who, "mapping.delete", &m, Some(&m), None)).await.map_err(write_error)?;
    Ok(Reply::no_content())
}

pub async fn list(app: &App, who: &Identity, kind: MappingKind, params: &Params) -> Result<Reply, ApiError> {
    let tenant = who.tenant()?;
    let limit = params.limit()?;
    let mut filter = MappingFilter { sight: who.sight(), ..MappingFilter::default() };
    for field in kind.entity_fields() {
        if let Some(v) = params.str(field)
            && let Some(entity_kind) = MappingKind::of_entity_field(field)
        {
            let e = EntityRef::parse(entity_kind, v).map_err(|_| ApiError::bad_param(field, format!("{field} is not a valid id")))?;
            filter.entities.push(e);
        }
    }
    if let Some(t) = params.str("technique") {
        filter.technique = Some(TechniqueId::parse(t).map_err(|e| ApiError::bad_param("technique", e.to_string()))?);
    }
    if let Some(t) = params.str("tactic") {
        // a TA id, name, shortname or STIX id of any synced domain: mappings of that tactic's
        // identity (whatever it was called when they were written), and older mappings by shortname
        let mut tactic = TacticFilter { stix_id: None, shortname: t.to_ascii_lowercase() };
        for c in catalogs(app).await? {
            if let Some(x) = c.tactic(t) {
                tactic = TacticFilter { stix_id: Some(x.stix_id.clone()), shortname: x.shortname.clone() };
                break;
            }
        }
        filter.tactic = Some(tactic);
    }
    filter.observed_from = params.timestamp("observed_from")?;
    filter.observed_to = params.timestamp("observed_to")?;
    if let (Some(f), Some(t)) = (filter.observed_from, filter.observed_to)
        && f > t
    {
        return Err(ApiError::bad_param("observed_from", "observed_from is after observed_to"));
    }
    let closed = |name: &str, e: mitre_domain::Invalid| ApiError::bad_param(name, e.message);
    filter.detection_method = params.str("detection_method").map(|v| DetectionMethod::parse(v).map_err(|e| closed("detection_method", e))).transpose()?;
    filter.impact_level = params.str("impact_level").map(|v| ImpactLevel::parse(v).map_err(|e| closed("impact_level", e))).transpose()?;
    filter.mitigation_status = params.str("mitigation_status").map(|v| MitigationStatus::parse(v).map_err(|e| closed("mitigation_status", e))).transpose()?;
    filter.confidence_min = params.confidence("confidence_min")?;
    filter.confidence_max = params.confidence("confidence_max")?;
    if let (Some(lo), Some(hi)) = (filter.confidence_min, filter.confidence_max)
        && lo > hi
    {
        return Err(ApiError::bad_param("confidence_min", "confidence_min is above confidence_max"));
    }
    filter.auto_suggested = params.str("auto_suggested").map(|_| params.bool("auto_suggested", false)).transpose()?;
    filter.needs_review = params.str("needs_review").map(|_| params.bool("needs_review", false)).transpose()?;
    filter.created_by = params
        .str("created_by")
        .map(|c| if c.len() <= 512 { Ok(c.to_string()) } else { Err(ApiError::bad_param("created_by", "created_by is longer than 512 characters")) })
        .transpose()?;
    let page = app.mappings.list_mappings(tenant, kind, &filter, limit, params.str("cursor")).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for m in page.items {
        items.push(current_tactic(app, m).await);
    }
    Ok(Reply::json(json!({ "items": items, "next_cursor": page.next_cursor })))
}
