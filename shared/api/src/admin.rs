//! The principal registry (superusers) and the audit log (admins and superusers).
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use mitre_store::items::AuditEntry;
use mitre_store::tenancy::{Principal, Role, WriteError, audit_from_item};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::identity::{Identity, normalize_principal};
use crate::mappings::{decode_cursor, encode_cursor, now, parse_json};
use crate::params::Params;
use crate::{App, Reply};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalInput {
    tenant: String,
    role: String,
}

fn valid_arn(arn: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6 && parts[0] == "arn" && parts[1].starts_with("aws") && matches!(parts[2], "iam" | "sts") && !parts[5].is_empty() && arn.len() <= 512;
    if ok { Ok(normalize_principal(arn)) } else { Err(ApiError::NotFound(format!("{arn:?} is not an IAM principal ARN"))) }
}

fn valid_tenant(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 && t.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') && !t.starts_with('-')
}

fn audit(who: &Identity, tenant: &str, action: &str, target: &str, before: Option<&Principal>, after: Option<&Principal>) -> AuditEntry {
    AuditEntry {
        id: ulid::Ulid::new().to_string(),
        tenant: tenant.to_string(),
        actor: who.principal.clone(),
        action: action.to_string(),
        target: format!("principals/{target}"),
        before: before.map(|p| json!(p)),
        after: after.map(|p| json!(p)),
        at: now(),
        request_id: who.request_id.clone(),
    }
}

pub async fn put_principal(app: &App, who: &Identity, arn: &str, body: &[u8]) -> Result<Reply, ApiError> {
    who.require(Role::Superuser)?;
    let arn = valid_arn(arn)?;
    let input: PrincipalInput = parse_json(body)?;
    if !valid_tenant(&input.tenant) {
        return Err(ApiError::Unprocessable {
            message: "tenant must be 1 to 64 lower-case letters, digits or '-'".into(),
            details: Some(json!({ "field": "tenant" })),
        });
    }
    let role = Role::parse(&input.role).ok_or_else(|| ApiError::Unprocessable {
        message: "role must be one of superuser, admin, analyst, viewer".into(),
        details: Some(json!({ "field": "role" })),
    })?;
    let before = app.store.principal(&arn).await?;
    let at = now();
    let p = Principal {
        principal: arn.clone(),
        tenant: input.tenant.clone(),
        role,
        created_at: before.as_ref().map(|b| b.created_at.clone()).unwrap_or_else(|| at.clone()),
        updated_at: at,
        updated_by: who.principal.clone(),
    };
    app.store.put_principal(&p, audit(who, &p.tenant, "principal.put", &arn, before.as_ref(), Some(&p))).await?;
    Ok(Reply { status: if before.is_some() { 200 } else { 201 }, body: Some(json!(p)), etag: None })
}

pub async fn delete_principal(app: &App, who: &Identity, arn: &str) -> Result<Reply, ApiError> {
    who.require(Role::Superuser)?;
    let arn = valid_arn(arn)?;
    let p = app.store.principal(&arn).await?.ok_or_else(|| ApiError::NotFound(format!("no principal {arn:?}")))?;
    app.store.delete_principal(&p, audit(who, &p.tenant, "principal.delete", &arn, Some(&p), None)).await.map_err(|e| match e {
        WriteError::Stale | WriteError::Duplicate => ApiError::Conflict("the principal changed meanwhile; try again".into()),
        WriteError::Store(e) => e.into(),
    })?;
    Ok(Reply { status: 204, body: None, etag: None })
}

pub async fn list_principals(app: &App, who: &Identity) -> Result<Reply, ApiError> {
    who.require(Role::Superuser)?;
    let items = app.store.principals().await?;
    Ok(Reply::json(json!({ "items": items, "next_cursor": null })))
}

pub async fn list_audit(app: &App, who: &Identity, params: &Params) -> Result<Reply, ApiError> {
    who.require(Role::Admin)?;
    let limit = params.limit()?;
    let (index, pk) = match (who.role, params.str("tenant")) {
        (Role::Superuser, Some(t)) => (None, mitre_store::keys::audit_pk(t)),
        (Role::Superuser, None) => (Some("gsi1"), mitre_store::keys::AUDIT_GSI.to_string()),
        (_, Some(t)) if Some(t) != who.tenant.as_deref() => return Err(ApiError::Forbidden("admins read their own tenant's audit log".into())),
        _ => (None, mitre_store::keys::audit_pk(who.tenant()?)),
    };
    let mut filters = Vec::new();
    let mut values: HashMap<String, AttributeValue> = HashMap::new();
    for (param, attr) in [("action", "action"), ("actor", "actor"), ("target", "target")] {
        if let Some(v) = params.str(param) {
            filters.push(format!("#{attr} = :{attr}"));
            values.insert(format!(":{attr}"), AttributeValue::S(v.to_string()));
        }
    }
    for (param, op) in [("since", ">="), ("until", "<=")] {
        if let Some(v) = params.str(param) {
            let t = chrono::DateTime::parse_from_rfc3339(v).map_err(|_| ApiError::bad_param(param, format!("{param} must be an RFC 3339 timestamp")))?;
            filters.push(format!("#at {op} :{param}"));
            values.insert(format!(":{param}"), AttributeValue::S(t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        }
    }
    let fingerprint = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(format!("audit|{pk}|{filters:?}|{values:?}").as_bytes()));
    let start = decode_cursor(params.str("cursor"), &fingerprint)?;
    // attribute names are written #name in the filter (some are reserved words)
    let names: Vec<String> = filters.iter().filter_map(|f| f.split_whitespace().next().map(str::to_string)).collect();
    let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
    let (page, next) = app.store.query_filled(index, &pk, None, filter.as_deref().map(|f| (f, values.clone())), &names, start, limit, true).await?;
    let entries = page.into_iter().map(audit_from_item).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = next.map(|k| encode_cursor(&k, &fingerprint));
    Ok(Reply::json(json!({ "items": entries, "next_cursor": next_cursor })))
}

pub async fn verify(app: &App, who: &Identity) -> Result<Reply, ApiError> {
    let report = app.store.verify().await?;
    let body = if who.role == Role::Superuser { json!(report) } else { report.summary() };
    Ok(Reply::json(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepairInput {
    dry_run: Option<bool>,
}

pub async fn repair(app: &App, who: &Identity, body: &[u8]) -> Result<Reply, ApiError> {
    who.require(Role::Superuser)?;
    let input: RepairInput = if body.iter().all(u8::is_ascii_whitespace) { RepairInput::default() } else { parse_json(body)? };
    let report = app.store.repair(input.dry_run.unwrap_or(true), &who.principal, &who.request_id).await?;
    Ok(Reply::json(json!(report)))
}
