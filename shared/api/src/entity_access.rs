//! Who may see an alert, incident, case or observable: the platform's access of the entity,
//! mirrored here (`{kind}s/{id}/access`) by tenant admins and the tenant's integration. A change
//! applies to the entity's record and to every mapping naming it at once, versioned (ETag /
//! If-Match) and audited with before and after.
use mitre_domain::{AuditEntry, EntityAccess, EntityRef, MappingKind, Precondition};
use serde::Deserialize;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::{if_match, parse_json, write_error};
use crate::{App, Reply, ReplyBody};
use mitre_domain::WriteError;

/// The body of `PUT {kind}s/{id}/access`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessInput {
    /// The groups that may see the entity and its mappings (besides tenant admins): at most 32
    /// names of 1 to 128 letters, digits, '-', '_', '.', ':', '/' or '@'. Empty: admins only.
    pub groups: Vec<String>,
}

fn entity(kind: MappingKind, id: &str) -> Result<EntityRef, ApiError> {
    EntityRef::parse(kind, id).map_err(|e| ApiError::NotFound(e.message))
}

fn reply(status: u16, a: &EntityAccess) -> Result<Reply, ApiError> {
    Ok(Reply { status, body: ReplyBody::Json(serde_json::to_value(a).map_err(ApiError::internal)?), etag: Some(format!("\"{}\"", a.version)) })
}

async fn current(app: &App, who: &Identity, e: &EntityRef) -> Result<EntityAccess, ApiError> {
    let mut records = app.access.entity_access(who.tenant()?, std::slice::from_ref(e)).await?;
    records.pop().ok_or_else(|| ApiError::internal(std::io::Error::other("no access record answered")))
}

fn check(a: &EntityAccess, expected: Precondition) -> Result<(), ApiError> {
    match expected {
        Precondition::Version(v) if v != a.version => {
            Err(ApiError::PreconditionFailed(format!("the access of {} is at version {}, not {v}", a.entity, a.version)))
        }
        _ => Ok(()),
    }
}

fn audit(who: &Identity, action: &str, before: &EntityAccess, after: &EntityAccess) -> Result<AuditEntry, ApiError> {
    let target = format!("{}s/{}/access", before.entity.kind, before.entity.id);
    Ok(AuditEntry::of(who.tenant()?, &who.principal, action, target, Some(before), Some(after), &who.request_id))
}

fn change_error(e: WriteError) -> ApiError {
    match e {
        WriteError::Stale => ApiError::PreconditionFailed("the access changed since it was read; fetch it again".into()),
        e => write_error(e),
    }
}

/// The entity's access: open at version 0 when the platform never restricted it.
pub async fn get(app: &App, who: &Identity, kind: MappingKind, id: &str) -> Result<Reply, ApiError> {
    let e = entity(kind, id)?;
    reply(200, &current(app, who, &e).await?)
}

pub async fn put(app: &App, who: &Identity, kind: MappingKind, id: &str, body: &[u8], if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let e = entity(kind, id)?;
    let expected = if_match(if_match_header)?;
    let input: AccessInput = parse_json(body)?;
    let groups = mitre_domain::access::groups(&input.groups)?;
    let before = current(app, who, &e).await?;
    check(&before, expected)?;
    let after = before.changed(Some(groups), &who.principal);
    app.access.change_access(who.tenant()?, &before, &after, audit(who, "access.put", &before, &after)?).await.map_err(change_error)?;
    reply(200, &EntityAccess { mappings: before.mappings, ..after })
}

/// Opens the entity to its whole tenant again; 404 when it is not restricted.
pub async fn delete(app: &App, who: &Identity, kind: MappingKind, id: &str, if_match_header: Option<&str>) -> Result<Reply, ApiError> {
    let e = entity(kind, id)?;
    let expected = if_match(if_match_header)?;
    let before = current(app, who, &e).await?;
    if !before.is_restricted() {
        return Err(ApiError::NotFound(format!("{e} is not restricted")));
    }
    check(&before, expected)?;
    let after = before.changed(None, &who.principal);
    app.access.change_access(who.tenant()?, &before, &after, audit(who, "access.delete", &before, &after)?).await.map_err(change_error)?;
    Ok(Reply::no_content())
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The entity already had this access.
    Unchanged,
    /// The access was changed after the platform's change was made (`changed_at`): this one
    /// is older and is not applied over it.
    Older,
}

/// Sets the entity's access to `groups` (None: open), as the platform changed it at
/// `changed_at`, by `who` (the platform's events): the change `PUT` / `DELETE {kind}s/{id}/access`
/// make, without a precondition, applied only over an older access.
pub async fn apply(
    app: &App,
    who: &Identity,
    entity: &EntityRef,
    groups: Option<Vec<String>>,
    changed_at: Option<mitre_domain::Timestamp>,
) -> Result<Applied, ApiError> {
    let before = current(app, who, entity).await?;
    if before.groups == groups {
        return Ok(Applied::Unchanged);
    }
    if let (Some(at), Some(last)) = (changed_at, before.updated_at)
        && last > at
    {
        return Ok(Applied::Older);
    }
    let action = if groups.is_some() { "access.put" } else { "access.delete" };
    let mut after = before.changed(groups, &who.principal);
    // the access is as of the platform's change, so that an older change arriving later is
    // recognised as older
    after.updated_at = changed_at.or(after.updated_at);
    app.access.change_access(who.tenant()?, &before, &after, audit(who, action, &before, &after)?).await.map_err(change_error)?;
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_bodies_refuse_unknown_fields() {
        assert!(parse_json::<AccessInput>(br#"{"groups": ["ir"], "owner": "x"}"#).is_err());
        assert_eq!(parse_json::<AccessInput>(br#"{"groups": []}"#).unwrap().groups.len(), 0);
    }
}
