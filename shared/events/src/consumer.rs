//! The consumer function: each SQS message is one platform event (see [`crate::inbound`]).
//!
//! - An enrichment event enriches its entity exactly as `POST {kind}s/{id}/enrich` does (same
//!   engine, threshold, review verdicts, evidence, audit and merge), as the tenant's
//!   integration (`events:{source}`), with the event's id as the request id. Enriching twice
//!   merges into the same mappings: one mapping per technique and tactic.
//! - An access event applies the platform's access as `PUT {kind}s/{id}/access` does, unless
//!   the entity already has it or a later change.
//! - An event refused for good (malformed, unknown tenant or kind, too large, invalid) goes to
//!   the dead-letter queue at once with its reason, is logged and counted; it never blocks the
//!   queue and is never retried.
//! - A transient failure (throttling, an unreachable table, writers overtaking each other) is
//!   retried under [`RetryPolicy::BATCH`], then reported as a batch item failure, so that SQS
//!   delivers the message again after its visibility timeout (and, after the queue's
//!   `maxReceiveCount`, moves it to the dead-letter queue).
//!
//! Events about one entity run in the order received; different entities concurrently.
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use mitre_api::identity::Identity;
use mitre_api::{ApiError, App, ReplyBody};
use mitre_domain::metrics::{Metric, emf_line};
use mitre_domain::{RetryPolicy, Role};
use serde_json::{Value, json};

use crate::BoxError;
use crate::inbound::{self, Action, InEvent, Reason, Rejected};
use crate::lambda::{BatchResponse, SqsEvent, SqsMessage};

/// Where refused events go: the dead-letter queue, with the reason as message attributes.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn send(&self, body: &str, rejected: &Rejected) -> Result<(), BoxError>;
}

/// A batch's messages about one entity, in order: (position, message, what parsing found).
type Group = Vec<(usize, SqsMessage, Result<InEvent, Rejected>)>;

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Enriched: the mappings created and merged.
    Enriched { created: usize, merged: usize },
    /// An access change applied (or already in force, or older than the access in force).
    Access(mitre_api::entity_access::Applied),
    /// Refused for good, and sent to the dead-letter queue.
    DeadLettered(Reason),
    /// Failed for now: SQS delivers it again.
    Retry,
}

pub struct Consumer {
    pub app: App,
    dead_letters: Arc<dyn DeadLetters>,
    /// The platform's `source` read.
    source: String,
    /// Messages handled at once (of different entities).
    pub concurrency: usize,
    policy: RetryPolicy,
    /// Print one metric line per batch (off in benchmarks).
    pub metric_lines: bool,
    tenants: tokio::sync::Mutex<Option<(Instant, HashSet<String>)>>,
}

/// How long the set of known tenants is reused before it is read again.
const TENANTS_TTL: Duration = Duration::from_secs(60);

impl Consumer {
    pub fn new(app: App, dead_letters: Arc<dyn DeadLetters>, source: &str) -> Consumer {
        Consumer {
            app,
            dead_letters,
            source: source.to_string(),
            concurrency: 10,
            policy: RetryPolicy::BATCH,
            metric_lines: true,
            tenants: tokio::sync::Mutex::new(None),
        }
    }

    /// The same, printing no metric lines (local runs, benchmarks).
    pub fn quiet(mut self) -> Consumer {
        self.metric_lines = false;
        self
    }

    /// The same, retrying transient failures under `policy` (tests use a short one).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Consumer {
        self.policy = policy;
        self
    }

    /// Handles one batch; the answer lists the messages SQS must deliver again.
    pub async fn handle(&self, event: SqsEvent) -> BatchResponse {
        let outcomes = self.outcomes(&event.records).await;
        self.metrics(&outcomes);
        BatchResponse::failing(outcomes.into_iter().filter(|(_, o)| *o == Outcome::Retry).map(|(id, _)| id))
    }

    /// Each message's outcome, by message id, in the batch's order.
    pub async fn outcomes(&self, messages: &[SqsMessage]) -> Vec<(String, Outcome)> {
        // the messages of one entity, in order, one after the other; entities concurrently
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (i, m) in messages.iter().enumerate() {
            let parsed = inbound::parse(&m.body, &self.source);
            let key = match &parsed {
                Ok(e) => format!("{}/{}", e.tenant, e.action.entity()),
                Err(_) => format!("#{i}"),
            };
            groups.entry(key).or_default().push((i, m.clone(), parsed));
        }
        let runs: Vec<_> = groups.into_values().map(|group| self.run_group(group)).collect();
        let mut done: Vec<(usize, String, Outcome)> =
            futures::stream::iter(runs).buffer_unordered(self.concurrency.max(1)).flat_map(futures::stream::iter).collect().await;
        done.sort_by_key(|(i, _, _)| *i);
        done.into_iter().map(|(_, id, o)| (id, o)).collect()
    }

    async fn run_group(&self, group: Group) -> Vec<(usize, String, Outcome)> {
        let mut out = Vec::new();
        for (i, m, parsed) in group {
            let outcome = self.one(&m, parsed).await;
            out.push((i, m.message_id, outcome));
        }
        out
    }

    async fn one(&self, m: &SqsMessage, parsed: Result<InEvent, Rejected>) -> Outcome {
        let result = match parsed {
            Ok(e) => match self.known(&e).await {
                Ok(true) => self.act(&e).await,
                Ok(false) => {
                    Err(Failure::Rejected(Rejected::new(Reason::UnknownTenant, format!("tenant {:?} has no registered principal", e.tenant.as_str()))))
                }
                Err(e) => Err(Failure::Transient(e)),
            },
            Err(r) => Err(Failure::Rejected(r)),
        };
        match result {
            Ok(o) => o,
            Err(Failure::Rejected(r)) => {
                tracing::warn!(message_id = %m.message_id, reason = r.reason.as_str(), error = %r.message, "event refused: sent to the dead-letter queue");
                match self.dead_letters.send(&m.body, &r).await {
                    Ok(()) => Outcome::DeadLettered(r.reason),
                    Err(e) => {
                        tracing::error!(message_id = %m.message_id, error = %mitre_store::Chain(&*e), "the dead-letter queue refused the event: delivered again");
                        Outcome::Retry
                    }
                }
            }
            Err(Failure::Transient(e)) => {
                tracing::warn!(message_id = %m.message_id, receive_count = m.receive_count(), error = %mitre_store::Chain(&e), "event failed for now: delivered again");
                Outcome::Retry
            }
        }
    }

    /// Whether the event's tenant has a registered principal (the set read at most every
    /// minute, and again when a tenant is not in it).
    async fn known(&self, e: &InEvent) -> Result<bool, ApiError> {
        let mut cached = self.tenants.lock().await;
        if let Some((at, set)) = cached.as_ref()
            && (set.contains(e.tenant.as_str()) || at.elapsed() < Duration::from_secs(5))
            && at.elapsed() < TENANTS_TTL
        {
            return Ok(set.contains(e.tenant.as_str()));
        }
        let principals = self.policy.run(|| self.app.principals.principals(), |_| true).await.map_err(ApiError::from)?;
        let set: HashSet<String> = principals.into_iter().map(|p| p.tenant.as_str().to_string()).collect();
        let known = set.contains(e.tenant.as_str());
        *cached = Some((Instant::now(), set));
        Ok(known)
    }

    async fn act(&self, e: &InEvent) -> Result<Outcome, Failure> {
        let who = Identity {
            principal: format!("events:{}", e.source),
            role: Role::Integration,
            tenant: Some(e.tenant.clone()),
            groups: Vec::new(),
            request_id: e.id.clone(),
        };
        let attempt = || async {
            match &e.action {
                Action::Enrich { entity, body } => {
                    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
                    let reply = mitre_api::suggestions::enrich_entity(&self.app, &who, entity.kind, &entity.id, &bytes).await?;
                    let ReplyBody::Json(v) = reply.body else { return Err(ApiError::internal(std::io::Error::other("enrich answered no JSON"))) };
                    let statuses: Vec<&str> = v["mapped"].as_array().map(|a| a.iter().filter_map(|m| m["status"].as_str()).collect()).unwrap_or_default();
                    Ok(Outcome::Enriched {
                        created: statuses.iter().filter(|s| **s == "created").count(),
                        merged: statuses.iter().filter(|s| **s == "merged").count(),
                    })
                }
                Action::Access { entity, groups, changed_at } => {
                    mitre_api::entity_access::apply(&self.app, &who, entity, groups.clone(), *changed_at).await.map(Outcome::Access)
                }
            }
        };
        // enrichment merges and an access change re-reads, so a whole try may be repeated
        self.policy
            .run(attempt, |e: &ApiError| transient(e))
            .await
            .map_err(|e| if transient(&e) { Failure::Transient(e) } else { Failure::Rejected(refused(e)) })
    }

    fn metrics(&self, outcomes: &[(String, Outcome)]) {
        if !self.metric_lines || outcomes.is_empty() {
            return;
        }
        let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
        let mappings: usize = outcomes.iter().map(|(_, o)| if let Outcome::Enriched { created, merged } = o { created + merged } else { 0 }).sum();
        let line = emf_line(
            &[("Function", json!("events-in"))],
            &[
                Metric { name: "EventsReceived", unit: "Count", value: json!(outcomes.len()) },
                Metric { name: "EventsRetried", unit: "Count", value: json!(count(&|o| *o == Outcome::Retry)) },
                Metric { name: "EventsRejected", unit: "Count", value: json!(count(&|o| matches!(o, Outcome::DeadLettered(_)))) },
                Metric { name: "EventMappings", unit: "Count", value: json!(mappings) },
            ],
            &[],
        );
        println!("{line}");
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, o) in outcomes {
            if let Outcome::DeadLettered(r) = o {
                *reasons.entry(r.as_str()).or_default() += 1;
            }
        }
        for (reason, n) in reasons {
            println!("{}", emf_line(&[("Reason", json!(reason))], &[Metric { name: "EventsRejected", unit: "Count", value: json!(n) }], &[]));
        }
    }
}

enum Failure {
    Rejected(Rejected),
    Transient(ApiError),
}

/// Worth another try: busy or overtaken, or an internal failure (which may pass).
fn transient(e: &ApiError) -> bool {
    e.is_transient() || matches!(e, ApiError::Internal(_) | ApiError::Unavailable(_))
}

/// Why enrichment or the access change refused an event, as its dead letter says it.
fn refused(e: ApiError) -> Rejected {
    let reason = match &e {
        ApiError::TooLarge { .. } | ApiError::PayloadTooLarge { .. } => Reason::TooLarge,
        _ => Reason::Invalid,
    };
    let body = e.body();
    let message = body["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
    Rejected::new(reason, message)
}

/// The event itself, for tests and the local pump: `Value` in, `Value` out.
pub async fn handle_value(consumer: &Consumer, payload: Value) -> Result<Value, BoxError> {
    let event: SqsEvent = serde_json::from_value(payload)?;
    Ok(serde_json::to_value(consumer.handle(event).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitre_api::Settings;
    use mitre_api::entity_access::Applied;
    use mitre_attack::catalog::DomainCatalog;
    use mitre_attack::{Domain, fixtures, parse_bundle};
    use mitre_domain::{AccessRepo, EntityRef, MappingFilter, MappingKind, MappingRepo, MemoryRepos, Principal, PrincipalRepo, TenantId};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Letters {
        sent: Mutex<Vec<(String, Reason)>>,
        broken: bool,
    }

    #[async_trait]
    impl DeadLetters for Letters {
        async fn send(&self, body: &str, rejected: &Rejected) -> Result<(), BoxError> {
            if self.broken {
                return Err("the queue is down".into());
            }
            self.sent.lock().unwrap().push((body.to_string(), rejected.reason));
            Ok(())
        }
    }

    async fn consumer(letters: Arc<Letters>) -> (Consumer, Arc<MemoryRepos>) {
        let text = fixtures::small_bundle("2.1");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let catalog = DomainCatalog::build(&bundle.objects, Domain::EnterpriseAttack, "1.0", "fixture");
        let repos = Arc::new(MemoryRepos::new());
        let p = Principal::register("arn:aws:iam::1:user/a", "acme", "analyst", &[], "setup", None).unwrap();
        let audit = mitre_domain::AuditEntry::of(&p.tenant, "setup", "principal.put", "principals/a".into(), None, Some(&p), "setup");
        repos.put_principal(&p, audit).await.unwrap();
        let app = App::in_memory(&[catalog], repos.clone(), Settings { metric_lines: false, ..Settings::default() }).unwrap();
        (Consumer::new(app, letters, inbound::DEFAULT_SOURCE).with_policy(RetryPolicy::REQUEST.with_attempts(2)).quiet(), repos)
    }

    fn message(id: &str, detail_type: &str, detail: Value) -> SqsMessage {
        let body =
            json!({"version": "0", "id": format!("ev-{id}"), "source": inbound::DEFAULT_SOURCE, "detail-type": detail_type, "detail": detail}).to_string();
        SqsMessage { message_id: id.into(), body, ..SqsMessage::default() }
    }

    fn alert(id: &str, alert: &str, tenant: &str) -> SqsMessage {
        message(
            id,
            "AlertCreated",
            json!({"schema_version": 1, "tenant": tenant, "alert_id": alert, "text": "EDR: T1059.001 PowerShell ran an encoded command",
                   "observables": [{"type": "command_line", "value": "powershell.exe -enc SQBFAFgA"}]}),
        )
    }

    async fn mappings_of(repos: &MemoryRepos, alert: &str) -> Vec<(String, String)> {
        let filter = MappingFilter { entities: vec![EntityRef::new(MappingKind::Alert, alert)], ..MappingFilter::default() };
        let page = repos.list_mappings(&TenantId::parse("acme").unwrap(), MappingKind::Alert, &filter, 100, None).await.unwrap();
        page.items.iter().map(|m| (m.technique.to_string(), m.tactic.clone())).collect()
    }

    #[tokio::test]
    async fn a_batch_maps_good_events_once_and_dead_letters_bad_ones_without_blocking() {
        let letters = Arc::new(Letters::default());
        let (c, repos) = consumer(letters.clone()).await;
        let batch = vec![
            alert("1", "A-1", "acme"),
            // the same event delivered twice
            alert("1b", "A-1", "acme"),
            message("2", "AlertCreated", json!({"schema_version": 1, "tenant": "acme"})),
            alert("3", "A-3", "nobody"),
            message("4", "TicketOpened", json!({})),
            SqsMessage { message_id: "5".into(), body: "{not json".into(), ..SqsMessage::default() },
            message(
                "6",
                "AlertCreated",
                json!({"schema_version": 1, "tenant": "acme", "alert_id": "A-6", "text": "x", "observables": [{"type": "nope", "value": "x"}]}),
            ),
        ];
        let outcomes = c.outcomes(&batch).await;
        let by_id: BTreeMap<&str, &Outcome> = outcomes.iter().map(|(id, o)| (id.as_str(), o)).collect();
        assert!(matches!(by_id["1"], Outcome::Enriched { created, merged: 0 } if *created >= 1), "{outcomes:?}");
        assert!(matches!(by_id["1b"], Outcome::Enriched { created: 0, merged } if *merged >= 1), "{outcomes:?}");
        assert_eq!(by_id["2"], &Outcome::DeadLettered(Reason::Malformed));
        assert_eq!(by_id["3"], &Outcome::DeadLettered(Reason::UnknownTenant));
        assert_eq!(by_id["4"], &Outcome::DeadLettered(Reason::Unsupported));
        assert_eq!(by_id["5"], &Outcome::DeadLettered(Reason::Malformed));
        assert_eq!(by_id["6"], &Outcome::DeadLettered(Reason::Invalid));
        assert_eq!(letters.sent.lock().unwrap().len(), 5);
        // one mapping per technique and tactic, whatever the deliveries
        let mapped = mappings_of(&repos, "A-1").await;
        let distinct: HashSet<&(String, String)> = mapped.iter().collect();
        assert!(!mapped.is_empty() && distinct.len() == mapped.len(), "{mapped:?}");
        assert!(mappings_of(&repos, "A-6").await.is_empty());
        // nothing failed for now: SQS deletes the whole batch
        assert_eq!(c.handle(SqsEvent { records: batch }).await, BatchResponse::default());
    }

    #[tokio::test]
    async fn a_dead_letter_queue_that_refuses_keeps_the_message_for_another_delivery() {
        let (c, _) = consumer(Arc::new(Letters { broken: true, ..Letters::default() })).await;
        let r = c.handle(SqsEvent { records: vec![message("2", "AlertCreated", json!({"schema_version": 1})), alert("1", "A-1", "acme")] }).await;
        assert_eq!(r.failed(), vec!["2"]);
    }

    #[tokio::test]
    async fn access_events_apply_in_the_platforms_order() {
        let (c, repos) = consumer(Arc::new(Letters::default())).await;
        let access = |id: &str, groups: Value, at: &str| {
            message(
                id,
                "EntityAccessChanged",
                json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "alert", "id": "A-1"}, "groups": groups, "changed_at": at}),
            )
        };
        let outcomes = c.outcomes(&[access("1", json!(["ir"]), "2026-12-02T10:00:02Z")]).await;
        assert_eq!(outcomes[0].1, Outcome::Access(Applied::Changed));
        // an older change arriving later, and the same change again, change nothing
        let outcomes = c.outcomes(&[access("2", json!(null), "2026-12-02T10:00:01Z"), access("3", json!(["ir"]), "2026-12-02T10:00:03Z")]).await;
        assert_eq!((&outcomes[0].1, &outcomes[1].1), (&Outcome::Access(Applied::Older), &Outcome::Access(Applied::Unchanged)));
        let tenant = TenantId::parse("acme").unwrap();
        let now = repos.entity_access(&tenant, &[EntityRef::new(MappingKind::Alert, "A-1")]).await.unwrap();
        assert_eq!((now[0].groups.clone(), now[0].version), (Some(vec!["ir".to_string()]), 1));
        // a later one opens it
        let outcomes = c.outcomes(&[access("4", json!(null), "2026-12-02T10:00:04Z")]).await;
        assert_eq!(outcomes[0].1, Outcome::Access(Applied::Changed));
        let now = repos.entity_access(&tenant, &[EntityRef::new(MappingKind::Alert, "A-1")]).await.unwrap();
        assert_eq!(now[0].groups, None);
    }
}
