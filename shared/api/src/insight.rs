//! What a release changed for the caller's tenant (`GET attack-updates`) and where to look
//! next (`GET {kind}s/{id}/inferences`, `POST inferences`): the handlers read what the sync
//! keeps (the release changes, the tenant's inference history) and the tenant's counters or an
//! entity's mappings, and `mitre-views` computes. What the sync keeps changes once per release
//! or per rebuild (hourly), so a container keeps it decoded for `catalog_ttl` ([`Kept`]): a warm
//! request reads the caller's registry entry and at most one more item or partition.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_attack::changes::ReleaseChanges;
use mitre_domain::stats::{Counter, Window};
use mitre_domain::{HistoryRecord, MappingKind, TenantId};
use mitre_views::impact::{TenantImpact, Usage};
use mitre_views::inference::{Inferences, ProcedureSets, TenantHistory};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::catalog_cache::PerRelease;
use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::parse_json;
use crate::params::Params;
use crate::routes::RouteSpec;
use crate::{App, Reply, ReplyBody};

/// The procedure sets of each synced release, built once per release.
#[derive(Default)]
pub struct Procedures(PerRelease<ProcedureSets>);

impl Procedures {
    pub async fn of(&self, catalog: &DomainCatalog) -> Arc<ProcedureSets> {
        let built = self.0.of(catalog, "procedure sets", |c| Ok::<_, std::convert::Infallible>(ProcedureSets::of(c))).await;
        built.unwrap_or_else(|never| match never {})
    }
}

/// What the sync keeps, decoded, per container: release changes by (domain, pair) and
/// histories by (tenant, domain), each for the app's `catalog_ttl` (absent ones too; only the
/// histories of the tenants served within that time are held).
#[derive(Default)]
pub struct Kept {
    changes: Mutex<Reads<(Domain, Option<Pair>), KeptChanges>>,
    histories: Mutex<Reads<(TenantId, Domain), KeptHistory>>,
}

/// A release change: from, to.
type Pair = (String, String);

/// By key: when it was read, and what (None: there was none).
type Reads<K, T> = HashMap<K, (Instant, Option<Arc<T>>)>;

pub struct KeptChanges {
    pub changes: ReleaseChanges,
    pub computed_at: mitre_domain::Timestamp,
}

pub struct KeptHistory {
    pub history: TenantHistory,
    pub record: HistoryRecord,
}

impl Kept {
    async fn changes(&self, app: &App, domain: Domain, pair: Option<(&str, &str)>) -> Result<Option<Arc<KeptChanges>>, ApiError> {
        let key = (domain, pair.map(|(f, t)| (f.to_string(), t.to_string())));
        if let Some((at, v)) = self.changes.lock().await.get(&key)
            && at.elapsed() < app.settings.catalog_ttl
        {
            return Ok(v.clone());
        }
        let record = app.insights.release_changes(domain, pair).await?;
        let v = match record {
            Some(r) => Some(Arc::new(KeptChanges { changes: ReleaseChanges::decode(&r.changes).map_err(ApiError::internal)?, computed_at: r.computed_at })),
            None => None,
        };
        self.changes.lock().await.insert(key, (Instant::now(), v.clone()));
        Ok(v)
    }

    async fn history(&self, app: &App, tenant: &TenantId, domain: Domain) -> Result<Option<Arc<KeptHistory>>, ApiError> {
        let key = (tenant.clone(), domain);
        if let Some((at, v)) = self.histories.lock().await.get(&key)
            && at.elapsed() < app.settings.catalog_ttl
        {
            return Ok(v.clone());
        }
        let record = app.insights.history(tenant, domain).await?;
        let v = match record {
            Some(r) => Some(Arc::new(KeptHistory { history: TenantHistory::decode(&r.history).map_err(ApiError::internal)?, record: r })),
            None => None,
        };
        let mut histories = self.histories.lock().await;
        // only the tenants of the last `catalog_ttl` stay
        histories.retain(|_, (at, _)| at.elapsed() < app.settings.catalog_ttl);
        histories.insert(key, (Instant::now(), v.clone()));
        Ok(v)
    }
}

/// Suggestions an inference answers by default, and at most.
pub const DEFAULT_INFERENCES: usize = 20;
pub const MAX_INFERENCES: usize = 50;
/// Techniques `POST inferences` takes at most.
pub const MAX_OBSERVED: usize = 200;

fn inference_limit(params: &Params) -> Result<usize, ApiError> {
    match params.str("limit") {
        None => Ok(DEFAULT_INFERENCES),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_INFERENCES).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_param("limit", format!("limit must be an integer from 1 to {MAX_INFERENCES}, not {v:?}"))),
        },
    }
}

/// A tenant's use of each technique, from its all-time counters: mappings, and distinct
/// entities of each kind summed (an alert and the case it belongs to are two entities).
pub fn usage(aggregates: &mitre_domain::stats::Aggregates) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = BTreeMap::new();
    for (counter, &n) in &aggregates.counts {
        let n = n.max(0) as u64;
        match counter {
            Counter::TechniqueMappings { technique, .. } => out.entry(technique.to_ascii_uppercase()).or_default().mappings += n,
            Counter::TechniqueEntities { technique, .. } => out.entry(technique.to_ascii_uppercase()).or_default().entities += n,
            _ => {}
        }
    }
    out.retain(|_, u| u.mappings > 0);
    out
}

/// `GET attack-updates?domain=&from=&to=`: what the latest release change of the domain (or the
/// named one) changed in the caller's tenant's mappings: the kept changes (as the container
/// holds them) weighed by the tenant's all-time counters (one Query).
pub async fn attack_updates(app: &App, who: &Identity, spec: &RouteSpec, params: &Params) -> Result<Reply, ApiError> {
    let format = crate::analyst_views::format(spec, params)?;
    let tenant = who.tenant()?;
    let domain = params.domain()?;
    let pair = match (params.str("from"), params.str("to")) {
        (Some(f), Some(t)) => Some((f, t)),
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::bad_param("to", "from needs to: name both releases, or neither for the latest change")),
        (None, Some(_)) => return Err(ApiError::bad_param("from", "to needs from: name both releases, or neither for the latest change")),
    };
    for (name, v) in [("from", pair.map(|p| p.0)), ("to", pair.map(|p| p.1))] {
        if let Some(v) = v
            && mitre_domain::insight::release_key(v).is_none()
        {
            return Err(ApiError::bad_param(name, format!("{name} must be a release such as 18.1, not {v:?}")));
        }
    }
    let (kept, aggregates) =
        tokio::try_join!(app.kept.changes(app, domain, pair), async { app.stats.statistics(tenant, domain, &Window::all()).await.map_err(ApiError::from) })?;
    let Some(kept) = kept else {
        return Err(ApiError::NotFound(match pair {
            Some((f, t)) => format!("no change from {f} to {t} of {domain} is known"),
            None => format!("no release change of {domain} is known yet: the first sync of a newer release computes one"),
        }));
    };
    let impact = TenantImpact::of(&kept.changes, &usage(&aggregates));
    Ok(match format {
        "markdown" => Reply::document(ReplyBody::Markdown(impact.markdown())),
        _ => {
            let mut v = serde_json::to_value(&impact).map_err(ApiError::internal)?;
            v["computed_at"] = json!(kept.computed_at);
            Reply::json(v)
        }
    })
}

fn inference_reply(inferences: Inferences, history: Option<&KeptHistory>, extra: serde_json::Value) -> Result<Reply, ApiError> {
    let mut v = serde_json::to_value(&inferences).map_err(ApiError::internal)?;
    v["history"] = match history {
        Some(h) => json!({"built_at": h.record.built_at, "entities": h.record.entities, "mappings": h.record.mappings}),
        None => serde_json::Value::Null,
    };
    if let serde_json::Value::Object(extra) = extra {
        for (k, x) in extra {
            v[k] = x;
        }
    }
    Ok(Reply::json(v))
}

/// Inferences for `observed` in `catalog`'s domain with the tenant's history.
pub async fn infer(app: &App, catalog: &DomainCatalog, history: Option<&TenantHistory>, observed: &[String], limit: usize) -> Inferences {
    let sets = app.procedures.of(catalog).await;
    mitre_views::inference::infer(catalog, &sets, history, observed, limit)
}

/// `GET {kind}s/{id}/inferences`: techniques the entity does not have yet, ranked by how likely
/// they are part of the same intrusion: the entity's mappings (one Query) and the tenant's
/// history (as the container holds it).
pub async fn entity_inferences(app: &App, who: &Identity, kind: MappingKind, id: &str, params: &Params) -> Result<Reply, ApiError> {
    let limit = inference_limit(params)?;
    let tenant = who.tenant()?;
    let (entity, mappings, history) = match params.domain_opt()? {
        // the domain named: both reads at once
        Some(domain) => {
            let (m, h) = tokio::try_join!(crate::analyst_views::entity_mappings(app, who, kind, id), app.kept.history(app, tenant, domain))?;
            (m.0, m.1, h)
        }
        None => {
            let (entity, mappings) = crate::analyst_views::entity_mappings(app, who, kind, id).await?;
            let (domain, _) = crate::analyst_views::view_domain(app, params, &mappings).await?;
            let h = app.kept.history(app, tenant, domain).await?;
            (entity, mappings, h)
        }
    };
    let (domain, catalog) = crate::analyst_views::view_domain(app, params, &mappings).await?;
    let observed: Vec<String> =
        mappings.iter().filter(|m| m.domain == domain).map(|m| m.technique.as_str().to_string()).collect::<BTreeSet<_>>().into_iter().collect();
    let inferences = infer(app, &catalog, history.as_ref().map(|h| &h.history), &observed, limit).await;
    inference_reply(inferences, history.as_deref(), json!({"entity": entity}))
}

/// The body of `POST inferences`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferInput {
    /// The observed techniques (ATT&CK ids, e.g. T1059.001): 1 to 200.
    #[schema(min_items = 1, max_items = 200)]
    pub techniques: Vec<String>,
    /// enterprise-attack (default), mobile-attack or ics-attack; it must be synced.
    pub domain: Option<String>,
    /// 1 to 50 (default 20).
    #[schema(minimum = 1, maximum = 50)]
    #[serde(default, deserialize_with = "crate::suggestions::integral")]
    pub limit: Option<i64>,
}

/// A field of the body that cannot be read as it must: 400 naming the field.
fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest { code: "invalid_field", message: message.into(), details: Some(json!({ "field": field })) }
}

/// `POST inferences`: the same for a set of techniques, with the tenant's history (as the
/// container holds it).
pub async fn infer_set(app: &App, who: &Identity, body: &[u8]) -> Result<Reply, ApiError> {
    let input: InferInput = parse_json(body)?;
    let tenant: &TenantId = who.tenant()?;
    if input.techniques.is_empty() || input.techniques.len() > MAX_OBSERVED {
        return Err(field_error("techniques", format!("techniques must hold 1 to {MAX_OBSERVED} ATT&CK technique ids")));
    }
    if let Some(bad) = input.techniques.iter().find(|t| mitre_attack::TechniqueId::parse(t).is_err()) {
        return Err(field_error("techniques", format!("{:?} is not an ATT&CK technique id (T1234 or T1234.001)", mitre_views::text::truncate(bad, 40))));
    }
    let limit = match input.limit {
        None => DEFAULT_INFERENCES,
        Some(n) if (1..=MAX_INFERENCES as i64).contains(&n) => n as usize,
        Some(_) => return Err(field_error("limit", format!("limit must be from 1 to {MAX_INFERENCES}"))),
    };
    // the domain as for suggestions: 422 when it is none or not synced
    let domain = crate::suggestions::synced_domain(app, input.domain.as_deref()).await?;
    let (catalog, history) = tokio::try_join!(app.catalog.domain(domain), app.kept.history(app, tenant, domain))?;
    let inferences = infer(app, &catalog, history.as_ref().map(|h| &h.history), &input.techniques, limit).await;
    inference_reply(inferences, history.as_deref(), json!({}))
}

/// The insight sections of an entity's report: the inferences from its techniques and the
/// latest release change of `domain` weighed by its own mappings (each technique's mappings and
/// the entities among them). The tenant's history and the latest change, as kept ([`Kept`]).
pub async fn report_insights(
    app: &App,
    who: &Identity,
    domain: Domain,
    catalog: &DomainCatalog,
    mappings: &[mitre_domain::Mapping],
) -> Result<(Option<Inferences>, Option<TenantImpact>), ApiError> {
    let tenant = who.tenant()?;
    let (history, change) = tokio::try_join!(app.kept.history(app, tenant, domain), app.kept.changes(app, domain, None))?;
    let mine: Vec<&mitre_domain::Mapping> = mappings.iter().filter(|m| m.domain == domain).collect();
    let observed: Vec<String> = mine.iter().map(|m| m.technique.as_str().to_string()).collect::<BTreeSet<_>>().into_iter().collect();
    let next = infer(app, catalog, history.as_ref().map(|h| &h.history), &observed, mitre_views::report::REPORT_LEADS).await;
    let updates = match change {
        None => None,
        Some(kept) => {
            let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
            let mut entities: BTreeMap<String, BTreeSet<mitre_domain::EntityRef>> = BTreeMap::new();
            for m in &mine {
                let t = m.technique.as_str().to_ascii_uppercase();
                usage.entry(t.clone()).or_default().mappings += 1;
                entities.entry(t).or_default().extend(m.entities());
            }
            for (t, e) in entities {
                usage.entry(t).or_default().entities = e.len() as u64;
            }
            Some(TenantImpact::of(&kept.changes, &usage))
        }
    };
    Ok((Some(next), updates))
}
