//! Per-request DynamoDB accounting: calls (every attempt the SDK sends, counted by an
//! interceptor on the client), consumed capacity and committed writes, for the API's metric line.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
pub struct Counters {
    calls: AtomicU64,
    /// Consumed capacity units, in thousandths.
    capacity_milli: AtomicU64,
    /// Transactions of tenant data that committed.
    commits: AtomicU64,
}

impl Counters {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
    pub fn capacity(&self) -> f64 {
        self.capacity_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
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

/// The counters of the [`measured`] scope this runs in.
pub fn current() -> Option<Arc<Counters>> {
    CURRENT.try_with(Arc::clone).ok()
}

fn with(f: impl FnOnce(&Counters)) {
    let _ = CURRENT.try_with(|c| f(c));
}

/// Records the capacity a DynamoDB call consumed (no-op outside [`measured`]).
pub fn record_capacity(capacity: Option<f64>) {
    if let Some(units) = capacity {
        with(|c| {
            c.capacity_milli.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        });
    }
}

/// Records a transaction of tenant data that committed.
pub fn record_commit() {
    with(|c| {
        c.commits.fetch_add(1, Ordering::Relaxed);
    });
}

pub fn capacity_of(c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> Option<f64> {
    c.and_then(|c| c.capacity_units())
}

/// Counts every attempt the DynamoDB client sends, retries included, in the current
/// [`measured`] scope: installed on every DynamoDB client the store builds.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(&self, _: &BeforeTransmitInterceptorContextRef<'_>, _: &RuntimeComponents, _: &mut ConfigBag) -> Result<(), BoxError> {
        with(|c| {
            c.calls.fetch_add(1, Ordering::Relaxed);
        });
        Ok(())
    }
}
