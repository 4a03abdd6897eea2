//! A tenant's review verdicts: one item per technique (`T#{tenant}#FEEDBACK`, `F#{technique}`,
//! so no item outgrows DynamoDB's limit) whose counters `c|{signature}` (confirmed) and
//! `r|{signature}` (rejected) every confirming or removing write of an auto-mapping awaiting
//! review adds to, in its own transaction.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use mitre_domain::review::{Verdict, Verdicts};
use mitre_domain::{FeedbackRepo, RepoError, TenantId};

use crate::ddb::key;
use crate::error::StoreError;
use crate::{Store, keys};

/// The counter a verdict adds one to.
pub(crate) fn verdict_counter(table: &str, tenant: &TenantId, v: &Verdict) -> Result<TransactWriteItem, StoreError> {
    let name = format!("{}|{}", if v.confirmed { "c" } else { "r" }, v.signature);
    let u = Update::builder()
        .table_name(table)
        .set_key(Some(key(keys::feedback_pk(tenant.as_str()), keys::feedback_sk(&v.technique))))
        .update_expression("ADD #n :one")
        .expression_attribute_names("#n", name)
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()?;
    Ok(TransactWriteItem::builder().update(u).build())
}

#[async_trait]
impl FeedbackRepo for Store {
    async fn verdicts(&self, tenant: &TenantId, techniques: &[String]) -> Result<Verdicts, RepoError> {
        let pk = keys::feedback_pk(tenant.as_str());
        let items = self.batch_get_consistent(techniques.iter().map(|t| (pk.clone(), keys::feedback_sk(t)))).await?;
        let mut verdicts = Verdicts::new();
        for item in items {
            let Some(technique) = item.get("sk").and_then(|v| v.as_s().ok()).and_then(|sk| sk.strip_prefix(keys::FEEDBACK_SK_PREFIX)).map(str::to_string)
            else {
                continue;
            };
            for (name, value) in &item {
                let Some((which, signature)) = name.split_once('|') else { continue };
                let Some(n) = value.as_n().ok().and_then(|n| n.parse::<u32>().ok()) else { continue };
                let c = verdicts.entry((technique.clone(), signature.to_string())).or_default();
                match which {
                    "c" => c.0 += n,
                    "r" => c.1 += n,
                    _ => {}
                }
            }
        }
        Ok(verdicts)
    }
}
