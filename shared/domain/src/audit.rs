//! The audit log: one entry per change, append-only.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tenant::TenantId;
use crate::time::Timestamp;

/// Who changed what, when, from what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// ULID, time-ordered.
    pub id: String,
    pub tenant: TenantId,
    pub actor: String,
    /// e.g. mapping.create, mapping.merge, mapping.update, mapping.delete, mapping.repair,
    /// mapping.flag, mapping.migrate, principal.put, principal.delete, sync.run, correlations.repair.
    pub action: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
    pub at: Timestamp,
    pub request_id: String,
}

impl AuditEntry {
    /// An entry made now, with a new time-ordered id: the one way entries are made.
    pub fn new(tenant: &TenantId, actor: &str, action: &str, target: String, before: Option<Value>, after: Option<Value>, request_id: &str) -> AuditEntry {
        AuditEntry {
            id: crate::new_id(),
            tenant: tenant.clone(),
            actor: actor.to_string(),
            action: action.to_string(),
            target,
            before,
            after,
            at: Timestamp::now(),
            request_id: request_id.to_string(),
        }
    }

    /// The same, with the before and after states serialised.
    pub fn of<T: Serialize>(
        tenant: &TenantId,
        actor: &str,
        action: &str,
        target: String,
        before: Option<&T>,
        after: Option<&T>,
        request_id: &str,
    ) -> AuditEntry {
        let value = |v: Option<&T>| v.map(|v| serde_json::to_value(v).unwrap_or(Value::Null));
        AuditEntry::new(tenant, actor, action, target, value(before), value(after), request_id)
    }
}
