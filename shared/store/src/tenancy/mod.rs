//! The tenant side in the table: the DynamoDB implementations of the domain's repositories
//! (mappings, principals, the audit log), and the use counters that integrity checks read.
//! Every write of tenant data is one transaction with its audit entry.
mod access;
mod audit;
mod feedback;
mod insight;
mod mappings;
mod principals;
mod stats;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use mitre_domain::{AuditEntry, WriteError};

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

/// What an item of a transaction is for: a cancelled transaction's reasons are read by part,
/// never by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The item the write is about (a mapping, a principal).
    Item,
    /// The uniqueness guard the item takes (a mapping's entity, technique and tactic).
    Guard,
    /// The guard the item gives up (a mapping that moves or goes).
    OldGuard,
    Audit,
    /// A statistics presence record, written on condition that it is as read.
    Presence,
    /// A counter (ADD): never conditional.
    Counter,
    /// The check that the sync still holds its lease.
    Lease,
    /// A record the write keeps beside the item (a domain's state, a run record).
    Record,
    /// The access record of an entity the mapping names: at the version the mapping copies.
    Access,
}

/// The items of one TransactWriteItems, each with its part.
#[derive(Debug, Default, Clone)]
pub struct Tx {
    items: Vec<(Part, TransactWriteItem)>,
}

impl Tx {
    pub fn with(mut self, part: Part, item: TransactWriteItem) -> Tx {
        self.items.push((part, item));
        self
    }

    pub fn push(&mut self, part: Part, item: TransactWriteItem) {
        self.items.push((part, item));
    }
}

/// Why DynamoDB cancelled a transaction: each item's reason code, by part.
#[derive(Debug)]
pub struct Cancelled {
    reasons: Vec<(Part, Option<String>)>,
}

impl Cancelled {
    /// Whether an item of `part` failed its condition.
    pub fn condition_failed(&self, part: Part) -> bool {
        self.reasons.iter().any(|(p, code)| *p == part && code.as_deref() == Some("ConditionalCheckFailed"))
    }

    /// Whether any item was cancelled with one of `codes`.
    pub fn any(&self, codes: &[&str]) -> bool {
        self.reasons.iter().any(|(_, c)| c.as_deref().is_some_and(|c| codes.contains(&c)))
    }

    /// The cancellation as a failure of the store.
    pub fn into_error(self) -> StoreError {
        let reasons: Vec<String> = self.reasons.iter().filter_map(|(p, c)| c.as_ref().map(|c| format!("{p:?}: {c}"))).collect();
        StoreError::Cancelled(reasons.join(", "))
    }
}

/// The cancellation reasons of a cancelled transaction, by part; None when it failed otherwise.
fn cancellation(parts: &[Part], e: &SdkError<TransactWriteItemsError>) -> Option<Cancelled> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let codes = c.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None").map(str::to_string));
            Some(Cancelled { reasons: parts.iter().copied().zip(codes).collect() })
        }
        _ => None,
    }
}

impl crate::Store {
    /// One TransactWriteItems call: Ok(Err(..)) when DynamoDB cancelled it, with its reasons.
    pub async fn transact(&self, tx: Tx) -> Result<Result<(), Cancelled>, StoreError> {
        let (parts, items): (Vec<Part>, Vec<TransactWriteItem>) = tx.items.into_iter().unzip();
        match self.ddb.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => {
                crate::metrics::record_commit();
                Ok(Ok(()))
            }
            Err(e) => match cancellation(&parts, &e) {
                Some(c) => Ok(Err(c)),
                None => Err(StoreError::dynamo("TransactWriteItems", e)),
            },
        }
    }
}

fn store_write_error(e: StoreError) -> WriteError {
    match e {
        StoreError::Contended { .. } => WriteError::Contended,
        e => WriteError::Repo(e.into()),
    }
}
