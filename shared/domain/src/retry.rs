//! How an operation is tried again: one policy per operation, applied in one layer, bounded in
//! attempts and in the total time spent waiting between them (exponential backoff with jitter).
//! Whatever a policy wraps makes each of its calls once: nothing beneath retries as well.
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub attempts: usize,
    /// The first wait; each later one doubles, up to `max_delay`, with jitter.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The waits of one operation, added up, never pass this: an operation ends after at most
    /// `attempts` tries and this much waiting, whatever happens.
    pub max_total_delay: Duration,
}

impl RetryPolicy {
    /// One API request: a caller is waiting, so a throttled table answers 503 soon; enough tries
    /// for 32 concurrent writers of the same records to get through (`make test-load`).
    pub const REQUEST: RetryPolicy =
        RetryPolicy { attempts: 8, min_delay: Duration::from_millis(20), max_delay: Duration::from_millis(500), max_total_delay: Duration::from_millis(2_000) };
    /// One batch of a long-running job (the sync's item writes): patient, as the job can afford.
    pub const BATCH: RetryPolicy =
        RetryPolicy { attempts: 12, min_delay: Duration::from_millis(50), max_delay: Duration::from_secs(5), max_total_delay: Duration::from_secs(60) };
    /// One HTTP fetch of a bundle or TAXII page (a server's Retry-After may lengthen a wait,
    /// up to the source's own limit).
    pub const FETCH: RetryPolicy =
        RetryPolicy { attempts: 3, min_delay: Duration::from_millis(400), max_delay: Duration::from_secs(5), max_total_delay: Duration::from_secs(30) };

    /// The same policy with `attempts` attempts in all (at least one).
    pub fn with_attempts(self, attempts: usize) -> RetryPolicy {
        RetryPolicy { attempts: attempts.max(1), ..self }
    }

    /// The backoff of this policy.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts.saturating_sub(1))
            .with_total_delay(Some(self.max_total_delay))
    }

    /// Runs `op` until it succeeds, fails with an error `transient` refuses, or the policy is
    /// spent (then the last error is returned).
    pub async fn run<T, E, F, Fut>(&self, op: F, transient: impl FnMut(&E) -> bool) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        op.retry(self.backoff()).sleep(tokio::time::sleep).when(transient).await
    }

    /// [`RetryPolicy::run`], where an error may name its own wait (a server's Retry-After): that
    /// wait replaces the backoff's, while the policy's attempts still bound the operation.
    pub async fn run_waiting<T, E, F, Fut>(&self, op: F, transient: impl FnMut(&E) -> bool, mut wait: impl FnMut(&E) -> Option<Duration>) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        op.retry(self.backoff()).sleep(tokio::time::sleep).when(transient).adjust(move |e, backoff| backoff.map(|d| wait(e).unwrap_or(d))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FAST: RetryPolicy =
        RetryPolicy { attempts: 4, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2), max_total_delay: Duration::from_millis(50) };

    #[tokio::test]
    async fn a_transient_failure_is_tried_at_most_attempts_times() {
        let calls = AtomicUsize::new(0);
        let out: Result<(), &str> = FAST
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("busy")
                },
                |_| true,
            )
            .await;
        assert_eq!(out, Err("busy"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_lasting_failure_is_not_tried_again_and_a_success_ends_the_operation() {
        let calls = AtomicUsize::new(0);
        let out: Result<(), &str> = FAST
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("invalid")
                },
                |e| *e == "busy",
            )
            .await;
        assert_eq!((out, calls.swap(0, Ordering::SeqCst)), (Err("invalid"), 1));
        let out = FAST
            .run(
                || async {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    if n < 2 { Err("busy") } else { Ok(n) }
                },
                |_| true,
            )
            .await;
        assert_eq!(out, Ok(2));
    }

    #[tokio::test]
    async fn the_total_wait_is_bounded_whatever_the_attempts() {
        let patient_but_capped = RetryPolicy {
            attempts: 1_000,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_total_delay: Duration::from_millis(100),
        };
        let calls = AtomicUsize::new(0);
        let started = std::time::Instant::now();
        let out: Result<(), &str> = patient_but_capped
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("busy")
                },
                |_| true,
            )
            .await;
        assert!(out.is_err());
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(calls.load(Ordering::SeqCst) < 1_000);
        assert_eq!(RetryPolicy::REQUEST.with_attempts(0).attempts, 1);
    }
}
