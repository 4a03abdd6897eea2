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
    let encoded = previous_manifest.encode();
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
