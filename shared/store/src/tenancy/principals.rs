//! The principal registry: `P#{arn}`, listed on gsi1 `PRINCIPALS`.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use mitre_domain::{AuditEntry, Principal, PrincipalRepo, RepoError, WriteError};
use serde::{Deserialize, Serialize};

use super::{Part, Tx, audit_put, store_write_error};
use crate::ddb::{from_item, key, to_item};
use crate::error::StoreError;
use crate::{Store, keys};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrincipalItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    pub principal: Principal,
}

impl PrincipalItem {
    pub fn new(p: &Principal) -> PrincipalItem {
        PrincipalItem {
            pk: keys::principal_pk(&p.principal),
            sk: keys::PRINCIPAL_SK.into(),
            gsi1pk: keys::PRINCIPALS_GSI.into(),
            gsi1sk: p.principal.clone(),
            principal: p.clone(),
        }
    }
}

#[async_trait]
impl PrincipalRepo for Store {
    async fn principal(&self, arn: &str) -> Result<Option<Principal>, RepoError> {
        Ok(self.get_item::<PrincipalItem>(&keys::principal_pk(arn), keys::PRINCIPAL_SK).await?.map(|i| i.principal))
    }

    async fn principals(&self) -> Result<Vec<Principal>, RepoError> {
        let items = self.query_partition(Some(keys::GSI1), keys::PRINCIPALS_GSI, None).await?;
        Ok(items.into_iter().map(|i| from_item::<PrincipalItem>(i).map(|p| p.principal)).collect::<Result<_, _>>()?)
    }

    async fn put_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), RepoError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(to_item(&PrincipalItem::new(p))?)).build().map_err(StoreError::from)?;
        let tx = Tx::default().with(Part::Item, TransactWriteItem::builder().put(put).build()).with(Part::Audit, audit_put(&self.table, audit)?);
        self.transact(tx).await?.map_err(|c| c.into_error())?;
        Ok(())
    }

    async fn delete_principal(&self, p: &Principal, audit: AuditEntry) -> Result<(), WriteError> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::principal_pk(&p.principal), keys::PRINCIPAL_SK)))
            .condition_expression("updated_at = :u")
            .expression_attribute_values(":u", AttributeValue::S(p.updated_at.to_string()))
            .build()
            .map_err(|e| store_write_error(e.into()))?;
        let audit = audit_put(&self.table, audit).map_err(store_write_error)?;
        match self
            .transact(Tx::default().with(Part::Item, TransactWriteItem::builder().delete(del).build()).with(Part::Audit, audit))
            .await
            .map_err(store_write_error)?
        {
            Ok(()) => Ok(()),
            Err(c) if c.condition_failed(Part::Item) => Err(WriteError::Stale),
            Err(c) => Err(store_write_error(c.into_error())),
        }
    }
}
