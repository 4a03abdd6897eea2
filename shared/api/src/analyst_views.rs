//! Analyst views of the caller's tenant's mappings: the handlers read the mappings and the
//! catalog, `mitre-views` computes, and they reply. Viewers and up read; an entity with no
//! mapping in the caller's tenant answers 404, exactly like another tenant's entity.
use mitre_attack::Domain;
use mitre_attack::catalog::DomainCatalog;
use mitre_domain::EntityRef;
use mitre_domain::{Mapping, MappingFilter, MappingKind, TacticFilter, Timestamp};
use mitre_views::Scope;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::params::Params;
use crate::{App, Reply, ReplyBody};

/// Every mapping of the caller's tenant that names the entity: for a case its case mappings
/// and the alert mappings that name it, for an alert its alert mappings and the case mappings
/// that name it. 404 when there is none.
pub(crate) async fn entity_mappings(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<(EntityRef, Vec<Mapping>), ApiError> {
    let tenant = who.tenant()?;
    let not_found = || ApiError::NotFound(format!("no {kind} {id:?} with mappings"));
    let entity = EntityRef::parse(kind, id).map_err(|_| not_found())?;
    // only the mappings the caller may see: none when it may not see the entity itself (each
    // mapping of it carries its access), which answers as an entity without mappings
    let filter = MappingFilter { entities: vec![entity.clone()], sight: who.sight(), ..MappingFilter::default() };
    let mappings = app.mappings.all_mappings(tenant, &MappingKind::ALL, &filter).await?;
    if mappings.is_empty() {
        return Err(not_found());
    }
    Ok((entity, mappings))
}

/// The domain a view is of: `domain`, else the only domain the mappings have.
pub(crate) async fn view_domain(app: &App, params: &Params, mappings: &[Mapping]) -> Result<(Domain, std::sync::Arc<DomainCatalog>), ApiError> {
    let present = mitre_views::domains(mappings);
    let domain = match params.domain_opt()? {
        Some(d) => d,
        None if present.len() <= 1 => present.first().copied().unwrap_or(Domain::EnterpriseAttack),
        None => {
            let names: Vec<&str> = present.iter().map(|d| d.as_str()).collect();
            return Err(ApiError::bad_param("domain", format!("the mappings span {}: name one with domain", names.join(", "))));
        }
    };
    Ok((domain, app.catalog.domain(domain).await?))
}

pub async fn entity_layer(app: &App, who: &Identity, kind: MappingKind, id: &str, params: &Params) -> Result<Reply, ApiError> {
    let (entity, mappings) = entity_mappings(app, who, kind, id).await?;
    let (_, catalog) = view_domain(app, params, &mappings).await?;
    let layer = mitre_views::entity_layer(&catalog, &entity, &mappings);
    Ok(Reply::json(serde_json::to_value(layer).map_err(ApiError::internal)?))
}

/// The tenant's mappings of one domain that a heatmap covers: `from`/`to` (observed window),
/// `entity_type` and `tactic`.
async fn tenant_mappings(app: &App, who: &Identity, params: &Params) -> Result<(std::sync::Arc<DomainCatalog>, Vec<Mapping>, String), ApiError> {
    let tenant = who.tenant()?;
    let domain = params.domain()?;
    let catalog = app.catalog.domain(domain).await?;
    let mut filter = MappingFilter { observed_from: params.timestamp("from")?, observed_to: params.timestamp("to")?, ..MappingFilter::default() };
    if let (Some(f), Some(t)) = (filter.observed_from, filter.observed_to)
        && f > t
    {
        return Err(ApiError::bad_param("from", "from is after to"));
    }
    let kinds = params.entity_types()?;
    if let Some(t) = params.str("tactic") {
        let tactic = catalog.tactic(t).ok_or_else(|| ApiError::bad_param("tactic", format!("unknown tactic {t:?} in {domain}")))?;
        filter.tactic = Some(TacticFilter { stix_id: Some(tactic.stix_id.clone()), shortname: tactic.shortname.clone() });
    }
    let mappings: Vec<Mapping> = app.mappings.all_mappings(tenant, &kinds, &filter).await?.into_iter().filter(|m| m.domain == domain).collect();
    // a tenant-wide view counts restricted entities the caller may not see, never names them
    let mappings = mitre_domain::access::redacted(mappings, &who.sight());
    let mut title = format!("{tenant}: techniques by entities");
    if let Some(t) = params.str("entity_type") {
        title.push_str(&format!(" ({t}s)"));
    }
    Ok((catalog, mappings, title))
}

pub async fn tenant_layer(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let (catalog, mappings, title) = tenant_mappings(app, who, params).await?;
    let layer = mitre_views::heatmap_layer(&catalog, &mappings, &title);
    Ok(Reply::json(serde_json::to_value(layer).map_err(ApiError::internal)?))
}

/// The `format` a document route is asked for: one of the route's formats (the first by default).
pub(crate) fn format(spec: &crate::routes::RouteSpec, params: &Params) -> Result<&'static str, ApiError> {
    let formats = spec.formats();
    match params.str("format") {
        None => Ok(formats[0]),
        Some(f) => {
            formats.iter().copied().find(|x| *x == f).ok_or_else(|| ApiError::bad_param("format", format!("format must be one of {}", formats.join(", "))))
        }
    }
}

fn matrix_reply(m: &mitre_views::Matrix, format: &str) -> Result<Reply, ApiError> {
    Ok(match format {
        "svg" => Reply::document(ReplyBody::Svg(m.to_svg())),
        "html" => Reply::document(ReplyBody::Html(m.to_html())),
        _ => Reply::json(serde_json::to_value(m).map_err(ApiError::internal)?),
    })
}

pub async fn entity_matrix(
    app: &App,
    who: &Identity,
    kind: MappingKind,
    id: &str,
    spec: &crate::routes::RouteSpec,
    params: &Params,
) -> Result<Reply, ApiError> {
    let format = format(spec, params)?;
    let (entity, mappings) = entity_mappings(app, who, kind, id).await?;
    let (_, catalog) = view_domain(app, params, &mappings).await?;
    let m = mitre_views::matrix(&catalog, &Scope::Entity(entity), &mappings, Timestamp::now());
    matrix_reply(&m, format)
}

pub async fn tenant_matrix(app: &App, who: &Identity, spec: &crate::routes::RouteSpec, params: &Params) -> Result<Reply, ApiError> {
    let format = format(spec, params)?;
    let (catalog, mappings, title) = tenant_mappings(app, who, params).await?;
    let m = mitre_views::matrix(&catalog, &Scope::Tenant { title }, &mappings, Timestamp::now());
    matrix_reply(&m, format)
}

pub async fn entity_mitigations(app: &App, who: &Identity, kind: MappingKind, id: &str, params: &Params) -> Result<Reply, ApiError> {
    let (entity, mappings) = entity_mappings(app, who, kind, id).await?;
    let (_, catalog) = view_domain(app, params, &mappings).await?;
    let r = mitre_views::recommend(&catalog, &Scope::Entity(entity), &mappings);
    Ok(Reply::json(serde_json::to_value(r).map_err(ApiError::internal)?))
}

pub async fn entity_report(
    app: &App,
    who: &Identity,
    kind: MappingKind,
    id: &str,
    spec: &crate::routes::RouteSpec,
    params: &Params,
) -> Result<Reply, ApiError> {
    let format = format(spec, params)?;
    let (entity, mappings) = entity_mappings(app, who, kind, id).await?;
    let (domain, catalog) = view_domain(app, params, &mappings).await?;
    // the insight sections: where to look next, and what the latest release change changed in
    // the entity's techniques (weighed by the entity's own mappings)
    let (next, updates) = crate::insight::report_insights(app, who, domain, &catalog, &mappings).await?;
    let r = mitre_views::report(&catalog, &entity, &mappings, Timestamp::now()).with_insights(next, updates);
    Ok(match format {
        "json" => Reply::json(serde_json::to_value(&r).map_err(ApiError::internal)?),
        "html" => Reply::document(ReplyBody::Html(r.to_html())),
        _ => Reply::document(ReplyBody::Markdown(r.to_markdown())),
    })
}
