//! The audit log: `T#{tenant}#AUDIT` per tenant, every tenant's on gsi1 `AUDIT`; newest first.
use async_trait::async_trait;
use mitre_domain::{AuditEntry, AuditFilter, AuditLog, Page, RepoError, cursor};

use crate::ddb::{Filter, Query, from_item, to_item};
use crate::error::StoreError;
use crate::items::AuditItem;
use crate::{Store, keys};

#[async_trait]
impl AuditLog for Store {
    async fn list_audit(&self, filter: &AuditFilter, limit: usize, cursor: Option<&str>) -> Result<Page<AuditEntry>, RepoError> {
        let (index, pk) = match &filter.tenant {
            Some(t) => (None, keys::audit_pk(t.as_str())),
            None => (Some(keys::GSI1), keys::AUDIT_GSI.to_string()),
        };
        let mut f = Filter::default();
        for (attr, value) in [("action", &filter.action), ("actor", &filter.actor), ("target", &filter.target)] {
            if let Some(v) = value {
                f.compare(attr, "=", v.as_str());
            }
        }
        if let Some(t) = filter.since {
            f.compare("at", ">=", t.to_string());
        }
        if let Some(t) = filter.until {
            f.compare("at", "<=", t.to_string());
        }
        let q = Query { index, pk, filter: f, newest_first: true, ..Query::default() };
        let fingerprint = cursor::fingerprint(&("audit", filter));
        let start = cursor.map(|c| crate::ddb::cursor_key(c, &fingerprint)).transpose()?;
        let (page, next) = self.query_filled(&q, start, limit).await?;
        let items = page.into_iter().map(|i| from_item::<AuditItem>(i).map(|a| a.entry)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: next.map(|k| crate::ddb::key_cursor(&k, &fingerprint)) })
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), RepoError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&AuditItem::new(entry))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }
}
