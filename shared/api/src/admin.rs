//! The principal registry (tenant admins for their tenant, superusers for every tenant), the
//! audit log (admins and superusers) and the integrity routes.
use mitre_domain::{AuditEntry, AuditFilter, Need, Principal, Role, TenantId, WriteError};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::parse_json;
use crate::params::Params;
use crate::{App, Reply};

/// The body of `PUT admin/principals/{arn}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalInput {
    /// 1 to 64 lower-case letters, digits or '-'.
    pub tenant: String,
    #[schema(value_type = mitre_domain::Role)]
    pub role: String,
    /// The platform groups the principal holds (at most 32): it sees the restricted entities
    /// of its tenant that name one of them.
    #[serde(default)]
    pub groups: Vec<String>,
}

fn audit(who: &Identity, tenant: &TenantId, action: &str, arn: &str, before: Option<&Principal>, after: Option<&Principal>) -> AuditEntry {
    AuditEntry::of(tenant, &who.principal, action, format!("principals/{arn}"), before, after, &who.request_id)
}

/// The ARN of the path: anything else names no principal (404).
fn path_arn(arn: &str) -> Result<String, ApiError> {
    mitre_domain::role::principal_arn(arn).map_err(|e| ApiError::NotFound(e.message))
}

/// Whether `who` manages `p`: superusers every principal, tenant admins those of their tenant
/// below superuser. A principal the caller does not manage is answered as one that does not exist.
fn manages(who: &Identity, p: &Principal) -> bool {
    who.role == Role::Superuser || (who.role == Role::Admin && who.tenant.as_ref() == Some(&p.tenant) && p.role != Role::Superuser)
}

pub async fn put_principal(app: &App, who: &Identity, arn: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let arn = path_arn(arn)?;
    let input: PrincipalInput = parse_json(body)?;
    let before = app.principals.principal(&arn).await?;
    if before.as_ref().is_some_and(|b| !manages(who, b)) {
        return Err(ApiError::NotFound(format!("no principal {arn:?}")));
    }
    let p = Principal::register(&arn, &input.tenant, &input.role, &input.groups, &who.principal, before.as_ref())?;
    if who.role != Role::Superuser && who.tenant.as_ref() != Some(&p.tenant) {
        return Err(ApiError::Forbidden("a tenant admin registers principals of its own tenant only".into()));
    }
    if !who.role.may_grant(p.role) {
        return Err(ApiError::Forbidden(format!("a {} may not give the {} role", who.role, p.role)));
    }
    app.principals.put_principal(&p, audit(who, &p.tenant, "principal.put", &arn, before.as_ref(), Some(&p))).await?;
    Ok(Reply::json(json!(p)).with_status(if before.is_some() { 200 } else { 201 }))
}

pub async fn delete_principal(app: &App, who: &Identity, arn: &str) -> Result<Reply, ApiError> {
    let arn = path_arn(arn)?;
    let p = app.principals.principal(&arn).await?.filter(|p| manages(who, p)).ok_or_else(|| ApiError::NotFound(format!("no principal {arn:?}")))?;
    app.principals.delete_principal(&p, audit(who, &p.tenant, "principal.delete", &arn, Some(&p), None)).await.map_err(|e| match e {
        WriteError::Stale | WriteError::Duplicate => ApiError::Conflict("the principal changed meanwhile; try again".into()),
        e @ WriteError::Contended => ApiError::Overtaken(Box::new(e)),
        WriteError::Repo(e) => e.into(),
    })?;
    Ok(Reply::no_content())
}

/// Every principal the caller manages: a tenant admin's tenant, or all (superusers).
pub async fn list_principals(app: &App, who: &Identity) -> Result<Reply, ApiError> {
    let items: Vec<Principal> = app.principals.principals().await?.into_iter().filter(|p| manages(who, p)).collect();
    Ok(Reply::json(json!({ "items": items, "next_cursor": null })))
}

pub async fn list_audit(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let limit = params.limit()?;
    let tenant = match (who.role, params.str("tenant")) {
        (Role::Superuser, Some(t)) => Some(TenantId::parse_or_system(t).map_err(|e| ApiError::bad_param("tenant", e.message))?),
        (Role::Superuser, None) => None,
        (_, Some(t)) if Some(t) != who.tenant.as_ref().map(TenantId::as_str) => {
            return Err(ApiError::Forbidden("admins read their own tenant's audit log".into()));
        }
        _ => Some(who.tenant()?.clone()),
    };
    let mut filter = AuditFilter { tenant, ..AuditFilter::default() };
    filter.action = params.str("action").map(str::to_string);
    filter.actor = params.str("actor").map(str::to_string);
    filter.target = params.str("target").map(str::to_string);
    filter.since = params.timestamp("since")?;
    filter.until = params.timestamp("until")?;
    let page = app.audit.list_audit(&filter, limit, params.str("cursor")).await?;
    Ok(Reply::json(json!({ "items": page.items, "next_cursor": page.next_cursor })))
}

/// The stored report of the last verification (the sync verifies after every run that changed
/// something): reading it costs one item. A fresh verification re-reads and re-parses every
/// archived release (about a second of Lambda time): only superusers ask for one, with
/// `refresh=true`; and it runs once when no report is stored yet.
pub async fn verify(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    let refresh = params.bool("refresh", false)?;
    if refresh {
        // a fresh verification costs a second of Lambda time: superusers only (the route
        // itself is for every role)
        who.require(Need::Superuser)?;
    }
    let report = match if refresh { None } else { app.backend.last_verify().await? } {
        Some(r) => r,
        None => app.backend.verify().await?,
    };
    let body = if who.role == Role::Superuser { json!(report) } else { report.summary() };
    Ok(Reply::json(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepairInput {
    dry_run: Option<bool>,
}

pub async fn repair(app: &App, who: &Identity, body: &[u8]) -> Result<Reply, ApiError> {
    let input: RepairInput = if body.iter().all(u8::is_ascii_whitespace) { RepairInput::default() } else { parse_json(body)? };
    let report = app.backend.repair(input.dry_run.unwrap_or(true), &who.principal, &who.request_id).await?;
    Ok(Reply::json(json!(report)))
}
