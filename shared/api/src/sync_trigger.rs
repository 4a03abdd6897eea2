//! Starting a sync from the API (`POST sync`, superusers) and reading its run records
//! (`GET sync/runs`). The source is always the deployment's configured one: a request names
//! only the domain and the options. The sync itself runs elsewhere: the deployed sync function,
//! invoked asynchronously, or in the background of `mitre serve`.
use async_trait::async_trait;
use mitre_attack::Domain;
use mitre_domain::{AuditEntry, TenantId};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::mappings::parse_json;
use crate::params::Params;
use crate::{App, Reply};

pub use mitre_domain::SyncRequest;

/// Starts a sync somewhere else and returns at once.
#[async_trait]
pub trait SyncTrigger: Send + Sync {
    async fn start(&self, request: SyncRequest) -> Result<(), ApiError>;
}

/// A deployment without a sync function to start.
pub struct NoSyncFunction;

#[async_trait]
impl SyncTrigger for NoSyncFunction {
    async fn start(&self, _request: SyncRequest) -> Result<(), ApiError> {
        Err(ApiError::Unavailable("this deployment has no sync function to start".into()))
    }
}

/// The body of `POST sync`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// enterprise-attack, mobile-attack or ics-attack.
    pub domain: String,
    /// Ignore validators, hashes and the removal guard: rewrite every object (default false).
    #[serde(default)]
    pub force: bool,
    /// Leave relationship objects as they are (default false).
    #[serde(default)]
    pub no_relationships: bool,
}

pub async fn start(app: &App, who: &Identity, body: &[u8]) -> Result<Reply, ApiError> {
    let input: SyncInput = parse_json(body)?;
    let domain: Domain = input.domain.parse().map_err(|_| ApiError::Unprocessable {
        message: "domain must be one of enterprise-attack, mobile-attack, ics-attack".into(),
        details: Some(json!({ "field": "domain" })),
    })?;
    let request = SyncRequest {
        run_id: mitre_domain::new_id(),
        domain,
        force: input.force,
        no_relationships: input.no_relationships,
        requested_by: who.principal.clone(),
    };
    // Started first, then audited: a start that failed changed nothing (and the run audits
    // itself as sync.run with the requester as actor).
    app.sync.start(request.clone()).await?;
    let audit = AuditEntry::of(&TenantId::system(), &who.principal, "sync.request", format!("catalog/{domain}"), None, Some(&request), &who.request_id);
    app.audit.append_audit(audit).await?;
    Ok(Reply::json(json!({
        "run_id": request.run_id,
        "domain": domain,
        "status": "started",
        "runs": format!("{}/sync/runs?domain={domain}", crate::routes::PREFIX),
    }))
    .with_status(202))
}

pub async fn runs(app: &App, params: &Params) -> Result<Reply, ApiError> {
    let domains = match params.domain_opt()? {
        Some(d) => vec![d],
        None => Domain::ALL.to_vec(),
    };
    let mut runs = Vec::new();
    for d in domains {
        runs.extend(app.backend.runs(d).await?);
    }
    runs.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.run_id.cmp(&a.run_id)));
    Ok(Reply::json(json!({ "items": runs, "next_cursor": null })))
}
