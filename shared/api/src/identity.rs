//! Who is calling, and what they may do.
use mitre_store::tenancy::Role;

use crate::error::ApiError;
use crate::{App, Caller};

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` becomes `arn:aws:iam::ACCOUNT:role/ROLE`;
/// every other ARN stays as it is.
pub fn normalize_principal(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[2] == "sts"
        && let Some(rest) = parts[5].strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or(rest);
            return format!("arn:{}:iam::{}:role/{role}", parts[1], parts[4]);
        }
    arn.to_string()
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: String,
    pub role: Role,
    /// The caller's tenant; a superuser listed only in MITRE_SUPERUSERS has none.
    pub tenant: Option<String>,
    pub request_id: String,
}

impl Identity {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this needs the {} role or higher", role.as_str())))
        }
    }

    /// The tenant the caller works in, for tenant-scoped routes.
    pub fn tenant(&self) -> Result<&str, ApiError> {
        self.tenant.as_deref().ok_or_else(|| ApiError::Forbidden("the caller belongs to no tenant".into()))
    }
}

/// Registry entries read for catalog routes, kept for `Settings::principal_ttl`.
#[derive(Default)]
pub struct PrincipalCache {
    entries: tokio::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Option<mitre_store::tenancy::Principal>)>>,
}

/// Resolves the verified caller against MITRE_SUPERUSERS and the principal registry. With
/// `cached`, a registry entry read in the last `principal_ttl` is reused (catalog reads);
/// tenant routes always read it afresh, so a revoked principal cannot change tenant data.
pub async fn identify(app: &App, caller: &Caller, cached: bool) -> Result<Identity, ApiError> {
    let principal = normalize_principal(&caller.principal);
    let env_superuser = app.settings.superusers.iter().any(|s| normalize_principal(s) == principal);
    let ttl = app.settings.principal_ttl;
    let hit = if cached && !ttl.is_zero() {
        app.principals.entries.lock().await.get(&principal).filter(|(at, _)| at.elapsed() < ttl).map(|(_, p)| p.clone())
    } else {
        None
    };
    let registered = match hit {
        Some(p) => p,
        None => {
            let p = app.store.principal(&principal).await?;
            if cached && !ttl.is_zero() {
                let mut entries = app.principals.entries.lock().await;
                if entries.len() > 10_000 {
                    entries.clear();
                }
                entries.insert(principal.clone(), (std::time::Instant::now(), p.clone()));
            }
            p
        }
    };
    let (role, tenant) = match (env_superuser, registered) {
        (true, r) => (Role::Superuser, r.map(|p| p.tenant)),
        (false, Some(p)) => (p.role, Some(p.tenant)),
        (false, None) => return Err(ApiError::Forbidden("the caller is not registered".into())),
    };
    Ok(Identity { principal, role, tenant, request_id: caller.request_id.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_roles_become_roles() {
        assert_eq!(normalize_principal("arn:aws:sts::123456789012:assumed-role/Analyst/alice@example.com"), "arn:aws:iam::123456789012:role/Analyst");
        assert_eq!(normalize_principal("arn:aws:iam::123456789012:user/bob"), "arn:aws:iam::123456789012:user/bob");
        assert_eq!(normalize_principal("arn:aws-us-gov:sts::1:assumed-role/R/s"), "arn:aws-us-gov:iam::1:role/R");
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Superuser > Role::Admin && Role::Admin > Role::Analyst && Role::Analyst > Role::Viewer);
    }
}
