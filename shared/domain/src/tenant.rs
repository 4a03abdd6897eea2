//! Tenants: every tenant-side item is keyed under one.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// A tenant id: 1 to 64 lower-case letters, digits or '-', not starting with '-'.
/// Stored values are read as they are (the system tenant `_system` among them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct TenantId(String);

/// The tenant under which system actions (sync runs, repairs) are audited.
pub const SYSTEM_TENANT: &str = "_system";

impl TenantId {
    pub fn parse(value: &str) -> Result<TenantId, Invalid> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !value.starts_with('-');
        if ok { Ok(TenantId(value.to_string())) } else { Err(Invalid::new("tenant", "tenant must be 1 to 64 lower-case letters, digits or '-'")) }
    }

    /// A tenant whose log or data a superuser names: any valid tenant, or the system tenant.
    pub fn parse_or_system(value: &str) -> Result<TenantId, Invalid> {
        if value == SYSTEM_TENANT { Ok(TenantId::system()) } else { TenantId::parse(value) }
    }

    pub fn system() -> TenantId {
        TenantId(SYSTEM_TENANT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_validate() {
        assert_eq!(TenantId::parse("acme-2").unwrap().as_str(), "acme-2");
        for bad in ["", "-acme", "Acme", "ac me", "a_b", &"a".repeat(65)] {
            assert_eq!(TenantId::parse(bad).unwrap_err().field, "tenant", "{bad:?}");
        }
        assert_eq!(TenantId::system().as_str(), "_system");
    }
}
