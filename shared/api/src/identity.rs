//! Who is calling, and what they may do.
use mitre_domain::{Need, Principal, Role, Sight, TenantId};

use crate::error::ApiError;
use crate::{App, Caller};

pub use mitre_domain::normalize_principal;

#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: String,
    pub role: Role,
    /// The caller's tenant; a superuser listed only in MITRE_SUPERUSERS has none.
    pub tenant: Option<TenantId>,
    /// The platform groups the caller holds (see [`mitre_domain::access`]).
    pub groups: Vec<String>,
    pub request_id: String,
}

impl Identity {
    /// The operator (the CLI) acting in `tenant` with `role`: no groups.
    pub fn operator(principal: &str, role: Role, tenant: Option<TenantId>, request_id: &str) -> Identity {
        Identity { principal: principal.to_string(), role, tenant, groups: Vec::new(), request_id: request_id.to_string() }
    }

    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        if need.allows(self.role) {
            Ok(())
        } else {
            let roles: Vec<&str> = need.roles().iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!("this needs one of the roles {}", roles.join(", "))))
        }
    }

    /// What the caller may see of its tenant's entities.
    pub fn sight(&self) -> Sight {
        Sight::of(self.role, &self.groups)
    }

    /// The tenant the caller works in, for tenant-scoped routes.
    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        self.tenant.as_ref().ok_or_else(|| ApiError::Forbidden("the caller belongs to no tenant".into()))
    }
}

/// Registry entries read for catalog routes, kept for `Settings::principal_ttl` (at most 10,000).
pub struct PrincipalCache {
    entries: mini_moka::sync::Cache<String, Option<Principal>>,
}

impl PrincipalCache {
    pub fn new(ttl: std::time::Duration) -> PrincipalCache {
        PrincipalCache { entries: mini_moka::sync::Cache::builder().max_capacity(10_000).time_to_live(ttl.max(std::time::Duration::from_millis(1))).build() }
    }
}

/// Resolves the verified caller against MITRE_SUPERUSERS and the principal registry. With
/// `cached`, a registry entry read in the last `principal_ttl` is reused (catalog reads);
/// tenant routes always read it afresh, so a revoked principal cannot change tenant data.
pub async fn identify(app: &App, caller: &Caller, cached: bool) -> Result<Identity, ApiError> {
    let principal = normalize_principal(&caller.principal);
    let env_superuser = app.settings.superusers.iter().any(|s| normalize_principal(s) == principal);
    let ttl = app.settings.principal_ttl;
    let hit = if cached && !ttl.is_zero() { app.principal_cache.entries.get(&principal) } else { None };
    let registered = match hit {
        Some(p) => p,
        None => {
            let p = app.principals.principal(&principal).await?;
            if cached && !ttl.is_zero() {
                app.principal_cache.entries.insert(principal.clone(), p.clone());
            }
            p
        }
    };
    let (role, tenant, groups) = match (env_superuser, registered) {
        (true, r) => (Role::Superuser, r.as_ref().map(|p| p.tenant.clone()), Vec::new()),
        (false, Some(p)) => (p.role, Some(p.tenant), p.groups),
        (false, None) => return Err(ApiError::Forbidden("the caller is not registered".into())),
    };
    Ok(Identity { principal, role, tenant, groups, request_id: caller.request_id.clone() })
}
