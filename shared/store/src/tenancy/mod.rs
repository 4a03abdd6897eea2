//! The tenant side in the table: the DynamoDB implementations of the domain's repositories
//! (mappings, principals, the audit log), and the use counters that integrity checks read.
//! Every write of tenant data is one transaction with its audit entry.
mod audit;
mod mappings;
mod principals;
mod stats;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use mitre_domain::{AuditEntry, RepoError, WriteError};

pub use mappings::{MappingItem, TechniqueUse, mapping_from_item};
pub use mitre_domain::{Mapping, MappingKind, Principal, Role, TenantId};
pub use principals::PrincipalItem;

use crate::ddb::to_item;
use crate::error::StoreError;
use crate::items::AuditItem;

/// The audit entry of a transaction: never overwrites one.
fn audit_put(table: &str, entry: AuditEntry) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(to_item(&AuditItem::new(entry))?)).condition_expression("attribute_not_exists(pk)").build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The cancellation reason codes of a cancelled transaction, one per item (None for items
/// that did not fail); None when the transaction failed otherwise.
pub fn cancellation_codes(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<Option<String>>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None").map(str::to_string)).collect())
        }
        _ => None,
    }
}

/// Whether item `index` of a cancelled transaction failed its condition.
pub fn condition_failed(codes: &[Option<String>], index: usize) -> bool {
    codes.get(index).is_some_and(|c| c.as_deref() == Some("ConditionalCheckFailed"))
}

impl From<StoreError> for RepoError {
    fn from(e: StoreError) -> Self {
        RepoError::Backend(e.to_string())
    }
}

fn store_write_error(e: StoreError) -> WriteError {
    WriteError::Repo(e.into())
}
