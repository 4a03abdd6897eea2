//! Parse and diff throughput, measured in-process on a real bundle.
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use mitre_attack::{Domain, Manifest, decode_source_bytes, parse_bundle};
use serde_json::json;

pub fn parse(bundle: &Path, previous: Option<&Path>, rounds: u32) -> Result<ExitCode> {
    let read = |p: &Path| -> Result<Vec<u8>> {
        let raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        Ok(decode_source_bytes(raw)?)
    };
    let data = read(bundle)?;
    let previous_manifest = match previous {
        Some(p) => {
            let prev = read(p)?;
            let b = parse_bundle(&prev, Domain::EnterpriseAttack)?;
            Manifest::default().after(&b.objects, |_| true)
        }
        None => Manifest::default(),
    };
    let encoded = previous_manifest.encode()?;
    let mut best = f64::MAX;
    let mut changed = 0;
    let mut removed = 0;
    let mut objects = 0;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let manifest = Manifest::decode(&encoded).map_err(anyhow::Error::msg)?;
        let b = parse_bundle(&data, Domain::EnterpriseAttack)?;
        let d = manifest.diff(&b.objects, |_| true);
        best = best.min(t.elapsed().as_secs_f64());
        changed = d.to_write.len();
        removed = d.removed.len();
        objects = b.objects.len();
    }
    let mb = data.len() as f64 / 1e6;
    println!(
        "{}",
        json!({"bytes": data.len(), "objects": objects, "to_write": changed, "removed": removed,
               "best_seconds": (best * 1e4).round() / 1e4, "mb_per_s": (mb / best * 10.0).round() / 10.0})
    );
    Ok(ExitCode::SUCCESS)
}

/// In-process API latency on the configured store: cold load, then p50/p99 of three queries.
pub async fn api(store: mitre_store::Store, iterations: usize) -> Result<ExitCode> {
    use mitre_api::local::apigw_request;
    use mitre_api::{App, Settings, serve};
    let rss = || -> f64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
            .map(|pages| pages * 4096.0 / 1e6)
            .unwrap_or(0.0)
    };
    let caller = "arn:aws:iam::000000000000:user/bench";
    let principal = Some(caller);
    // The benchmark's caller is a superuser of this process only (no registry entry needed).
    let app = App::new(store, Settings { metric_lines: false, superusers: vec![caller.to_string()], ..Settings::default() });
    let before = rss();
    let t = Instant::now();
    let first = serve(&app, apigw_request("GET", "/api/v1/mitre/techniques/T1059.001", &[], b"", principal)?).await;
    let cold = t.elapsed().as_secs_f64();
    anyhow::ensure!(first.response.status() == 200, "the catalog is not synced (status {})", first.response.status());
    let after = rss();
    let queries = [
        ("technique_detail", "/api/v1/mitre/techniques/T1059.001"),
        ("techniques_by_tactic", "/api/v1/mitre/techniques?tactic=credential-access&limit=500"),
        ("search_powershell", "/api/v1/mitre/techniques?q=powershell&limit=50"),
    ];
    let mut out = serde_json::Map::new();
    out.insert("cold_load_seconds".into(), json!((cold * 1e4).round() / 1e4));
    out.insert("cold_load_rss_mb".into(), json!(((after - before) * 10.0).round() / 10.0));
    out.insert("first_request_ddb_calls".into(), json!(first.ddb_calls));
    for (name, path) in queries {
        let mut times = Vec::with_capacity(iterations);
        let mut calls = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let s = serve(&app, apigw_request("GET", path, &[], b"", principal)?).await;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            calls += s.ddb_calls;
            anyhow::ensure!(s.response.status() == 200, "{path} answered {}", s.response.status());
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
        out.insert(name.into(), json!({"p50_ms": (pct(0.5) * 1e3).round() / 1e3, "p99_ms": (pct(0.99) * 1e3).round() / 1e3, "ddb_calls": calls}));
    }
    out.insert("rss_mb".into(), json!((rss() * 10.0).round() / 10.0));
    println!("{}", serde_json::Value::Object(out));
    Ok(ExitCode::SUCCESS)
}

/// p50 and p99 of `times` (milliseconds), rounded to microseconds.
fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    ((pct(0.5) * 1e3).round() / 1e3, (pct(0.99) * 1e3).round() / 1e3)
}

/// Statistics read cost at growing numbers of mappings: for each size in `sizes`, writes that
/// many mappings (over size / 10 entities) of a fresh tenant through the real write path, then measures each
/// statistics route in process (p50/p99, DynamoDB calls) beside a recount of the same answer
/// from a Query over every mapping, and checks that both agree.
pub async fn stats(store: mitre_store::Store, sizes: &[usize], iterations: usize, recounts: usize) -> Result<ExitCode> {
    use futures::{StreamExt, stream};
    use mitre_api::local::apigw_request;
    use mitre_api::{App, Settings, serve};
    use mitre_domain::stats::{Aggregates, Window};
    use mitre_domain::{AuditEntry, MappingFilter, MappingKind, MappingRepo, Principal, PrincipalRepo, StatsRepo, Timestamp, contract};

    let domain = Domain::EnterpriseAttack;
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let catalog = app.catalog.domain(domain).await.map_err(|e| anyhow::anyhow!("the enterprise catalog is not synced: {e:?}"))?;
    let routes = [
        ("techniques_top10", "statistics/techniques?top=10", Window::all()),
        ("techniques_quarter", "statistics/techniques?top=10&from=2025-10&to=2025-12", Window { from: Some("2025-10".into()), to: Some("2025-12".into()) }),
        ("tactics", "statistics/tactics", Window::all()),
        ("kill_chain", "statistics/kill-chain", Window::all()),
    ];
    let mut results = Vec::new();
    for &size in sizes {
        // a tenant of its own per size: `size` mappings over size / 10 entities
        let tenant = contract::fresh_tenant("bench");
        let principal = format!("arn:aws:iam::000000000000:user/bench-{tenant}");
        let p = Principal::register(&principal, tenant.as_str(), "viewer", &[], "bench", None).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.put_principal(&p, AuditEntry::of(&p.tenant, "bench", "principal.put", format!("principals/{principal}"), None, Some(&p), "bench")).await?;
        let entities = (size / 10).max(1);
        let batch = contract::synthetic_mappings(&catalog, &tenant, size, entities, 29);
        let t = Instant::now();
        let failures: Vec<String> = stream::iter(&batch)
            .map(|m| {
                let store = store.clone();
                async move {
                    store
                        .create_mapping(m, AuditEntry::of(&m.tenant, "bench", "mapping.create", m.target(), None, Some(m), "bench"))
                        .await
                        .err()
                        .map(|e| e.to_string())
                }
            })
            .buffer_unordered(64)
            .filter_map(|e| async move { e })
            .collect()
            .await;
        anyhow::ensure!(failures.is_empty(), "{} creates failed: {:?}", failures.len(), failures.first());
        let load_s = t.elapsed().as_secs_f64();
        eprintln!("bench-stats: {} mappings written in {load_s:.1} s ({:.0} per second)", batch.len(), batch.len() as f64 / load_s);
        app.catalog.domain(domain).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut row = serde_json::Map::new();
        row.insert("mappings".into(), json!(size));
        row.insert("entities".into(), json!(entities));
        row.insert("write_seconds".into(), json!((load_s * 10.0).round() / 10.0));
        let mut agree = true;
        for (name, path, window) in &routes {
            let url = format!("{}/{path}", mitre_api::routes::PREFIX);
            // warm: the caller's registry entry cached, as in a warm container
            serve(&app, apigw_request("GET", &url, &[], b"", Some(&principal))?).await;
            let (mut times, mut calls) = (Vec::with_capacity(iterations), 0u64);
            for _ in 0..iterations {
                let t = Instant::now();
                let s = serve(&app, apigw_request("GET", &url, &[], b"", Some(&principal))?).await;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                anyhow::ensure!(s.response.status() == 200, "{path} answered {}", s.response.status());
                calls += s.ddb_calls;
            }
            let (p50, p99) = percentiles(times);
            // the recount: a Query over every mapping of the tenant, then the same computation
            let (mut rtimes, mut rcalls, mut recounted) = (Vec::new(), 0u64, Aggregates::default());
            for _ in 0..recounts.max(1) {
                let t = Instant::now();
                let (out, counters) = mitre_store::metrics::measured(async {
                    let ms = store.all_mappings(&tenant, &MappingKind::ALL, &MappingFilter::default()).await?;
                    let agg = Aggregates::recount(&ms, domain, window);
                    let _ = mitre_views::statistics::techniques(&catalog, &agg, window, None, 10, Timestamp::now());
                    Ok::<_, anyhow::Error>(agg)
                })
                .await;
                recounted = out?;
                rtimes.push(t.elapsed().as_secs_f64() * 1e3);
                rcalls = counters.calls();
            }
            let (r50, r99) = percentiles(rtimes);
            let kept = store.statistics(&tenant, domain, window).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            agree &= kept == recounted;
            row.insert(
                (*name).into(),
                json!({"p50_ms": p50, "p99_ms": p99, "ddb_calls_per_read": calls as f64 / iterations as f64,
                       "recount_p50_ms": r50, "recount_p99_ms": r99, "recount_ddb_calls": rcalls,
                       "p50_ratio_recount_over_ours": ((r50 / p50) * 10.0).round() / 10.0}),
            );
        }
        row.insert("counters_equal_recount".into(), json!(agree));
        eprintln!("bench-stats: {}", serde_json::Value::Object(row.clone()));
        results.push(serde_json::Value::Object(row));
    }
    println!("{}", json!({"iterations": iterations, "recounts": recounts, "results": results}));
    Ok(ExitCode::SUCCESS)
}

/// View latency for one case with `mappings` mappings (half case mappings, half alert mappings
/// naming the case), written through the real write path into a fresh tenant, then restricted
/// to a group the benchmark's viewer holds: in-process p50/p99 and DynamoDB calls of every view
/// route of the case and of a page of the case's and of the tenant's mapping lists.
pub async fn views(store: mitre_store::Store, mappings: usize, iterations: usize) -> Result<ExitCode> {
    use mitre_api::local::apigw_request;
    use mitre_api::{App, Settings, serve};
    use mitre_domain::{AccessRepo, AuditEntry, EntityRef, MappingKind, MappingRepo, Principal, PrincipalRepo, contract};

    let tenant = contract::fresh_tenant("views");
    let principal = format!("arn:aws:iam::000000000000:user/bench-{tenant}");
    let p = Principal::register(&principal, tenant.as_str(), "viewer", &["bench-ir".to_string()], "bench", None).map_err(|e| anyhow::anyhow!("{e}"))?;
    store.put_principal(&p, AuditEntry::of(&p.tenant, "bench", "principal.put", format!("principals/{principal}"), None, Some(&p), "bench")).await?;
    let app = App::new(store.clone(), Settings { metric_lines: false, ..Settings::default() });
    let catalog = app.catalog.domain(Domain::EnterpriseAttack).await.map_err(|e| anyhow::anyhow!("the enterprise catalog is not synced: {e:?}"))?;
    let case = "CASE-BENCH-1";
    for (i, mut m) in contract::synthetic_mappings(&catalog, &tenant, mappings, 1, 41).into_iter().enumerate() {
        m.alert_id = None;
        m.case_id = Some(case.to_string());
        m.kind = MappingKind::Case;
        if i % 2 == 1 {
            m.kind = MappingKind::Alert;
            m.alert_id = Some(format!("ALERT-{i:04}"));
        }
        store.create_mapping(&m, AuditEntry::of(&m.tenant, "bench", "mapping.create", m.target(), None, Some(&m), "bench")).await?;
    }
    // the case restricted to a group the viewer holds: what a restricted case's views cost
    let entity = EntityRef::parse(MappingKind::Case, case).map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = store.entity_access(&tenant, std::slice::from_ref(&entity)).await?.remove(0);
    let after = before.changed(Some(vec!["bench-ir".into()]), "bench");
    let audit = AuditEntry::of(&tenant, "bench", "access.put", format!("cases/{case}/access"), Some(&before), Some(&after), "bench");
    let t = Instant::now();
    store.change_access(&tenant, &before, &after, audit).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let restrict_ms = t.elapsed().as_secs_f64() * 1e3;
    let routes = [
        ("navigator_layer", "navigator-layer"),
        ("matrix_json", "matrix?format=json"),
        ("matrix_svg", "matrix?format=svg"),
        ("matrix_html", "matrix?format=html"),
        ("mitigations", "mitigations"),
        ("report_markdown", "report?format=markdown"),
        ("report_json", "report?format=json"),
        ("report_html", "report?format=html"),
    ];
    // the tenant's inference history, as the scheduled job builds it
    mitre_sync::insight::rebuild_history(&store, &tenant, &[Domain::EnterpriseAttack]).await?;
    let mut out = serde_json::Map::new();
    out.insert("mappings".into(), json!(mappings));
    out.insert("restrict_case_ms".into(), json!((restrict_ms * 1e3).round() / 1e3));
    let prefix = mitre_api::routes::PREFIX;
    let observed: Vec<String> = contract::synthetic_mappings(&catalog, &tenant, 12, 1, 7).into_iter().map(|m| m.technique.as_str().to_string()).collect();
    let infer_body = serde_json::to_vec(&json!({ "techniques": observed }))?;
    let urls = routes.iter().map(|(name, view)| (*name, "GET", format!("{prefix}/cases/{case}/{view}"), Vec::new())).chain([
        ("list_page_of_case", "GET", format!("{prefix}/case-mappings?case_id={case}&limit=50"), Vec::new()),
        ("list_page_of_tenant", "GET", format!("{prefix}/alert-mappings?limit=50"), Vec::new()),
        ("inferences_of_case", "GET", format!("{prefix}/cases/{case}/inferences?domain=enterprise-attack"), Vec::new()),
        ("infer_set", "POST", format!("{prefix}/inferences"), infer_body),
        ("attack_updates", "GET", format!("{prefix}/attack-updates"), Vec::new()),
        ("attack_updates_md", "GET", format!("{prefix}/attack-updates?format=markdown"), Vec::new()),
    ]);
    for (name, method, url, body) in urls {
        let first = serve(&app, apigw_request(method, &url, &[], &body, Some(&principal))?).await;
        anyhow::ensure!(first.response.status() == 200, "{method} {url} answered {}", first.response.status());
        let (mut times, mut calls, mut bytes) = (Vec::with_capacity(iterations), 0u64, 0usize);
        for _ in 0..iterations {
            let t = Instant::now();
            let s = serve(&app, apigw_request(method, &url, &[], &body, Some(&principal))?).await;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(s.response.status() == 200, "{url} answered {}", s.response.status());
            calls += s.ddb_calls;
            bytes = match s.response.body() {
                lambda_http::Body::Text(t) => t.len(),
                lambda_http::Body::Binary(b) => b.len(),
                _ => 0,
            };
        }
        let (p50, p99) = percentiles(times);
        out.insert(name.into(), json!({"p50_ms": p50, "p99_ms": p99, "ddb_calls_per_view": calls as f64 / iterations as f64, "bytes": bytes}));
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(ExitCode::SUCCESS)
}
