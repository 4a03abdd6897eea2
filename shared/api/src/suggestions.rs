//! Technique suggestions from alert text and observables (`POST suggestions`, every registered
//! principal) and auto-mapping (`POST {alerts,incidents,observables}/{id}/enrich`, analysts and
//! up): `mitre-suggest` computes, with evidence for every suggestion; this module reads the
//! request, keeps one engine per synced release in memory, and replies. An analyzer's scheduled
//! enrichment calls the same route, so it runs this same code.
use std::collections::HashMap;
use std::sync::Arc;

use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_domain::mapping::resolve;
use mitre_domain::{DetectionMethod, Mapping, MappingInput, MappingKind, Role};
use mitre_suggest::{Engine, Observable, Request, RequestErrorKind, Suggestion};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::{parse_json, record_as};
use crate::params::Params;
use crate::{App, Reply};

/// The suggestion engine of each synced release, built on first use (about 0.2 s).
#[derive(Default)]
pub struct Engines(Mutex<HashMap<Domain, (String, Arc<Engine>)>>);

impl Engines {
    async fn of(&self, catalog: &Arc<DomainCatalog>) -> Result<Arc<Engine>, ApiError> {
        let mut engines = self.0.lock().await;
        if let Some((sha, e)) = engines.get(&catalog.domain)
            && *sha == catalog.bundle_sha256
        {
            return Ok(e.clone());
        }
        let started = std::time::Instant::now();
        let engine = Arc::new(Engine::new(catalog, mitre_suggest::DEFAULT_RULES).map_err(ApiError::internal)?);
        tracing::info!(domain = %catalog.domain, ms = started.elapsed().as_millis() as u64, "suggestion engine built");
        engines.insert(catalog.domain, (catalog.bundle_sha256.clone(), engine.clone()));
        Ok(engine)
    }
}

/// The body of `POST suggestions` and `POST .../enrich`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestInput {
    /// Alert text, at most 64 KiB.
    #[serde(default)]
    pub text: String,
    /// At most 100 typed values: command_line, process, parent_process, file, registry, domain,
    /// url, ip, hash, user_agent, email, user, host, cloud_api.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub observables: Vec<Observable>,
    /// enterprise-attack (default), mobile-attack or ics-attack; it must be synced.
    pub domain: Option<String>,
    /// 1 to 20 (default 5).
    #[schema(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable { message: message.into(), details: Some(json!({ "field": field })) }
}

/// The request checked (sizes first: 413; then values: 400 naming the field), with the catalog
/// of its domain.
async fn prepare(app: &App, body: &[u8]) -> Result<(Request, Arc<DomainCatalog>), ApiError> {
    let input: SuggestInput = parse_json(body)?;
    let request = Request { text: input.text, observables: input.observables, limit: input.limit.unwrap_or(mitre_suggest::DEFAULT_LIMIT) };
    if let Err(e) = request.validate() {
        return Err(match e.kind {
            RequestErrorKind::TooLarge => ApiError::TooLarge { message: e.message, field: e.field },
            RequestErrorKind::BadValue => ApiError::BadRequest { code: "invalid_field", message: e.message, details: Some(json!({ "field": e.field })) },
        });
    }
    let domain: Domain = match input.domain.as_deref() {
        None => Domain::EnterpriseAttack,
        Some(d) => d.parse().map_err(|_| field_error("domain", "domain must be one of enterprise-attack, mobile-attack, ics-attack"))?,
    };
    if !app.catalog.domains().await?.contains(&domain) {
        return Err(field_error("domain", format!("{domain} has not been synced")));
    }
    Ok((request, app.catalog.domain(domain).await?))
}

pub async fn suggest(app: &App, who: &Identity, body: &[u8]) -> Result<Reply, ApiError> {
    who.require(Role::Viewer)?;
    let (request, catalog) = prepare(app, body).await?;
    let analysis = app.engines.of(&catalog).await?.analyze(&request);
    Ok(Reply::json(json!({
        "items": analysis.suggestions,
        "notes": analysis.notes,
        "domain": catalog.domain,
        "release": catalog.version,
        "auto_map_threshold": app.settings.enrich_threshold,
    })))
}

/// The mapping an auto-suggestion becomes: its first tactic in matrix order (flagged for an
/// analyst when the technique has several), the score as confidence, the evidence kept.
fn planned(catalog: &DomainCatalog, kind: MappingKind, id: &str, who: &Identity, s: &Suggestion) -> Result<Mapping, ApiError> {
    let tactics: Vec<&str> = catalog.tactics.iter().filter(|t| s.tactics.contains(&t.shortname)).map(|t| t.shortname.as_str()).collect();
    let first = tactics.first().copied();
    let mut input = MappingInput {
        technique: Some(s.technique.clone()),
        tactic: first.map(str::to_string),
        confidence_score: Some(((s.score * 100.0).round() as i64).clamp(1, 100)),
        detection_detail: Some(format!("suggestion engine, score {:.2}", s.score)),
        ..MappingInput::default()
    };
    match kind.entity_fields()[0] {
        "alert_id" => input.alert_id = Some(id.to_string()),
        "incident_id" => input.incident_id = Some(id.to_string()),
        _ => input.observable_id = Some(id.to_string()),
    }
    let resolved = resolve([catalog], &s.technique, input.tactic.as_deref())?;
    let mut m = Mapping::create(kind, who.tenant()?, &input, resolved, &who.principal)?;
    m.detection_method = DetectionMethod::AutoSuggested;
    m.evidence = s.evidence.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
    if tactics.len() > 1 {
        m.needs_review =
            Some(format!("auto-suggested in {}, the first of its tactics in matrix order ({}): confirm the tactic", tactics[0], tactics.join(", ")));
    }
    Ok(m)
}

pub async fn enrich(app: &App, who: &Identity, kind: MappingKind, id: &str, params: &Params, body: &[u8]) -> Result<Reply, ApiError> {
    who.require(Role::Analyst)?;
    who.tenant()?;
    let dry_run = params.bool("dry_run", false)?;
    let field = kind.entity_fields()[0];
    let id = mitre_domain::mapping::entity_id(field, id).map_err(|e| ApiError::NotFound(e.message))?;
    let (request, catalog) = prepare(app, body).await?;
    let analysis = app.engines.of(&catalog).await?.analyze(&request);
    let threshold = app.settings.enrich_threshold;
    // every mapping is planned (and checked) before the first is written
    let plan: Vec<Mapping> =
        analysis.suggestions.iter().filter(|s| s.score >= threshold).map(|s| planned(&catalog, kind, &id, who, s)).collect::<Result<_, _>>()?;
    let mut mapped = Vec::new();
    for m in plan {
        if dry_run {
            mapped.push(json!({ "status": "would_map", "mapping": m }));
            continue;
        }
        let reply = record_as(app, who, m, "mapping.enrich").await?;
        let status = if reply.status == 201 { "created" } else { "merged" };
        if let crate::ReplyBody::Json(v) = reply.body {
            mapped.push(json!({ "status": status, "mapping": v }));
        }
    }
    Ok(Reply::json(json!({
        "dry_run": dry_run,
        "threshold": threshold,
        "mapped": mapped,
        "suggestions": analysis.suggestions,
        "notes": analysis.notes,
    })))
}
