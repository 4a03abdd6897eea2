//! `mitre bench-events` (used by `make bench-events`): enrichment through the queue beside the
//! same alerts through `POST alerts/{id}/enrich` one by one, on the configured (local) stack.
//!
//! - HTTP: each alert posted to the API served on a local port, one after the other, as a
//!   platform without a queue would.
//! - Queue: the same alerts put on the platform bus as `AlertCreated` events (the rule delivers
//!   them to the queue), then `pollers` pollers (Lambda's SQS mapping runs batches of one queue
//!   concurrently) hand batches of 10 to the consumer until the queue is drained: the time of
//!   the drain is the consumer's throughput.
//! - Paced: the same alerts again, put at a steady half of that throughput while the publisher
//!   reads the table's stream (polling as Lambda does, 4 times a second): end-to-end latency
//!   from each event's put to its alert's first mapping, and the publisher's lag from an audit
//!   entry's commit to its PutEvents call. The publisher runs in this phase only, so that the
//!   two throughputs are measured alike (locally, one server emulates SQS and EventBridge for
//!   every part, on the same cores).
//! - Capacity units (DynamoDB Local's consumed capacity, reads and writes) per alert on both paths.
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use mitre_domain::{AuditEntry, MappingFilter, MappingKind, MappingRepo, Principal, PrincipalRepo, contract};
use mitre_events::BoxError;
use mitre_events::local::{Invoke, LocalEvents, QueuePump, StartAt, StreamPump};
use mitre_events::publisher::{Bus, Entry, Publisher};
use serde_json::{Value, json};

/// The consumer, its capacity counted.
struct Counted {
    consumer: mitre_events::consumer::Consumer,
    capacity_milli: AtomicUsize,
    handled: AtomicUsize,
}

#[async_trait]
impl Invoke for Counted {
    async fn invoke(&self, payload: Value) -> Result<Value, BoxError> {
        let n = payload["Records"].as_array().map(Vec::len).unwrap_or(0);
        let (out, counters) = mitre_store::metrics::measured(mitre_events::consumer::handle_value(&self.consumer, payload)).await;
        self.capacity_milli.fetch_add((counters.capacity() * 1000.0) as usize, Ordering::Relaxed);
        self.handled.fetch_add(n, Ordering::Relaxed);
        out
    }
}

/// The bus, each event's lag from its commit noted.
struct Timed {
    bus: mitre_events::aws::EventBridgeBus,
    lags_ms: Mutex<Vec<f64>>,
}

#[async_trait]
impl Bus for Timed {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<Option<String>>, BoxError> {
        let now = chrono::Utc::now();
        for e in entries {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
            if let Some(at) = detail["occurred_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                self.lags_ms.lock().unwrap().push((now - at.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(0) as f64 / 1e3);
            }
        }
        self.bus.put(entries).await
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn events(store: mitre_store::Store, alerts: &std::path::Path, pollers: usize) -> Result<ExitCode> {
    let lines = std::fs::read_to_string(alerts).with_context(|| format!("reading {}", alerts.display()))?;
    let alerts: Vec<Value> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)?;
            Ok(json!({"text": v["text"], "observables": v["observables"]}))
        })
        .collect::<Result<_>>()?;
    let n = alerts.len();
    let tenant = contract::fresh_tenant("events");
    let principal = format!("arn:aws:iam::000000000000:user/bench-{tenant}");
    let p = Principal::register(&principal, tenant.as_str(), "analyst", &[], "bench", None).map_err(|e| anyhow::anyhow!("{e}"))?;
    store.put_principal(&p, AuditEntry::of(&p.tenant, "bench", "principal.put", format!("principals/{principal}"), None, Some(&p), "bench")).await?;
    let shared = mitre_store::config::sdk_config().await;
    let events = LocalEvents::ensure(&shared, &store.ddb, &store.table, 60).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let settings = mitre_api::Settings { metric_lines: false, ..mitre_api::Settings::from_env() };

    // ---- HTTP, one by one ----
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let http_app = mitre_api::App::new(store.clone(), settings.clone());
    tokio::spawn(crate::serve::serve(http_app, port));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // rustls over ring, as every client of the project (a plain-HTTP client still needs one)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let post = |id: String, body: Value| {
        let client = client.clone();
        let principal = principal.clone();
        async move {
            let r = client
                .post(format!("http://127.0.0.1:{port}/api/v1/mitre/alerts/{id}/enrich"))
                .header(mitre_api::local::DEV_PRINCIPAL_HEADER, principal)
                .json(&body)
                .send()
                .await?;
            let status = r.status();
            let v: Value = r.json().await?;
            if status != 200 {
                bail!("enrich answered {status}: {v}");
            }
            Ok::<usize, anyhow::Error>(v["mapped"].as_array().map(Vec::len).unwrap_or(0))
        }
    };
    // warm both paths' caches (catalog, engine, registry) before either clock starts
    post("WARM-H".into(), alerts[0].clone()).await?;
    let started = Instant::now();
    let mut http_mapped = 0;
    for (i, a) in alerts.iter().enumerate() {
        http_mapped += post(format!("H-{i}"), a.clone()).await?;
    }
    let http_s = started.elapsed().as_secs_f64();
    // the same writes in process, counted: the capacity an enrich request consumes
    let app = mitre_api::App::new(store.clone(), settings.clone());
    let sample = n.min(30);
    let mut http_capacity = 0.0;
    let who = mitre_api::identity::Identity {
        principal: principal.clone(),
        role: mitre_domain::Role::Analyst,
        tenant: Some(tenant.clone()),
        groups: Vec::new(),
        request_id: "bench".into(),
    };
    for (i, a) in alerts.iter().take(sample).enumerate() {
        // what the route does: the caller's registry entry, then the enrich handler
        let request = async {
            app.principals.principal(&principal).await?;
            mitre_api::suggestions::enrich_entity(&app, &who, MappingKind::Alert, &format!("HC-{i}"), a.to_string().as_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok::<(), anyhow::Error>(())
        };
        let (done, counters) = mitre_store::metrics::measured(request).await;
        done?;
        http_capacity += counters.capacity();
    }

    // ---- the queue ----
    let dead_letters = Arc::new(mitre_events::aws::SqsDeadLetters { client: sqs.clone(), queue_url: events.dead_letter_url.clone() });
    let consumer = Arc::new(Counted {
        consumer: mitre_events::consumer::Consumer::new(
            mitre_api::App::new(store.clone(), settings.clone()),
            dead_letters,
            mitre_events::inbound::DEFAULT_SOURCE,
        )
        .quiet(),
        capacity_milli: AtomicUsize::new(0),
        handled: AtomicUsize::new(0),
    });
    let eb = aws_sdk_eventbridge::Client::new(&shared);
    let put = |ids: Vec<(String, Value)>| {
        let eb = eb.clone();
        let (bus, tenant) = (events.platform_bus.clone(), tenant.clone());
        async move {
            let mut req = eb.put_events();
            for (id, a) in ids {
                let detail = json!({"schema_version": 1, "tenant": tenant, "alert_id": id, "text": a["text"], "observables": a["observables"]});
                req = req.entries(mitre_events::local::platform_entry(&bus, "AlertCreated", &detail));
            }
            let out = req.send().await.map_err(|e| anyhow::anyhow!("PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
            if out.failed_entry_count > 0 {
                bail!("PutEvents refused {} events", out.failed_entry_count);
            }
            Ok(())
        }
    };
    let pump = |wait| QueuePump { sqs: sqs.clone(), queue_url: events.queue_url.clone(), batch: 10, wait };
    put(vec![("WARM-Q".into(), alerts[0].clone())]).await?;
    while consumer.handled.load(Ordering::Relaxed) < 1 {
        pump(1).poll(consumer.as_ref()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    consumer.handled.store(0, Ordering::Relaxed);
    consumer.capacity_milli.store(0, Ordering::Relaxed);

    // throughput: the alerts' events are on the queue, then the pollers drain it
    for (chunk_no, chunk) in alerts.chunks(10).enumerate() {
        put(chunk.iter().enumerate().map(|(k, a)| (format!("Q-{}", chunk_no * 10 + k), a.clone())).collect()).await?;
    }
    let drain = |target: usize| {
        (0..pollers.max(1))
            .map(|_| {
                let (consumer, pump) = (consumer.clone(), pump(1));
                tokio::spawn(async move {
                    while consumer.handled.load(Ordering::Relaxed) < target {
                        if let Err(e) = pump.poll(consumer.as_ref()).await {
                            eprintln!("bench-events: the queue could not be read: {e}");
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let started = Instant::now();
    for p in drain(n) {
        p.await?;
    }
    let queue_s = started.elapsed().as_secs_f64();
    let queue_capacity = consumer.capacity_milli.load(Ordering::Relaxed) as f64 / 1000.0 / n as f64;

    // latency: the same alerts again at a steady half of that rate, with the publisher reading
    // the stream from now on
    let bus = Arc::new(Timed {
        bus: mitre_events::aws::EventBridgeBus { client: aws_sdk_eventbridge::Client::new(&shared), bus_name: events.out_bus.clone() },
        lags_ms: Mutex::new(Vec::new()),
    });
    let publisher = Publisher::new(bus.clone());
    let mut stream = StreamPump::new(mitre_events::local::streams_client(&shared), sqs.clone(), &events, StartAt::Latest);
    stream.poll(&publisher).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut idle = 0;
            loop {
                let handed = stream.poll(&publisher).await.unwrap_or(0);
                idle = if handed == 0 { idle + 1 } else { 0 };
                if stop.load(Ordering::Relaxed) && idle >= 4 {
                    return;
                }
                if handed == 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        })
    };

    let rate = (n as f64 / queue_s / 2.0).max(1.0);
    let mut put_at: BTreeMap<String, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    let polling = drain(2 * n);
    let paced = Instant::now();
    for (chunk_no, chunk) in alerts.chunks(10).enumerate() {
        let due = Duration::from_secs_f64((chunk_no * 10) as f64 / rate);
        if let Some(wait) = due.checked_sub(paced.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let ids: Vec<(String, Value)> = chunk.iter().enumerate().map(|(k, a)| (format!("P-{}", chunk_no * 10 + k), a.clone())).collect();
        let now = chrono::Utc::now();
        for (id, _) in &ids {
            put_at.insert(id.clone(), now);
        }
        put(ids).await?;
    }
    for p in polling {
        p.await?;
    }
    stop.store(true, Ordering::Relaxed);
    publishing.await?;

    // end to end: from each event's put to its alert's first mapping
    let mut first: BTreeMap<String, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let mut queue_mapped = 0;
    loop {
        let page = store.list_mappings(&tenant, MappingKind::Alert, &MappingFilter::default(), 500, cursor.as_deref()).await?;
        for m in &page.items {
            let Some(id) = m.alert_id.clone() else { continue };
            if id.starts_with("Q-") {
                queue_mapped += 1;
            }
            if !id.starts_with("P-") {
                continue;
            }
            let at = chrono::DateTime::parse_from_rfc3339(&m.created_at.to_string())?.with_timezone(&chrono::Utc);
            let e = first.entry(id).or_insert(at);
            *e = (*e).min(at);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut e2e: Vec<f64> = first.iter().filter_map(|(id, at)| put_at.get(id).map(|p| (*at - *p).num_microseconds().unwrap_or(0) as f64 / 1e3)).collect();
    let mut lags = bus.lags_ms.lock().unwrap().clone();
    let (http_rate, queue_rate) = (n as f64 / http_s, n as f64 / queue_s);
    let out = json!({
        "alerts": n,
        "pollers": pollers,
        "http": {"seconds": http_s, "alerts_per_s": http_rate, "mappings": http_mapped, "capacity_per_alert": http_capacity / sample as f64},
        "queue": {"seconds": queue_s, "alerts_per_s": queue_rate, "mappings": queue_mapped,
                  "capacity_per_alert": queue_capacity},
        "paced": {"alerts_per_s": rate, "alerts_mapped": first.len(), "e2e_p50_ms": percentile(&mut e2e, 0.5), "e2e_p99_ms": percentile(&mut e2e, 0.99)},
        "ratio": queue_rate / http_rate,
        "publisher": {"events": lags.len(), "lag_p50_ms": percentile(&mut lags, 0.5), "lag_p99_ms": percentile(&mut lags, 0.99)},
    });
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}
