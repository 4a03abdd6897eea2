//! Technique suggestions from alert text and observables (`POST suggestions`, every registered
//! principal) and auto-mapping (`POST {alerts,incidents,observables}/{id}/enrich`, analysts and
//! up): `mitre-suggest` computes, with evidence for every suggestion; this module reads the
//! request, keeps one engine per synced release in memory, and replies. An analyzer's scheduled
//! enrichment calls the same route, so it runs this same code.
use std::sync::Arc;

use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_domain::mapping::resolve;
use mitre_domain::{DetectionMethod, Mapping, MappingInput, MappingKind};
use mitre_suggest::feedback::{Decision, Feedback, Verdicts};
use mitre_suggest::{Engine, Observable, Request, RequestErrorKind, Suggestion};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog_cache::PerRelease;
use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::{parse_json, record_as};
use crate::params::Params;
use crate::{App, Reply};

/// The suggestion engine of each synced release, built on first use (about 0.2 s).
#[derive(Default)]
pub struct Engines(PerRelease<Engine>);

impl Engines {
    async fn of(&self, catalog: &DomainCatalog) -> Result<Arc<Engine>, ApiError> {
        self.0.of(catalog, "suggestion engine", |c| Engine::new(c, mitre_suggest::DEFAULT_RULES).map_err(ApiError::internal)).await
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
    pub observables: Vec<ObservableInput>,
    /// enterprise-attack (default), mobile-attack or ics-attack; it must be synced.
    pub domain: Option<String>,
    /// 1 to 20 (default 5).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "integral")]
    pub limit: Option<i64>,
}

/// One observable of the body: `type` and `value`, and nothing else (an unknown field is refused
/// with 400, as everywhere in the API).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservableInput {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl From<ObservableInput> for Observable {
    fn from(o: ObservableInput) -> Observable {
        Observable { kind: o.kind, value: o.value }
    }
}

/// An integer, also as JSON may write it with a zero fraction (`5.0` is the integer 5), as the
/// document's `"type": "integer"` means it.
pub(crate) fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            _ => Err(serde::de::Error::custom(format!("invalid type: {n} is not an integer"))),
        },
    }
}

/// The `domain` of a body (enterprise-attack by default): 422 when it is none of the domains or
/// has not been synced.
pub(crate) async fn synced_domain(app: &App, domain: Option<&str>) -> Result<Domain, ApiError> {
    let domain: Domain = match domain {
        None => Domain::EnterpriseAttack,
        Some(d) => d.parse().map_err(|_| field_error("domain", "domain must be one of enterprise-attack, mobile-attack, ics-attack"))?,
    };
    if !app.catalog.domains().await?.contains(&domain) {
        return Err(field_error("domain", format!("{domain} has not been synced")));
    }
    Ok(domain)
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable { message: message.into(), details: Some(json!({ "field": field })) }
}

/// The request checked (sizes first: 413; then values: 400 naming the field), with the catalog
/// of its domain.
async fn prepare(app: &App, body: &[u8]) -> Result<(Request, Arc<DomainCatalog>), ApiError> {
    let input: SuggestInput = parse_json(body)?;
    let request = Request {
        text: input.text,
        observables: input.observables.into_iter().map(Observable::from).collect(),
        limit: input.limit.unwrap_or(mitre_suggest::DEFAULT_LIMIT),
    };
    if let Err(e) = request.validate() {
        return Err(match e.kind {
            RequestErrorKind::TooLarge => ApiError::TooLarge { message: e.message, field: e.field },
            RequestErrorKind::BadValue => ApiError::BadRequest { code: "invalid_field", message: e.message, details: Some(json!({ "field": e.field })) },
        });
    }
    let domain = synced_domain(app, input.domain.as_deref()).await?;
    Ok((request, app.catalog.domain(domain).await?))
}

pub async fn suggest(app: &App, body: &[u8]) -> Result<Reply, ApiError> {
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
    who.tenant()?;
    let dry_run = params.bool("dry_run", false)?;
    let entity = mitre_domain::EntityRef::parse(kind, id).map_err(|e| ApiError::NotFound(e.message))?;
    // an entity the caller may not see is answered as one that does not exist, dry run or not
    crate::mappings::visible_entities(app, who, std::slice::from_ref(&entity)).await?;
    let id = entity.id;
    let (request, catalog) = prepare(app, body).await?;
    let analysis = app.engines.of(&catalog).await?.analyze(&request);
    let threshold = app.settings.enrich_threshold;
    // what the tenant's analysts decided before on the same technique and evidence: a rejected
    // pair is not auto-mapped again, a confirmed one is trusted below the threshold; only the
    // best suggestion is auto-mapped on its score
    let suggested: Vec<String> =
        analysis.suggestions.iter().map(|s| s.technique.to_ascii_uppercase()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let verdicts = app.feedback.verdicts(who.tenant()?, &suggested).await?;
    let feedback = Feedback::from_counts(verdicts.into_iter().map(|((t, s), (confirmed, rejected))| (t, s, Verdicts { confirmed, rejected })));
    let decisions: Vec<Decision> = feedback.decide_all(&analysis.suggestions, threshold);
    // every mapping is planned (and checked) before the first is written
    let plan: Vec<Mapping> =
        analysis.suggestions.iter().zip(&decisions).filter(|(_, d)| d.maps()).map(|(s, _)| planned(&catalog, kind, &id, who, s)).collect::<Result<_, _>>()?;
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
        // each suggestion with what became of it here (mapped, below the threshold, or as the
        // tenant's reviews decided)
        "suggestions": analysis.suggestions.iter().zip(&decisions).map(|(s, d)| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["auto_map"] = serde_json::to_value(d).unwrap_or(Value::Null);
            v
        }).collect::<Vec<_>>(),
        "notes": analysis.notes,
    })))
}

/// Enrichment asked for by a platform event rather than a request: `POST {kind}s/{id}/enrich`
/// with no parameters, by `who`.
pub async fn enrich_entity(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let spec = crate::routes::ROUTES
        .iter()
        .find(|r| r.id == crate::routes::RouteId::Enrich(kind))
        .ok_or_else(|| ApiError::NotFound(format!("{kind}s are not enriched")))?;
    enrich(app, who, kind, id, &Params::none(spec), body).await
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use mitre_attack::catalog::DomainCatalog;
    use mitre_attack::{Domain, fixtures, parse_bundle};
    use mitre_domain::{AuditFilter, AuditLog, MemoryRepos, Principal, PrincipalRepo, TenantId};
    use serde_json::{Value, json};

    use crate::testing::{Answer, Call};
    use crate::{App, Settings};

    pub(crate) const P: &str = "/api/v1/mitre";
    pub(crate) const ANALYST: &str = "arn:aws:iam::1:user/a-analyst";

    /// The API over the small fixture catalog, with one analyst of tenant acme.
    pub(crate) async fn world() -> (App, Arc<MemoryRepos>) {
        let text = fixtures::small_bundle("2.1");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
        let repos = Arc::new(MemoryRepos::new());
        let p = Principal::register(ANALYST, "acme", "analyst", &[], "setup", None).unwrap();
        let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", format!("principals/{}", p.principal), None, Some(&p), "setup");
        repos.put_principal(&p, audit).await.unwrap();
        let settings = Settings { metric_lines: false, ..Settings::default() };
        (App::in_memory(&[catalog], repos.clone(), settings).unwrap(), repos)
    }

    pub(crate) async fn call(app: &App, method: &str, path: &str, if_match: Option<&str>, body: Value) -> Answer {
        Call::new(method, &format!("{P}{path}")).by(ANALYST).if_match(if_match).json(&body).send(app).await
    }

    /// The mapping writes audited in tenant acme.
    pub(crate) async fn mapping_writes(repos: &MemoryRepos) -> usize {
        let filter = AuditFilter { tenant: Some(TenantId::parse("acme").unwrap()), ..AuditFilter::default() };
        repos.list_audit(&filter, 500, None).await.unwrap().items.iter().filter(|e| e.action.starts_with("mapping.")).count()
    }

    /// What enrich maps the alert from: the technique named outright, so it clears the threshold.
    fn alert(extra: Option<(&str, Value)>) -> Value {
        let mut observable = json!({"type": "command_line", "value": "powershell.exe -enc SQBFAFgA"});
        if let Some((k, v)) = extra {
            observable[k] = v;
        }
        json!({"text": "EDR: T1059.001 PowerShell ran an encoded command", "observables": [observable]})
    }

    #[tokio::test]
    async fn an_observable_with_an_unknown_property_is_refused_and_nothing_is_written() {
        let (app, repos) = world().await;
        let bad = alert(Some(("x-unknown", json!(42))));
        for path in ["/suggestions", "/alerts/A-1/enrich", "/alerts/A-1/enrich?dry_run=true"] {
            let r = call(&app, "POST", path, None, bad.clone()).await;
            assert_eq!((r.status, r.body["error"]["code"].as_str()), (400, Some("invalid_body")), "{path}: {}", r.body);
            assert!(r.body["error"]["message"].as_str().unwrap().contains("x-unknown"), "{}", r.body);
        }
        assert_eq!(mapping_writes(&repos).await, 0);
        let r = call(&app, "GET", "/alert-mappings?alert_id=A-1", None, Value::Null).await;
        assert_eq!(r.body["items"], json!([]));
        // the same alert without the unknown property is mapped: the refusal alone kept it unwritten
        let r = call(&app, "POST", "/alerts/A-1/enrich", None, alert(None)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["mapped"][0]["status"], "created", "{}", r.body);
        assert!(mapping_writes(&repos).await > 0);
    }

    #[tokio::test]
    async fn limit_is_an_integer_also_written_with_a_zero_fraction() {
        let (app, _) = world().await;
        let mut body = alert(None);
        for (limit, status) in [(json!(1.0), 200), (json!(1), 200), (json!(1.5), 400), (json!(0.0), 400), (json!(21), 400)] {
            body["limit"] = limit.clone();
            let r = call(&app, "POST", "/suggestions", None, body.clone()).await;
            assert_eq!(r.status, status, "limit {limit}: {}", r.body);
            if status == 200 {
                assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1), "limit {limit}: {}", r.body);
            }
        }
    }

    /// An analyst rejects what enrichment mapped: the same technique on the same evidence is not
    /// auto-mapped again in that tenant (still suggested, saying why), and still is in another.
    #[tokio::test]
    async fn a_rejected_auto_mapping_is_not_made_again_on_the_same_evidence_in_its_tenant() {
        let (app, repos) = world().await;
        let r = call(&app, "POST", "/alerts/A-1/enrich", None, alert(None)).await;
        assert_eq!(r.body["mapped"][0]["status"], "created", "{}", r.body);
        let (id, technique) = (r.body["mapped"][0]["mapping"]["id"].as_str().unwrap().to_string(), r.body["mapped"][0]["mapping"]["technique"].clone());
        let r = call(&app, "POST", &format!("/alert-mappings/{id}/reject"), Some("*"), json!({"reason": "the admins' own script"})).await;
        assert_eq!(r.status, 200, "{}", r.body);

        let r = call(&app, "POST", "/alerts/A-2/enrich", None, alert(None)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["mapped"].as_array().unwrap().iter().all(|m| m["mapping"]["technique"] != technique), "{}", r.body);
        let s = r.body["suggestions"].as_array().unwrap().iter().find(|s| s["technique"] == technique).unwrap();
        assert_eq!((s["auto_map"]["decision"].as_str(), s["auto_map"]["rejected"].as_u64()), (Some("suppressed"), Some(1)), "{s}");

        // another tenant's analyst: its own reviews only
        let other = "arn:aws:iam::1:user/b-analyst";
        let p = Principal::register(other, "globex", "analyst", &[], "setup", None).unwrap();
        let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", format!("principals/{other}"), None, Some(&p), "setup");
        repos.put_principal(&p, audit).await.unwrap();
        let r = Call::new("POST", &format!("{P}/alerts/A-1/enrich")).by(other).json(&alert(None)).send(&app).await;
        assert_eq!((r.status, &r.body["mapped"][0]["mapping"]["technique"]), (200, &technique), "{}", r.body);
        assert_eq!(r.body["suggestions"][0]["auto_map"]["decision"], "map", "{}", r.body);
    }
}
