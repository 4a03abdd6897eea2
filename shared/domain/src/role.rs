//! Principals, their tenant and their role.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::tenant::TenantId;
use crate::time::Timestamp;

/// What a principal may do: viewers read their tenant's mappings, analysts write them, admins
/// also manage their tenant's principals and entity access and read its audit log, superusers
/// manage every tenant and the sync. The integration (the platform's service principal of a
/// tenant) writes mappings and entity access and reads no other tenant data. What each route
/// needs is a [`crate::access::Need`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Integration,
    Viewer,
    Analyst,
    Admin,
    Superuser,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Integration, Role::Viewer, Role::Analyst, Role::Admin, Role::Superuser];

    pub fn parse(value: &str) -> Result<Role, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| Invalid::new("role", "role must be one of superuser, admin, analyst, viewer, integration"))
    }

    /// Whether a principal of this role may give `role` to a principal of its tenant: tenant
    /// admins give any role but superuser, superusers every role.
    pub fn may_grant(self, role: Role) -> bool {
        match self {
            Role::Superuser => true,
            Role::Admin => role != Role::Superuser,
            _ => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Integration => "integration",
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Superuser => "superuser",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered IAM principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    /// IAM ARN; assumed-role session ARNs are normalised to their role.
    pub principal: String,
    pub tenant: TenantId,
    pub role: Role,
    /// The platform groups the principal holds: it sees restricted entities of its tenant
    /// that name one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

impl Principal {
    /// The registry entry of `arn` in `tenant` with `role` and `groups`, registered (or
    /// changed, keeping `before`'s creation time) by `by`. The one rule the API and the CLI both apply.
    pub fn register(arn: &str, tenant: &str, role: &str, groups: &[String], by: &str, before: Option<&Principal>) -> Result<Principal, Invalid> {
        let principal = principal_arn(arn)?;
        let tenant = TenantId::parse(tenant)?;
        let role = Role::parse(role)?;
        let groups = crate::access::groups(groups)?;
        let now = Timestamp::now();
        Ok(Principal { principal, tenant, role, groups, created_at: before.map(|b| b.created_at).unwrap_or(now), updated_at: now, updated_by: by.to_string() })
    }
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` becomes `arn:aws:iam::ACCOUNT:role/ROLE`;
/// every other ARN stays as it is.
pub fn normalize_principal(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6
        && parts[2] == "sts"
        && let Some(rest) = parts[5].strip_prefix("assumed-role/")
    {
        let role = rest.split('/').next().unwrap_or(rest);
        return format!("arn:{}:iam::{}:role/{role}", parts[1], parts[4]);
    }
    arn.to_string()
}

/// An IAM (or STS) principal ARN of at most 512 characters, normalised.
pub fn principal_arn(arn: &str) -> Result<String, Invalid> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok =
        parts.len() == 6 && parts[0] == "arn" && parts[1].starts_with("aws") && matches!(parts[2], "iam" | "sts") && !parts[5].is_empty() && arn.len() <= 512;
    if ok { Ok(normalize_principal(arn)) } else { Err(Invalid::new("principal", format!("{arn:?} is not an IAM principal ARN"))) }
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
    fn roles_are_parsed_and_granted() {
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert_eq!(Role::parse("integration").unwrap(), Role::Integration);
        assert!(Role::Admin.may_grant(Role::Admin) && Role::Admin.may_grant(Role::Integration) && !Role::Admin.may_grant(Role::Superuser));
        assert!(Role::Superuser.may_grant(Role::Superuser) && !Role::Analyst.may_grant(Role::Viewer));
        assert_eq!(Role::parse("root").unwrap_err().field, "role");
    }

    #[test]
    fn registration_checks_every_field_once() {
        let p = Principal::register("arn:aws:sts::1:assumed-role/R/s", "acme", "analyst", &["ir".into()], "root", None).unwrap();
        assert_eq!((p.principal.as_str(), p.tenant.as_str(), p.role), ("arn:aws:iam::1:role/R", "acme", Role::Analyst));
        let again = Principal::register("arn:aws:iam::1:role/R", "acme", "admin", &[], "root", Some(&p)).unwrap();
        assert_eq!(again.created_at, p.created_at);
        assert_eq!(p.groups, vec!["ir"]);
        assert_eq!(Principal::register("nope", "acme", "admin", &[], "root", None).unwrap_err().field, "principal");
        assert_eq!(Principal::register("arn:aws:iam::1:user/u", "-acme", "admin", &[], "root", None).unwrap_err().field, "tenant");
        assert_eq!(Principal::register("arn:aws:iam::1:user/u", "acme", "boss", &[], "root", None).unwrap_err().field, "role");
        assert_eq!(Principal::register("arn:aws:iam::1:user/u", "acme", "admin", &["a b".into()], "root", None).unwrap_err().field, "groups");
    }
}
