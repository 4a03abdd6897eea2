//! Events in and out on the local stack, with the real `events-in` and `events-out` binaries
//! under the runtime API emulator: the platform's events, put on a local bus, reach the queue
//! through the rule; Lambda's SQS mapping (the local pump) hands them to the consumer, which
//! maps them; Lambda's stream mapping hands the table's new audit entries to the publisher,
//! whose events a rule on the module's bus delivers to a tap queue. Faults on the way: DynamoDB
//! throttling the consumer, poison messages, a message delivered twice, the publisher killed
//! between reading the stream and publishing, EventBridge throttling. Afterwards the published
//! events and the audit log agree one to one, and every good message is mapped.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mitre_api::access::{Access, Target};
use mitre_domain::{AccessRepo, AuditFilter, AuditLog, EntityRef, MappingFilter, MappingKind, MappingRepo, RetryPolicy, TenantId};
use mitre_events::BoxError;
use mitre_events::local::{Invoke, LocalEvents, QueuePump, StartAt, StreamPump, platform_entry, streams_client};
use mitre_store::Store;
use mitre_store::tenancy::Role;
use mitre_tests::faults::{Fault, FaultProxy, Rule, Target as FaultTarget};
use mitre_tests::runtime::{Outcome, RuntimeApi, binary, start_function, stop};
use mitre_tests::{attack_data, recording_store, register, spawn_app, synced_store};
use serde_json::{Value, json};

/// A real binary behind the runtime API emulator, invoked as Lambda's mappings invoke it.
struct Function {
    api: Mutex<RuntimeApi>,
    /// How long an invocation is waited for, in milliseconds (short while a test kills the
    /// function, so that the mapping retries soon).
    timeout_ms: std::sync::atomic::AtomicU64,
}

impl Function {
    fn new(api: RuntimeApi, timeout: Duration) -> Function {
        Function { api: Mutex::new(api), timeout_ms: std::sync::atomic::AtomicU64::new(timeout.as_millis() as u64) }
    }
}

#[async_trait]
impl Invoke for Function {
    async fn invoke(&self, payload: Value) -> Result<Value, BoxError> {
        tokio::task::block_in_place(|| {
            match self.api.lock().unwrap().try_invoke(&payload, Duration::from_millis(self.timeout_ms.load(std::sync::atomic::Ordering::Relaxed))) {
                Some(Outcome::Response(bytes)) => Ok(serde_json::from_slice(&bytes)?),
                Some(Outcome::Error(bytes)) => Err(format!("the function failed: {}", String::from_utf8_lossy(&bytes)).into()),
                None => Err("no answer: the function died or hangs".into()),
            }
        })
    }
}

fn platform_event(bus: &str, detail_type: &str, detail: Value) -> aws_sdk_eventbridge::types::PutEventsRequestEntry {
    platform_entry(bus, detail_type, &detail)
}

fn alert(tenant: &str, id: &str) -> Value {
    json!({"schema_version": 1, "tenant": tenant, "alert_id": id, "text": "EDR: T1059.001 PowerShell ran an encoded command: powershell.exe -nop -w hidden -enc SQBFAFgA",
           "observables": [{"type": "command_line", "value": "powershell.exe -nop -w hidden -enc SQBFAFgA"}]})
}

/// Every message of a queue (received and deleted): (body as JSON, reason attribute).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, wait: i32) -> Vec<(Value, Option<String>)> {
    mitre_events::local::drain(sqs, url, wait).await.unwrap().into_iter().map(|(b, r)| (serde_json::from_str(&b).unwrap_or(Value::Null), r)).collect()
}

async fn mappings(store: &Store, tenant: &str, alert: &str) -> Vec<(String, String)> {
    let filter = MappingFilter { entities: vec![EntityRef::new(MappingKind::Alert, alert)], ..MappingFilter::default() };
    let page = store.list_mappings(&TenantId::parse(tenant).unwrap(), MappingKind::Alert, &filter, 100, None).await.unwrap();
    page.items.iter().map(|m| (m.technique.to_string(), m.tactic.clone())).collect()
}

/// Polls the queue until it stays empty (redeliveries included).
async fn consume_all(pump: &QueuePump, consumer: &Function) -> usize {
    let (mut handled, mut empty) = (0, 0);
    while empty < 3 {
        let n = pump.poll(consumer).await.unwrap();
        handled += n;
        empty = if n == 0 { empty + 1 } else { 0 };
    }
    handled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn platform_events_are_mapped_and_every_commit_is_published_once_through_faults() {
    let app = spawn_app().await;
    let store = app.store.clone();
    let table = store.table.clone();
    let source = mitre_sync::FileSource { path: attack_data("enterprise-attack-18.1.json.gz") };
    mitre_sync::Syncer::new(&store).run(&source, &mitre_sync::SyncOptions::new(mitre_attack::Domain::EnterpriseAttack), &|_| {}).await.unwrap();
    register(&store, "arn:aws:iam::1:user/acme", "acme", Role::Analyst).await;
    register(&store, "arn:aws:iam::1:user/globex", "globex", Role::Analyst).await;
    let shared = mitre_store::config::sdk_config().await;
    // what was written before the stream was on is not published
    let before: BTreeSet<String> = store.all_audit(&AuditFilter::default()).await.unwrap().into_iter().map(|e| e.id).collect();
    let events = LocalEvents::ensure(&shared, &store.ddb, &table, 1).await.unwrap();
    // the stream is on from here: a second run of the sync (nothing to write) is its first record
    mitre_sync::Syncer::new(&store).run(&source, &mitre_sync::SyncOptions::new(mitre_attack::Domain::EnterpriseAttack), &|_| {}).await.unwrap();
    let (sqs, bus) = (aws_sdk_sqs::Client::new(&shared), aws_sdk_eventbridge::Client::new(&shared));
    let (consumer_bin, publisher_bin) = (binary("events-in"), binary("events-out"));

    // ---- in: the consumer, with DynamoDB throttling its first transactions ----
    let ddb_proxy = FaultProxy::dynamodb().await;
    ddb_proxy.add(Rule::new(FaultTarget::dynamo("TransactWriteItems"), Fault::Throttle).at_most(3));
    let consumer_api = RuntimeApi::start("EventsConsumerFunction");
    let consumer_child = start_function(
        &consumer_bin,
        "EventsConsumerFunction",
        &consumer_api,
        &table,
        &[("AWS_ENDPOINT_URL_DYNAMODB", ddb_proxy.url.clone()), ("EVENTS_DLQ_URL", events.dead_letter_url.clone())],
    );
    let consumer = Function::new(consumer_api, Duration::from_secs(120));

    let good: Vec<(&str, String)> = (1..=6).map(|i| ("acme", format!("A-{i}"))).chain([("globex", "G-1".to_string())]).collect();
    let mut entries: Vec<_> = good.iter().map(|(tenant, id)| platform_event(&events.platform_bus, "AlertCreated", alert(tenant, id))).collect();
    // a second event about A-2, and three that are refused for good
    entries.push(platform_event(&events.platform_bus, "AlertUpdated", alert("acme", "A-2")));
    entries.push(platform_event(&events.platform_bus, "AlertCreated", json!({"schema_version": 2, "tenant": "acme", "alert_id": "A-9"})));
    entries.push(platform_event(&events.platform_bus, "AlertCreated", alert("nobody", "N-1")));
    entries.push(platform_event(
        &events.platform_bus,
        "EntityAccessChanged",
        json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "ticket", "id": "T-1"}, "groups": null}),
    ));
    for chunk in entries.chunks(10) {
        let out = bus.put_events().set_entries(Some(chunk.to_vec())).send().await.unwrap();
        assert_eq!(out.failed_entry_count, 0);
    }
    let access = platform_event(
        &events.platform_bus,
        "EntityAccessChanged",
        json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "alert", "id": "A-1"}, "groups": ["ir"], "changed_at": "2026-12-02T10:00:00Z"}),
    );
    bus.put_events().entries(access).send().await.unwrap();
    // A-1's event, delivered a second time (as SQS may)
    let first = drain_one(&sqs, &events.queue_url).await;
    sqs.send_message().queue_url(&events.queue_url).message_body(first.clone()).send().await.unwrap();
    sqs.send_message().queue_url(&events.queue_url).message_body(first).send().await.unwrap();

    let pump = QueuePump { sqs: sqs.clone(), queue_url: events.queue_url.clone(), batch: 10, wait: 1 };
    let handled = consume_all(&pump, &consumer).await;
    let consumer_log = stop(consumer_child);
    assert!(ddb_proxy.counts().injected("throttle") >= 1, "{:?}", ddb_proxy.counts());
    for (tenant, id) in &good {
        let m = mappings(&store, tenant, id).await;
        let distinct: BTreeSet<&(String, String)> = m.iter().collect();
        assert!(m.iter().any(|(t, _)| t == "T1059.001"), "{tenant}/{id}: {m:?}");
        assert_eq!(distinct.len(), m.len(), "{tenant}/{id}: one mapping per technique and tactic: {m:?}");
    }
    // no tenant saw another's event
    assert!(mappings(&store, "acme", "G-1").await.is_empty() && mappings(&store, "globex", "A-1").await.is_empty());
    let a1 = store.entity_access(&TenantId::parse("acme").unwrap(), &[EntityRef::new(MappingKind::Alert, "A-1")]).await.unwrap();
    assert_eq!(a1[0].groups, Some(vec!["ir".to_string()]));
    let dead = drain(&sqs, &events.dead_letter_url, 1).await;
    let reasons: BTreeSet<String> = dead.iter().filter_map(|(_, r)| r.clone()).collect();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!(reasons, ["malformed", "unknown_entity_kind", "unknown_tenant"].into_iter().map(String::from).collect());
    assert!(consumer_log.contains("EventsRejected"), "the consumer's metric lines");
    println!("events in: {handled} messages handled (redeliveries included), 3 dead-lettered, {:?} injected", ddb_proxy.counts());

    // ---- out: the publisher killed twice, then throttled ----
    // The first one is killed after it read its batch from the stream and before its PutEvents
    // went out (the proxy holds the request, and drops it when the process is gone); the second
    // one is killed while its PutEvents is in flight (that one reaches EventBridge, so its
    // events are published again by the retry: consumers drop repeats by event_id).
    let eb_proxy = Arc::new(FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").unwrap()).await);
    eb_proxy.add(Rule::new(FaultTarget::dynamo("PutEvents"), Fault::Hold(Duration::from_secs(5))).at_most(1));
    let publisher_api = RuntimeApi::start("EventsPublisherFunction");
    let env = [("AWS_ENDPOINT_URL_EVENTBRIDGE", eb_proxy.url.clone()), ("EVENTS_BUS_NAME", events.out_bus.clone())];
    let first_publisher = start_function(&publisher_bin, "EventsPublisherFunction", &publisher_api, &table, &env);
    let publisher = Arc::new(Function::new(publisher_api, Duration::from_secs(3)));
    let killer = {
        let (bin, table, env, publisher, proxy) = (publisher_bin.clone(), table.clone(), env.clone(), publisher.clone(), eb_proxy.clone());
        std::thread::spawn(move || {
            let start = |publisher: &Function| {
                let api = publisher.api.lock().unwrap();
                start_function(&bin, "EventsPublisherFunction", &api, &table, &env)
            };
            std::thread::sleep(Duration::from_millis(1500));
            stop(first_publisher);
            proxy.add(Rule::new(FaultTarget::dynamo("PutEvents"), Fault::Latency(Duration::from_secs(5))).at_most(1));
            let second = start(&publisher);
            // the first invocation times out at 3 s; the retry reaches the second one at once
            std::thread::sleep(Duration::from_millis(3000));
            stop(second);
            proxy.add(Rule::new(FaultTarget::dynamo("PutEvents"), Fault::Throttle).every(3).at_most(4));
            // no more kills: the third one has all the time its retries of the throttled calls
            // take (on a loaded machine, more than the 3 s that detect a killed function)
            publisher.timeout_ms.store(120_000, std::sync::atomic::Ordering::Relaxed);
            start(&publisher)
        })
    };
    let mut stream = StreamPump::new(streams_client(&shared), sqs.clone(), &events, StartAt::TrimHorizon);
    stream.max_attempts = 8;
    let mut handed = 0;
    loop {
        let n = stream.poll(publisher.as_ref()).await.unwrap();
        handed += n;
        if n == 0 {
            break;
        }
    }
    stop(killer.join().unwrap());
    assert_eq!((eb_proxy.counts().injected("hold"), eb_proxy.counts().injected("latency")), (1, 1), "{:?}", eb_proxy.counts());
    assert!(eb_proxy.counts().injected("throttle") >= 1, "{:?}", eb_proxy.counts());
    assert!(drain(&sqs, &events.failure_url, 0).await.is_empty(), "no batch given up");

    // ---- the audit log and the published events, one to one ----
    let entries: Vec<_> = store.all_audit(&AuditFilter::default()).await.unwrap().into_iter().filter(|e| !before.contains(&e.id)).collect();
    let expected: BTreeMap<String, mitre_events::outbound::OutEvent> =
        entries.iter().filter_map(|e| mitre_events::outbound::of_entry(e).map(|o| (e.id.clone(), o))).collect();
    let published = drain(&sqs, &events.tap_url, 2).await;
    let mut seen: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut repeats = 0;
    for (event, _) in &published {
        assert_eq!(event["source"], mitre_events::outbound::SOURCE);
        let id = event["detail"]["event_id"].as_str().unwrap().to_string();
        if seen.insert(id, (event["detail-type"].as_str().unwrap().to_string(), event["detail"].clone())).is_some() {
            repeats += 1;
        }
    }
    assert_eq!(seen.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "published event ids = audit entry ids");
    for (id, out) in &expected {
        assert_eq!((seen[id].0.as_str(), &seen[id].1), (out.detail_type, &out.detail), "{id}");
    }
    let types: BTreeSet<&str> = expected.values().map(|o| o.detail_type).collect();
    for t in ["SyncFinished", "MappingCreated", "MappingMerged", "EntityAccessChanged"] {
        assert!(types.contains(t), "{t} among {types:?}");
    }
    println!(
        "events out: {} audit entries published ({} stream records handed over, {repeats} published twice after the second kill, {:?} injected)",
        expected.len(),
        handed,
        eb_proxy.counts()
    );
}

/// One message of the queue, put back at once: its body.
async fn drain_one(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    for _ in 0..20 {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(1).wait_time_seconds(1).send().await.unwrap();
        if let Some(m) = got.messages.unwrap_or_default().into_iter().next() {
            let body = m.body.clone().unwrap_or_default();
            // back on the queue at once, as it was
            sqs.change_message_visibility().queue_url(url).receipt_handle(m.receipt_handle.unwrap_or_default()).visibility_timeout(0).send().await.unwrap();
            return body;
        }
    }
    panic!("no message reached the queue");
}

/// The consumer's requests, served through a recording store, are all ones the IAM statements
/// of its access class allow; the publisher's class touches no table at all.
#[tokio::test]
async fn the_event_functions_ask_only_for_what_their_roles_allow() {
    let store = synced_store().await;
    let (recording, log) = recording_store(&store);
    struct Nowhere;
    #[async_trait]
    impl mitre_events::consumer::DeadLetters for Nowhere {
        async fn send(&self, _: &str, _: &mitre_events::inbound::Rejected) -> Result<(), BoxError> {
            Ok(())
        }
    }
    let app = mitre_api::App::new(recording, mitre_api::Settings { metric_lines: false, ..mitre_api::Settings::default() });
    let consumer =
        mitre_events::consumer::Consumer::new(app, Arc::new(Nowhere), mitre_events::inbound::DEFAULT_SOURCE).quiet().with_policy(RetryPolicy::REQUEST);
    let id = format!("IAM-{}", ulid::Ulid::new());
    let body = |t: &str, d: Value| {
        json!({"id": ulid::Ulid::new().to_string(), "source": mitre_events::inbound::DEFAULT_SOURCE, "detail-type": t, "detail": d}).to_string()
    };
    let messages = vec![
        mitre_events::lambda::SqsMessage { message_id: "1".into(), body: body("AlertCreated", alert("acme", &id)), ..Default::default() },
        mitre_events::lambda::SqsMessage {
            message_id: "2".into(),
            body: body("EntityAccessChanged", json!({"schema_version": 1, "tenant": "acme", "entity": {"kind": "alert", "id": id}, "groups": ["ir"]})),
            ..Default::default()
        },
    ];
    let outcomes = consumer.outcomes(&messages).await;
    assert!(matches!(outcomes[0].1, mitre_events::consumer::Outcome::Enriched { created, .. } if created >= 1), "{outcomes:?}");
    assert!(matches!(outcomes[1].1, mitre_events::consumer::Outcome::Access(_)), "{outcomes:?}");
    let recorded = log.lock().unwrap().clone();
    assert!(recorded.iter().any(|r| r.action == "dynamodb:TransactWriteItems" || r.action == "dynamodb:PutItem"), "{recorded:?}");
    for r in &recorded {
        let target = match (&r.index, &r.object) {
            (Some(index), _) => Target::Index(index),
            (_, Some(key)) => Target::Object(key),
            _ => Target::Table,
        };
        let keys: Vec<&str> = r.keys.iter().map(String::as_str).collect();
        assert!(Access::EventsIn.allows(&r.action, target, &keys), "the consumer made {r:?}, which its statements do not allow");
    }
    assert!(Access::EventsIn.allows("sqs:SendMessage", Target::Queue("EventsDeadLetterQueue"), &[]));
    assert!(!Access::EventsIn.allows("sqs:SendMessage", Target::Queue("PublishFailureQueue"), &[]));
    assert!(!Access::EventsIn.allows("dynamodb:GetItem", Target::Table, &["P#arn:aws:iam::1:user/x"]), "no registry entry reads");
    assert!(Access::EventsOut.allows("events:PutEvents", Target::EventBus, &[]));
    assert!(Access::EventsOut.statements().iter().all(|s| s.actions.iter().all(|a| !a.starts_with("dynamodb:") && !a.starts_with("s3:"))));
}
