//! Statistics across the caller's tenant: one Query of the kept counters (whatever the number
//! of mappings), the catalog from memory, `mitre-views` computes. Viewers and up read.
use mitre_domain::stats::{Month, Window};
use mitre_domain::{MappingKind, Timestamp};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::params::Params;
use crate::{App, Reply};

pub const DEFAULT_TOP: usize = 10;
pub const MAX_TOP: usize = 1000;

/// A window end: a month (`2026-03`) or an RFC 3339 timestamp (its month counts).
fn month_param(params: &Params, name: &str) -> Result<Option<Month>, ApiError> {
    let Some(v) = params.str(name) else { return Ok(None) };
    let b = v.as_bytes();
    let is_month = b.len() == 7
        && b[4] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(&v[5..], "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12");
    if is_month {
        return Ok(Some(v.to_string()));
    }
    Timestamp::parse(v)
        .map(|t| Some(mitre_domain::stats::month_of(t)))
        .map_err(|_| ApiError::bad_param(name, format!("{name} must be a month (YYYY-MM) or an RFC 3339 timestamp")))
}

struct Ask {
    domain: mitre_attack::Domain,
    window: Window,
    kind: Option<MappingKind>,
}

fn ask(who: &Identity, params: &Params) -> Result<Ask, ApiError> {
    who.tenant()?;
    let domain = params.domain()?;
    let window = Window { from: month_param(params, "from")?, to: month_param(params, "to")? };
    if let (Some(f), Some(t)) = (&window.from, &window.to)
        && f > t
    {
        return Err(ApiError::bad_param("from", "from is after to"));
    }
    let kind = params.entity_type()?;
    Ok(Ask { domain, window, kind })
}

async fn read(app: &App, who: &Identity, a: &Ask) -> Result<(std::sync::Arc<mitre_attack::catalog::DomainCatalog>, mitre_domain::stats::Aggregates), ApiError> {
    let catalog = app.catalog.domain(a.domain).await?;
    let agg = app.stats.statistics(who.tenant()?, a.domain, &a.window).await?;
    Ok((catalog, agg))
}

fn json(v: impl serde::Serialize) -> Result<Reply, ApiError> {
    Ok(Reply::json(serde_json::to_value(v).map_err(ApiError::internal)?))
}

pub async fn techniques(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let a = ask(who, params)?;
    let top = match params.str("top") {
        None => DEFAULT_TOP,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TOP).contains(n))
            .ok_or_else(|| ApiError::bad_param("top", format!("top must be an integer from 1 to {MAX_TOP}, not {v:?}")))?,
    };
    let (catalog, agg) = read(app, who, &a).await?;
    json(mitre_views::statistics::techniques(&catalog, &agg, &a.window, a.kind, top, Timestamp::now()))
}

pub async fn tactics(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let a = ask(who, params)?;
    let (catalog, agg) = read(app, who, &a).await?;
    json(mitre_views::statistics::tactics(&catalog, &agg, &a.window, a.kind, Timestamp::now()))
}

pub async fn kill_chain(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let a = ask(who, params)?;
    let (catalog, agg) = read(app, who, &a).await?;
    json(mitre_views::statistics::kill_chain(&catalog, &agg, &a.window, a.kind, Timestamp::now()))
}
