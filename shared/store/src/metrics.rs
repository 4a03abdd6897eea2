//! Per-request DynamoDB accounting: calls and consumed capacity, for the API's metric line.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    calls: AtomicU64,
    /// Consumed capacity units, in thousandths.
    capacity_milli: AtomicU64,
}

impl Counters {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
    pub fn capacity(&self) -> f64 {
        self.capacity_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

tokio::task_local! {
    static CURRENT: Arc<Counters>;
}

/// Runs `fut` with fresh counters and returns them with its output.
pub async fn measured<F: Future>(fut: F) -> (F::Output, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let out = CURRENT.scope(counters.clone(), fut).await;
    (out, counters)
}

/// Records one DynamoDB call and the capacity it consumed (no-op outside [`measured`]).
pub fn record(capacity: Option<f64>) {
    let _ = CURRENT.try_with(|c| {
        c.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(units) = capacity {
            c.capacity_milli.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    });
}

pub fn capacity_of(c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> Option<f64> {
    c.and_then(|c| c.capacity_units())
}
