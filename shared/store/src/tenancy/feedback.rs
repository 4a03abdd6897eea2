//! A tenant's review verdicts: one item (`T#{tenant}#FEEDBACK`, `F`) whose counters
//! `c|{technique}|{signature}` (confirmed) and `r|...` (rejected) every confirming or removing
//! write of an auto-mapping awaiting review adds to, in its own transaction.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use mitre_domain::review::{Verdict, Verdicts};
use mitre_domain::{FeedbackRepo, RepoError, TenantId};

use crate::ddb::key;
use crate::error::StoreError;
use crate::{Store, keys};

/// The counter a verdict adds one to.
pub(crate) fn verdict_counter(table: &str, tenant: &TenantId, v: &Verdict) -> Result<TransactWriteItem, StoreError> {
    let name = format!("{}|{}|{}", if v.confirmed { "c" } else { "r" }, v.technique, v.signature);
    let u = Update::builder()
        .table_name(table)
        .set_key(Some(key(keys::feedback_pk(tenant.as_str()), keys::FEEDBACK_SK)))
        .update_expression("ADD #n :one")
        .expression_attribute_names("#n", name)
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()?;
    Ok(TransactWriteItem::builder().update(u).build())
}

#[async_trait]
impl FeedbackRepo for Store {
    async fn verdicts(&self, tenant: &TenantId) -> Result<Verdicts, RepoError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::feedback_pk(tenant.as_str()), keys::FEEDBACK_SK)))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        crate::metrics::record_capacity(crate::metrics::capacity_of(out.consumed_capacity()));
        let mut verdicts = Verdicts::new();
        for (name, value) in out.item.unwrap_or_default() {
            let mut parts = name.splitn(3, '|');
            let (Some(which), Some(technique), Some(signature)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let Ok(n) = value.as_n().map_err(|_| ()).and_then(|n| n.parse::<u32>().map_err(|_| ())) else { continue };
            let c = verdicts.entry((technique.to_string(), signature.to_string())).or_default();
            match which {
                "c" => c.0 += n,
                "r" => c.1 += n,
                _ => {}
            }
        }
        Ok(verdicts)
    }
}
