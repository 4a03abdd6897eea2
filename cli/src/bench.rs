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
    let principal = Some("arn:aws:iam::000000000000:user/bench");
    // The benchmark's caller is a superuser of this process only (no registry entry needed).
    let app = App::new(store, Settings { metric_lines: false, superusers: vec![principal.unwrap_or_default().to_string()], ..Settings::default() });
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
