//! `mitre bench-report DIR`: one Markdown report and one PNG chart from the JSON lines that
//! `make bench` (bench/all.sh) leaves in DIR, one `<step>.json` per benchmark (its last stdout
//! line), with `<step>.status` (exit code, seconds) and `<step>.log` beside it.
//!
//! The Markdown is a pure function of the parsed inputs ([`markdown`]); the chart is drawn with
//! plotters into a bitmap, its text through ab_glyph with a TTF read from the system at run time.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

/// The steps of `make bench`, in order: name, the command that produces the figures, and what
/// it measures.
pub const STEPS: [(&str, &str); 9] = [
    ("build", "make bench-build (infra/build-lambdas.sh)"),
    ("sync", "make bench-sync (bench/sync.sh)"),
    ("api", "make bench-api (bench/api.sh)"),
    ("stats", "make bench-stats (bench/stats.sh)"),
    ("views", "make bench-views (bench/views.sh)"),
    ("suggest", "make bench-suggest (bench/suggest.sh)"),
    ("infer", "make bench-infer (bench/infer.sh)"),
    ("events", "make bench-events (bench/events.sh)"),
    ("cold", "bench/cold.sh"),
];

/// Goals, as the benchmarks state them (bench/bench_sync.py, bench/views.sh, the suggestion
/// engine's target precision) and the 8 MB bootstrap budget.
const SYNC_RATIO_MAX: f64 = 1.0;
const WRITE_UNITS_RATIO_MAX: f64 = 0.5;
const PEAK_RSS_MB_MAX: f64 = 160.0;
const PARSE_MB_S_MIN: f64 = 150.0;
const INCREMENTAL_EXPECTED: f64 = 406.0;
const VIEW_P99_MS_MAX: f64 = 50.0;
const VIEW_CALLS_MAX: f64 = 2.0;
/// Auto-mapping precision on sources the engine never saw (the mean over the left-out sources).
const SUGGEST_PRECISION_MIN: f64 = 0.85;
/// Technique inference, NDCG@20 over ATT&CK's campaigns: from ATT&CK alone, and with the
/// tenant's history.
const INFER_NDCG_MIN: f64 = 0.31;
/// The events queue against one-by-one HTTP enrichment (bench/events.sh).
const EVENTS_RATIO_MIN: f64 = 3.0;
const INFER_NDCG_TENANT_MIN: f64 = 0.40;
const BOOTSTRAP_UNZIPPED_MAX_BYTES: f64 = 8e6;

/// One benchmark step as found in the report directory.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Its JSON line, when it ran to the end.
    pub json: Option<Value>,
    /// Its exit code, when bench/all.sh recorded one.
    pub exit: Option<i64>,
    /// Where its log is (for the "not measured" lines).
    pub log: String,
}

impl Step {
    fn failed(&self) -> bool {
        self.exit.is_some_and(|c| c != 0)
    }
}

/// Every step's inputs, by name (see [`STEPS`]).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub steps: std::collections::BTreeMap<String, Step>,
}

impl Inputs {
    /// Reads `<step>.json` (its last non-empty line) and `<step>.status` of every step in `dir`.
    pub fn load(dir: &Path) -> Result<Inputs> {
        let mut steps = std::collections::BTreeMap::new();
        for (name, _) in STEPS {
            let json = match std::fs::read_to_string(dir.join(format!("{name}.json"))) {
                Ok(text) => {
                    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
                    Some(serde_json::from_str(line).with_context(|| format!("{}/{name}.json is not one JSON object", dir.display()))?)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("reading {}/{name}.json", dir.display())),
            };
            let exit = std::fs::read_to_string(dir.join(format!("{name}.status")))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(t.trim()).ok())
                .and_then(|v| v["exit"].as_i64());
            steps.insert(name.to_string(), Step { json, exit, log: dir.join(format!("{name}.log")).display().to_string() });
        }
        Ok(Inputs { steps })
    }

    fn json(&self, name: &str) -> Option<&Value> {
        self.steps.get(name).and_then(|s| s.json.as_ref())
    }
}

/// `v` at a dotted path, as a number.
fn num(v: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(v, |v, k| v.get(k)).and_then(Value::as_f64)
}

/// A number with `d` decimals, or "–" when absent.
fn f(x: Option<f64>, d: usize) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{x:.d$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// One goal's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub section: &'static str,
    pub text: String,
    pub met: bool,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// Writes the heading of a section and returns its JSON, or writes why there is none.
fn section<'a>(out: &mut String, inputs: &'a Inputs, heading: &str, step: &str) -> Option<&'a Value> {
    let command = STEPS.iter().find(|(n, _)| *n == step).map_or(step, |(_, c)| *c);
    let fallback = Step::default();
    let s = inputs.steps.get(step).unwrap_or(&fallback);
    let _ = writeln!(out, "\n{heading}\n");
    match inputs.json(step) {
        Some(v) => {
            let _ = writeln!(out, "Produced by `{command}` (log: `{}`).\n", s.log);
            Some(v)
        }
        None if s.failed() => {
            let _ = writeln!(out, "Not measured: `{command}` failed (exit {}); see `{}`.", s.exit.unwrap_or_default(), s.log);
            None
        }
        None => {
            let _ = writeln!(out, "Not measured (see `{}`; run `{command}`).", s.log);
            None
        }
    }
}

/// The Markdown report and the list of goals it judged.
pub fn markdown(inputs: &Inputs) -> (String, Vec<Goal>) {
    let mut o = String::new();
    let mut goals: Vec<Goal> = Vec::new();
    let mut goal = |section: &'static str, met: Option<bool>, text: String| {
        if let Some(met) = met {
            goals.push(Goal { section, text, met });
        }
        met.map_or("–", verdict)
    };

    o.push_str("# Benchmark report\n\n");
    o.push_str("Written by `mitre bench-report` from the JSON line each benchmark prints last (`make bench` runs them all through `bench/all.sh`).\n\n");
    o.push_str("| step | command | result | log |\n|---|---|---|---|\n");
    for (name, command) in STEPS {
        let s = inputs.steps.get(name).cloned().unwrap_or_default();
        let result = match (&s.json, s.exit) {
            (Some(_), Some(c)) if c != 0 => format!("**failed** (exit {c}), figures kept"),
            (Some(_), _) => "measured".to_string(),
            (None, Some(c)) if c != 0 => format!("**failed** (exit {c})"),
            (None, _) => "not measured".to_string(),
        };
        let _ = writeln!(o, "| {name} | `{command}` | {result} | `{}` |", s.log);
    }

    // Sync
    if let Some(s) = section(&mut o, inputs, "## Sync: ours against the naive loader", "sync") {
        let pass = |k: &str| s.get("pass").and_then(|p| p.get(k)).and_then(Value::as_bool);
        let (ours, naive) = (num(s, "full_wall_median"), num(s, "naive_median"));
        let r = num(s, "ratio").or(ratio(ours, naive));
        let (wu, nwu) = (num(s, "write_units"), num(s, "naive_write_units"));
        let wr = num(s, "write_units_ratio").or(ratio(wu, nwu));
        let rounds = num(s, "full_rounds").map_or(String::new(), |n| format!(", medians of {n:.0} rounds"));
        let _ = writeln!(
            o,
            "Full sync of {} into a fresh table, beside `../shared/bench/naive_loader.py`{rounds}.\n",
            s["bundle"].as_str().unwrap_or("enterprise ATT&CK")
        );
        o.push_str("| measure | ours | naive loader | ours / naive | goal | verdict |\n|---|---:|---:|---:|---|---|\n");
        let v = goal("Sync", pass("ratio").or(r.map(|r| r <= SYNC_RATIO_MAX)), format!("full sync time ours / naive {} (goal ≤ {SYNC_RATIO_MAX})", f(r, 2)));
        let _ = writeln!(o, "| full sync (s) | {} | {} | {} | ≤ {SYNC_RATIO_MAX} | {v} |", f(ours, 2), f(naive, 2), f(r, 2));
        let v = goal(
            "Sync",
            pass("write_units").or(wr.map(|r| r <= WRITE_UNITS_RATIO_MAX)),
            format!("DynamoDB write units ours / naive {} (goal ≤ {WRITE_UNITS_RATIO_MAX})", f(wr, 3)),
        );
        let _ = writeln!(o, "| DynamoDB write units | {} | {} | {} | ≤ {WRITE_UNITS_RATIO_MAX} | {v} |\n", f(wu, 0), f(nwu, 0), f(wr, 3));
        o.push_str("| measure | value | goal | verdict |\n|---|---:|---|---|\n");
        let changes = num(s, "incremental_changes");
        let v = goal(
            "Sync",
            pass("incremental").or(changes.map(|c| c == INCREMENTAL_EXPECTED)),
            format!("incremental 18.0 → 18.1 changes {} (expected {INCREMENTAL_EXPECTED})", f(changes, 0)),
        );
        let _ = writeln!(
            o,
            "| incremental 18.0 → 18.1: written + deleted | {} + {} = {} | {INCREMENTAL_EXPECTED} | {v} |",
            f(num(s, "incremental_written"), 0),
            f(num(s, "incremental_deleted"), 0),
            f(changes, 0)
        );
        let noop = num(s, "noop_written");
        let v = goal("Sync", pass("noop").or(noop.map(|n| n == 0.0)), format!("no-op re-import writes {} (goal 0)", f(noop, 0)));
        let _ = writeln!(o, "| no-op re-import: written | {} | 0 | {v} |", f(noop, 0));
        let rss = num(s, "peak_rss_mb");
        let v = goal("Sync", pass("rss").or(rss.map(|r| r <= PEAK_RSS_MB_MAX)), format!("full sync peak RSS {} MiB (goal ≤ {PEAK_RSS_MB_MAX})", f(rss, 1)));
        let _ = writeln!(o, "| full sync peak RSS (MiB) | {} | ≤ {PEAK_RSS_MB_MAX} | {v} |", f(rss, 1));
        let parse = num(s, "parse_mb_per_s");
        let v = goal("Sync", pass("parse").or(parse.map(|p| p >= PARSE_MB_S_MIN)), format!("parse and diff {} MB/s (goal ≥ {PARSE_MB_S_MIN})", f(parse, 1)));
        let _ = writeln!(o, "| parse and diff (MB/s) | {} | ≥ {PARSE_MB_S_MIN} | {v} |", f(parse, 1));
    }

    // Parse and load against mitreattack-python
    if let Some(a) = section(&mut o, inputs, "## Parse and load: ours against mitreattack-python", "api") {
        let lib = format!(
            "{} {}",
            a.pointer("/peer/library").and_then(Value::as_str).unwrap_or("mitreattack-python"),
            a.pointer("/peer/version").and_then(Value::as_str).unwrap_or("")
        );
        let _ = writeln!(
            o,
            "Ours: the catalog loaded from DynamoDB/S3 and the first technique detail answered; the peer: {} loading the same bundle, then its first detail query.\n",
            lib.trim()
        );
        o.push_str("| measure | ours | mitreattack-python | ours / peer | verdict |\n|---|---:|---:|---:|---|\n");
        let (ours, peer) = (num(a, "cold.ours_cold_load_seconds"), num(a, "cold.peer_load_plus_first_detail_seconds"));
        let r = ratio(ours, peer);
        let v = goal("Parse and load", r.map(|r| r < 1.0), format!("cold load ours / mitreattack-python {} (goal < 1)", f(r, 3)));
        let _ = writeln!(o, "| cold load to the first answer (s) | {} | {} | {} | {v} |", f(ours, 3), f(peer, 2), f(r, 3));
        let (ours, peer) = (num(a, "cold.ours_rss_mb"), num(a, "cold.peer_peak_rss_mb"));
        let _ =
            writeln!(o, "| memory (MB; ours: process RSS after the run, peer: peak RSS) | {} | {} | {} | |", f(ours, 1), f(peer, 1), f(ratio(ours, peer), 3));
        let agree = a["counts_agree"].as_bool();
        let v = goal("Parse and load", agree, "result counts agree with mitreattack-python".into());
        let _ = writeln!(o, "| result counts agree | {} | | | {v} |", agree.map_or("–", |b| if b { "yes" } else { "no" }));
    }

    // API latency per route group
    let _ = writeln!(o, "\n## API latency per route group\n\nIn-process p50/p99 (ms) of warm requests against DynamoDB Local, and DynamoDB calls per request.");
    if let Some(a) = section(&mut o, inputs, "### Catalog queries", "api") {
        let iterations = num(a, "iterations").unwrap_or(0.0);
        let _ = writeln!(o, "{} iterations per query; the peer is mitreattack-python on the same bundle.\n", f(Some(iterations), 0));
        o.push_str("| route | ours p50 | ours p99 | peer p50 | peer p99 | p50 ours / peer | DynamoDB calls / request | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
        let mut worst: Option<(f64, &str)> = None;
        for (key, label) in CATALOG_ROUTES {
            let l = |k: &str| num(a, &format!("latency.{key}.{k}"));
            let calls = ratio(l("ours_ddb_calls"), Some(iterations));
            let r = l("p50_ratio").or(ratio(l("ours_p50_ms"), l("peer_p50_ms")));
            if let Some(r) = r.filter(|r| worst.is_none_or(|w| *r > w.0)) {
                worst = Some((r, label));
            }
            let v = r.map_or("–", |r| verdict(r < 1.0));
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | {} | {} | {} | {v} |",
                f(l("ours_p50_ms"), 2),
                f(l("ours_p99_ms"), 2),
                f(l("peer_p50_ms"), 1),
                f(l("peer_p99_ms"), 1),
                f(r, 4),
                f(calls, 2)
            );
        }
        if let Some((r, label)) = worst {
            goal("API latency", Some(r < 1.0), format!("catalog queries faster than mitreattack-python at p50 (highest ratio ours / peer {r:.4}, {label})"));
        }
        let warm = num(a, "ddb_calls_per_warm_request");
        let v = goal("API latency", warm.map(|w| w == 0.0), format!("catalog queries: {} DynamoDB calls per warm request (goal 0)", f(warm, 2)));
        let _ = writeln!(
            o,
            "\nDynamoDB calls: {} on the first request (catalog load), {} per warm request (goal 0: {v}).",
            f(num(a, "ours.first_request_ddb_calls"), 0),
            f(warm, 2)
        );
    }
    if let Some(vw) = section(&mut o, inputs, "### Case views", "views") {
        let _ = writeln!(
            o,
            "One case with {} mappings; goal: p99 < {VIEW_P99_MS_MAX} ms and ≤ {VIEW_CALLS_MAX} DynamoDB calls per view.\n",
            f(num(vw, "mappings"), 0)
        );
        o.push_str("| view | p50 | p99 | DynamoDB calls / request | bytes | p99 | calls |\n|---|---:|---:|---:|---:|---|---|\n");
        let (mut worst_p99, mut worst_calls): (Option<(f64, &str)>, _) = (None, None);
        for (name, x) in views_of(vw) {
            let (p50, p99, calls) = (num(x, "p50_ms"), num(x, "p99_ms"), num(x, "ddb_calls_per_view"));
            for (value, worst) in [(p99, &mut worst_p99), (calls, &mut worst_calls)] {
                if let Some(v) = value.filter(|v| worst.is_none_or(|w| *v > w.0)) {
                    *worst = Some((v, name));
                }
            }
            let (v1, v2) = (p99.map_or("–", |p| verdict(p < VIEW_P99_MS_MAX)), calls.map_or("–", |c| verdict(c <= VIEW_CALLS_MAX)));
            let _ = writeln!(o, "| {name} | {} | {} | {} | {} | {v1} | {v2} |", f(p50, 2), f(p99, 2), f(calls, 2), f(num(x, "bytes"), 0));
        }
        if let Some((p, name)) = worst_p99 {
            goal("API latency", Some(p < VIEW_P99_MS_MAX), format!("case views p99 < {VIEW_P99_MS_MAX} ms (highest {p:.1} ms, {name})"));
        }
        if let Some((c, name)) = worst_calls {
            goal("API latency", Some(c <= VIEW_CALLS_MAX), format!("case views ≤ {VIEW_CALLS_MAX} DynamoDB calls per request (most {c:.2}, {name})"));
        }
    }
    if let Some(st) = section(&mut o, inputs, "### Statistics", "stats") {
        let _ = writeln!(o, "{} warm reads per route.\n", f(num(st, "iterations"), 0));
        o.push_str("| mappings | route | p50 | p99 | DynamoDB calls / request |\n|---:|---|---:|---:|---:|\n");
        for (size, route, x) in stats_rows(st) {
            let _ = writeln!(o, "| {size} | {route} | {} | {} | {} |", f(num(x, "p50_ms"), 2), f(num(x, "p99_ms"), 2), f(num(x, "ddb_calls_per_read"), 2));
        }
    }

    // Statistics against a recount
    if let Some(st) = section(&mut o, inputs, "## Statistics cost against a recount", "stats") {
        let _ = writeln!(
            o,
            "The kept counters read against a recount of the same answer (a Query over every mapping of the tenant, then the same computation), {} recounts per route.\n",
            f(num(st, "recounts"), 0)
        );
        o.push_str("| mappings | route | ours p50 (ms) | recount p50 (ms) | recount p99 (ms) | calls ours / recount | recount / ours (p50) | verdict |\n|---:|---|---:|---:|---:|---:|---:|---|\n");
        let mut least: Option<(f64, String)> = None;
        for (size, route, x) in stats_rows(st) {
            let r = num(x, "p50_ratio_recount_over_ours").or(ratio(num(x, "recount_p50_ms"), num(x, "p50_ms")));
            if let Some(r) = r.filter(|r| least.as_ref().is_none_or(|l| *r < l.0)) {
                least = Some((r, format!("{route} at {size} mappings")));
            }
            let v = r.map_or("–", |r| verdict(r > 1.0));
            let _ = writeln!(
                o,
                "| {size} | {route} | {} | {} | {} | {} / {} | {} | {v} |",
                f(num(x, "p50_ms"), 2),
                f(num(x, "recount_p50_ms"), 1),
                f(num(x, "recount_p99_ms"), 1),
                f(num(x, "ddb_calls_per_read"), 2),
                f(num(x, "recount_ddb_calls"), 0),
                f(r, 1)
            );
        }
        if let Some((r, which)) = least {
            goal("Statistics", Some(r > 1.0), format!("statistics reads faster than a recount at p50 (smallest gain {r:.1} times, {which})"));
        }
        o.push('\n');
        for r in st["results"].as_array().into_iter().flatten() {
            let size = f(num(r, "mappings"), 0);
            let equal = r["counters_equal_recount"].as_bool();
            let v = goal("Statistics", equal, format!("counters equal the recount at {size} mappings"));
            let _ = writeln!(
                o,
                "- {size} mappings ({} entities) written in {} s; counters equal the recount: {v}",
                f(num(r, "entities"), 0),
                f(num(r, "write_seconds"), 1)
            );
        }
    }

    // Suggestions
    if let Some(s) = section(&mut o, inputs, "## Suggestions", "suggest") {
        o.push_str("Leave one source out: each labelled source (Atomic Red Team with descriptions, TRAM, CAR, the project's alerts) measured by an engine that learned nothing from it, the mean over the four; the baseline is a plain BM25 ranking of technique names and descriptions.\n\n");
        o.push_str("| measure | engine | BM25 baseline | verdict |\n|---|---:|---:|---|\n");
        for (k, label) in [("top1", "top-1 accuracy"), ("top3", "top-3 accuracy")] {
            let (e, b) = (num(s, k), num(s, &format!("baseline_{k}")));
            let v = goal("Suggestions", e.zip(b).map(|(e, b)| e > b), format!("{label} {} above the baseline's {}", f(e, 3), f(b, 3)));
            let _ = writeln!(o, "| {label} | {} | {} | {v} |", f(e, 3), f(b, 3));
        }
        let _ = writeln!(o, "| top-1 / top-3 accuracy, parent technique | {} / {} | | |", f(num(s, "top1_parent"), 3), f(num(s, "top3_parent"), 3));
        let p = num(s, "precision");
        let v = goal("Suggestions", p.map(|p| p >= SUGGEST_PRECISION_MIN), format!("auto-mapping precision {} (goal ≥ {SUGGEST_PRECISION_MIN})", f(p, 3)));
        let _ = writeln!(o, "| auto-mapping precision at threshold {} | {} | | {v} |", f(num(s, "threshold"), 3), f(p, 3));
        let _ = writeln!(o, "| auto-mapping coverage | {} | | |", f(num(s, "coverage"), 3));
        let _ = writeln!(o, "| latency p50 / p99 (ms), 2 KB alert with 10 observables | {} / {} | | |", f(num(s, "p50_ms"), 2), f(num(s, "p99_ms"), 2));
        let _ = writeln!(o, "| engine build (s) and memory (MB) | {} s, +{} MB | | |", f(num(s, "build_s"), 2), f(num(s, "build_peak_mb"), 0));
    }

    if let Some(s) = section(&mut o, inputs, "## Technique inference", "infer") {
        let lo = &s["leave_one_campaign_out"];
        let _ = writeln!(
            o,
            "Leave one campaign out over {}: {} campaigns, {} splits; half of each campaign's techniques hidden and ranked by a model without the campaign and its groups' sets.\n",
            s["attack"].as_str().unwrap_or("?"),
            f(num(lo, "campaigns"), 0),
            f(num(lo, "splits"), 0)
        );
        o.push_str("| model | recall@10 | recall@20 | NDCG@20 | verdict |\n|---|---:|---:|---:|---|\n");
        for (key, label, min) in [
            ("popularity", "popularity (baseline)", None),
            ("cooccurrence", "co-occurrence (baseline)", None),
            ("model", "model, ATT&CK alone", Some(INFER_NDCG_MIN)),
            ("tenant_reports", "model + tenant history", Some(INFER_NDCG_TENANT_MIN)),
        ] {
            let m = &lo["models"][key];
            let ndcg = num(m, "ndcg_at_20");
            let v = match min {
                Some(min) => goal("Technique inference", ndcg.map(|n| n >= min), format!("{label}: NDCG@20 {} (goal ≥ {min})", f(ndcg, 3))),
                None => "",
            };
            let _ = writeln!(o, "| {label} | {} | {} | {} | {v} |", f(num(m, "recall_at_10"), 3), f(num(m, "recall_at_20"), 3), f(ndcg, 3));
        }
        let t = &s["infer"]["tenant_4000"];
        let _ = writeln!(o, "\n`infer` with a 4,000-entity history: p50 {} ms, p99 {} ms (in process).", f(num(t, "p50_ms"), 3), f(num(t, "p99_ms"), 3));
    }

    // Cold starts
    if let Some(e) = section(&mut o, inputs, "## Events", "events") {
        let (h, q, pc, p) = (&e["http"], &e["queue"], &e["paced"], &e["publisher"]);
        let _ = writeln!(
            o,
            "{} labelled alerts enriched on DynamoDB Local, one by one over HTTP, then through the events queue ({} pollers, batches of 10).\n",
            f(num(e, "alerts"), 0),
            f(num(e, "pollers"), 0)
        );
        o.push_str("| path | alerts/s | capacity units per alert | mappings |\n|---|---:|---:|---:|\n");
        let _ = writeln!(
            o,
            "| POST enrich, one by one | {} | {} | {} |",
            f(num(h, "alerts_per_s"), 1),
            f(num(h, "capacity_per_alert"), 2),
            f(num(h, "mappings"), 0)
        );
        let _ = writeln!(o, "| events queue | {} | {} | {} |", f(num(q, "alerts_per_s"), 1), f(num(q, "capacity_per_alert"), 2), f(num(q, "mappings"), 0));
        let ratio = num(e, "ratio");
        let v = goal("Events", ratio.map(|r| r >= EVENTS_RATIO_MIN), format!("queue / HTTP throughput {}x (goal ≥ {EVENTS_RATIO_MIN}x)", f(ratio, 2)));
        let _ = writeln!(
            o,
            "\nQueue / HTTP: {}x (goal ≥ {EVENTS_RATIO_MIN}x: {v}). Paced at {} alerts/s with the publisher running: end to end (event put to first mapping) p50 {} ms, p99 {} ms; publisher lag (commit to PutEvents) p50 {} ms, p99 {} ms.",
            f(ratio, 2),
            f(num(pc, "alerts_per_s"), 1),
            f(num(pc, "e2e_p50_ms"), 0),
            f(num(pc, "e2e_p99_ms"), 0),
            f(num(p, "lag_p50_ms"), 0),
            f(num(p, "lag_p99_ms"), 0)
        );
    }

    if let Some(c) = section(&mut o, inputs, "## Cold starts and peak RSS", "cold") {
        let _ = writeln!(
            o,
            "The real `api` and `sync` binaries ({} build, `{}`) under the Lambda runtime API emulator of `tests/tests/integration/lambda_runtime.rs`: process start to the first answer, median of {} runs. The sync's first answer includes a whole ICS 18.1 sync.\n",
            c["profile"].as_str().unwrap_or("host"),
            c["binaries"].as_str().unwrap_or("?"),
            f(num(c, "runs"), 0)
        );
        o.push_str("| function | cold start (ms) | peak RSS (MiB) |\n|---|---:|---:|\n");
        for name in ["api", "sync"] {
            let _ =
                writeln!(o, "| {name} | {} | {} |", f(num(c, &format!("cold_start.{name}.ms")), 1), f(num(c, &format!("cold_start.{name}.peak_rss_mib")), 1));
        }
    }

    // Bootstrap sizes
    if let Some(b) = section(&mut o, inputs, "## Bootstrap sizes", "build") {
        let _ = writeln!(
            o,
            "arm64 bootstraps built with cargo-lambda in {} s (a few seconds when the cargo cache was current; `CLEAN=1 make sam-build` times a build from scratch); goal: each bootstrap ≤ 8 MB unzipped.\n",
            f(num(b, "build_seconds"), 0)
        );
        o.push_str("| function | unzipped (MB) | zipped (MB) | goal | verdict |\n|---|---:|---:|---|---|\n");
        for name in ["api", "sync", "events-in", "events-out"] {
            let (u, z) = (num(b, &format!("bootstraps.{name}.unzipped_bytes")), num(b, &format!("bootstraps.{name}.zipped_bytes")));
            let v = goal(
                "Bootstrap sizes",
                u.map(|u| u <= BOOTSTRAP_UNZIPPED_MAX_BYTES),
                format!("{name} bootstrap unzipped {} MB (goal ≤ 8 MB)", f(u.map(|u| u / 1e6), 2)),
            );
            let _ = writeln!(o, "| {name} | {} | {} | ≤ 8 MB unzipped | {v} |", f(u.map(|u| u / 1e6), 2), f(z.map(|z| z / 1e6), 2));
        }
    }

    // Goals
    let met = goals.iter().filter(|g| g.met).count();
    let _ = writeln!(o, "\n## Goals\n\n{met} of {} measured goals met.\n", goals.len());
    for g in goals.iter().filter(|g| !g.met) {
        let _ = writeln!(o, "- **missed** ({}): {}", g.section, g.text);
    }
    for g in goals.iter().filter(|g| g.met) {
        let _ = writeln!(o, "- met ({}): {}", g.section, g.text);
    }
    let unmeasured: Vec<&str> = STEPS.iter().filter(|(n, _)| inputs.json(n).is_none()).map(|(n, _)| *n).collect();
    if !unmeasured.is_empty() {
        let _ = writeln!(o, "- not measured: {}", unmeasured.join(", "));
    }
    (o, goals)
}

const CATALOG_ROUTES: [(&str, &str); 3] = [
    ("technique_detail", "GET techniques/T1059.001"),
    ("techniques_by_tactic", "GET techniques?tactic=credential-access"),
    ("search_powershell", "GET techniques?q=powershell"),
];

/// The views of bench-views' JSON (every object member), in its order.
fn views_of(v: &Value) -> Vec<(&str, &Value)> {
    v.as_object().into_iter().flatten().filter(|(_, x)| x.is_object()).map(|(k, x)| (k.as_str(), x)).collect()
}

/// (mappings, route, figures) of bench-stats' JSON.
fn stats_rows(v: &Value) -> Vec<(String, &str, &Value)> {
    let mut rows = Vec::new();
    for r in v["results"].as_array().into_iter().flatten() {
        let size = f(num(r, "mappings"), 0);
        for (route, x) in r.as_object().into_iter().flatten().filter(|(_, x)| x.is_object()) {
            rows.push((size.clone(), route.as_str(), x));
        }
    }
    rows
}

/// Writes `report.md` and `report.png` into `dir`; returns their paths and the goals.
pub fn run(dir: &Path) -> Result<(PathBuf, PathBuf, Vec<Goal>)> {
    let inputs = Inputs::load(dir)?;
    let (md, goals) = markdown(&inputs);
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    let png_path = dir.join("report.png");
    chart::draw(&inputs, &png_path).with_context(|| format!("drawing {}", png_path.display()))?;
    Ok((md_path, png_path, goals))
}

mod chart {
    use super::*;
    use plotters::coord::Shift;
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    const FONTS: [&str; 2] = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"];
    const OURS: RGBColor = RGBColor(31, 119, 180);
    const OURS_LIGHT: RGBColor = RGBColor(158, 202, 225);
    const PEER: RGBColor = RGBColor(230, 126, 34);
    const PEER_LIGHT: RGBColor = RGBColor(245, 196, 150);
    const GOAL: RGBColor = RGBColor(200, 30, 30);

    type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

    /// Registers the first system TTF found as plotters' "sans-serif".
    fn register_font() -> Result<()> {
        let (path, bytes) = FONTS
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (p, b)))
            .ok_or_else(|| anyhow!("no TrueType font for the chart: install fonts-dejavu-core or fonts-liberation (looked for {})", FONTS.join(", ")))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| anyhow!("{path} is not a usable TrueType font"))
    }

    pub fn draw(inputs: &Inputs, path: &Path) -> Result<()> {
        register_font()?;
        let root = BitMapBackend::new(path, (1800, 1300)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled("sentineliq-mitre benchmarks (make bench)", ("sans-serif", 30))?;
        let (top, bottom) = root.split_vertically(520);
        let tops = top.split_evenly((1, 3));
        let (latency, right) = bottom.split_horizontally(1150);
        sync_seconds(&tops[0], inputs.json("sync"))?;
        write_units(&tops[1], inputs.json("sync"))?;
        bootstraps(&tops[2], inputs.json("build"))?;
        latencies(&latency, inputs)?;
        cold_starts(&right, inputs.json("cold"))?;
        root.present()?;
        Ok(())
    }

    fn not_measured(area: &Area, title: &str) -> Result<()> {
        let area = area.margin(10, 10, 10, 10).titled(title, ("sans-serif", 22))?;
        let (w, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            "not measured",
            ((w / 2) as i32, (h / 3) as i32),
            ("sans-serif", 20).into_font().color(&BLACK.mix(0.6)).pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        Ok(())
    }

    /// A vertical bar chart: one bar per (label, value, colour), the value written above it,
    /// and an optional goal line.
    fn bars(area: &Area, title: &str, y_desc: &str, bars: &[(String, f64, RGBColor)], goal: Option<(f64, &str)>) -> Result<()> {
        let top = bars.iter().map(|b| b.1).chain(goal.map(|g| g.0)).fold(0.0f64, f64::max).max(1e-9) * 1.25;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80)
            // integer ranges are inclusive here: one segment per bar
            .build_cartesian_2d((0..bars.len() as i32 - 1).into_segmented(), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| axis(*v))
            .max_light_lines(1)
            .y_desc(y_desc)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 16))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, v, c))| {
            let mut r = Rectangle::new([(SegmentValue::Exact(i as i32), 0.0), (SegmentValue::Exact(i as i32 + 1), *v)], c.filled());
            r.set_margin(0, 0, 20, 20);
            r
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, v, _))| {
            EmptyElement::at((SegmentValue::CenterOf(i as i32), *v))
                + Text::new(short(*v), (0, -4), ("sans-serif", 16).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)))
        }))?;
        if let Some((g, label)) = goal {
            let n = bars.len() as i32;
            chart.draw_series(LineSeries::new([(SegmentValue::Exact(0), g), (SegmentValue::Last, g)], GOAL.stroke_width(2)))?;
            chart.draw_series(std::iter::once(
                EmptyElement::at((SegmentValue::Exact(n - 1), g))
                    + Text::new(label.to_string(), (0, -4), ("sans-serif", 15).into_font().color(&GOAL).pos(Pos::new(HPos::Left, VPos::Bottom))),
            ))?;
        }
        Ok(())
    }

    /// Axis labels: no decimals from 10 up.
    fn axis(v: f64) -> String {
        if v.abs() >= 10.0 || v == 0.0 { format!("{v:.0}") } else { format!("{v}") }
    }

    /// 12.3 / 1,234 / 0.123 as short labels.
    fn short(v: f64) -> String {
        if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    }

    fn sync_seconds(area: &Area, sync: Option<&Value>) -> Result<()> {
        let title = "Full sync, seconds (median)";
        match sync.map(|s| (num(s, "full_wall_median"), num(s, "naive_median"))) {
            Some((Some(o), Some(n))) => bars(area, title, "seconds", &[("ours".into(), o, OURS), ("naive loader".into(), n, PEER)], None),
            _ => not_measured(area, title),
        }
    }

    fn write_units(area: &Area, sync: Option<&Value>) -> Result<()> {
        let title = "Full sync, DynamoDB write units";
        match sync.map(|s| (num(s, "write_units"), num(s, "naive_write_units"))) {
            Some((Some(o), Some(n))) => {
                bars(area, title, "write units", &[("ours".into(), o, OURS), ("naive loader".into(), n, PEER)], Some((n * WRITE_UNITS_RATIO_MAX, "goal: half")))
            }
            _ => not_measured(area, title),
        }
    }

    fn bootstraps(area: &Area, build: Option<&Value>) -> Result<()> {
        let title = "Lambda bootstraps, MB";
        let mut b = Vec::new();
        for name in ["api", "sync"] {
            let s = build.and_then(|v| v.pointer(&format!("/bootstraps/{name}")));
            if let Some((u, z)) = s.and_then(|s| num(s, "unzipped_bytes").zip(num(s, "zipped_bytes"))) {
                b.push((format!("{name} unzipped"), u / 1e6, OURS_LIGHT));
                b.push((format!("{name} zipped"), z / 1e6, OURS));
            }
        }
        if b.is_empty() {
            return not_measured(area, title);
        }
        bars(area, title, "MB", &b, Some((BOOTSTRAP_UNZIPPED_MAX_BYTES / 1e6, "8 MB (unzipped)")))
    }

    fn cold_starts(area: &Area, cold: Option<&Value>) -> Result<()> {
        let title = "Cold start to first answer, ms";
        let b: Vec<(String, f64, RGBColor)> = ["api", "sync"]
            .iter()
            .filter_map(|n| {
                let c = cold?.pointer(&format!("/cold_start/{n}"))?;
                let rss = num(c, "peak_rss_mib").map_or(String::new(), |r| format!(" ({r:.0} MiB)"));
                Some((format!("{n}{rss}"), num(c, "ms")?, OURS))
            })
            .collect();
        if b.is_empty() {
            return not_measured(area, title);
        }
        bars(area, title, "ms", &b, None)
    }

    /// p99 (light) with p50 (dark, inside) per route, horizontal, log scale.
    fn latencies(area: &Area, inputs: &Inputs) -> Result<()> {
        let title = "Latency per route, ms (log scale): p50 dark, p99 light; orange: mitreattack-python or recount";
        let mut rows: Vec<(String, f64, f64, bool)> = Vec::new();
        if let Some(a) = inputs.json("api") {
            for ((key, _), label) in CATALOG_ROUTES.iter().zip(["technique detail", "techniques by tactic", "search powershell"]) {
                let l = |k: &str| num(a, &format!("latency.{key}.{k}"));
                if let Some((p50, p99)) = l("ours_p50_ms").zip(l("ours_p99_ms")) {
                    rows.push((format!("catalog {label}"), p50, p99, false));
                }
                if let Some((p50, p99)) = l("peer_p50_ms").zip(l("peer_p99_ms")) {
                    rows.push((format!("catalog {label} (peer)"), p50, p99, true));
                }
            }
        }
        if let Some(v) = inputs.json("views") {
            for (name, x) in views_of(v) {
                if let Some((p50, p99)) = num(x, "p50_ms").zip(num(x, "p99_ms")) {
                    rows.push((format!("view {name}"), p50, p99, false));
                }
            }
        }
        if let Some(s) = inputs.json("stats") {
            for (size, route, x) in stats_rows(s) {
                if let Some((p50, p99)) = num(x, "p50_ms").zip(num(x, "p99_ms")) {
                    rows.push((format!("statistics {route} @{size}"), p50, p99, false));
                }
                if let Some((p50, p99)) = num(x, "recount_p50_ms").zip(num(x, "recount_p99_ms")) {
                    rows.push((format!("recount {route} @{size}"), p50, p99, true));
                }
            }
        }
        if rows.is_empty() {
            return not_measured(area, title);
        }
        let lo = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min).max(1e-3);
        let lo = 10f64.powf(lo.log10().floor());
        let hi = rows.iter().map(|r| r.2).fold(0.0, f64::max) * 3.0;
        let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let n = rows.len() as i32;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(300)
            .build_cartesian_2d((lo..hi).log_scale(), (0..n - 1).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len())
            .y_label_formatter(&|v| match v {
                // first row at the top
                SegmentValue::CenterOf(i) => names.get((n - 1 - *i) as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| axis(*v))
            .max_light_lines(1)
            .x_desc("ms")
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw()?;
        let row = |i: usize| n - 1 - i as i32;
        chart.draw_series(rows.iter().enumerate().map(|(i, (_, _, p99, peer))| {
            let mut r = Rectangle::new(
                [(lo, SegmentValue::Exact(row(i))), (*p99, SegmentValue::Exact(row(i) + 1))],
                if *peer { PEER_LIGHT } else { OURS_LIGHT }.filled(),
            );
            r.set_margin(2, 2, 0, 0);
            r
        }))?;
        chart.draw_series(rows.iter().enumerate().map(|(i, (_, p50, _, peer))| {
            let mut r = Rectangle::new([(lo, SegmentValue::Exact(row(i))), (*p50, SegmentValue::Exact(row(i) + 1))], if *peer { PEER } else { OURS }.filled());
            r.set_margin(6, 6, 0, 0);
            r
        }))?;
        chart.draw_series(rows.iter().enumerate().map(|(i, (_, p50, p99, _))| {
            EmptyElement::at((*p99, SegmentValue::CenterOf(row(i))))
                + Text::new(
                    format!("{} / {}", short(*p50), short(*p99)),
                    (5, 0),
                    ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
                )
        }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(json: Option<Value>, exit: Option<i64>, name: &str) -> Step {
        Step { json, exit, log: format!("target/bench/{name}.log") }
    }

    fn inputs(with: &[(&str, Value)]) -> Inputs {
        let mut i = Inputs::default();
        for (name, _) in STEPS {
            i.steps.insert(name.into(), step(None, None, name));
        }
        for (name, v) in with {
            i.steps.insert((*name).into(), step(Some(v.clone()), Some(0), name));
        }
        i
    }

    fn sync() -> Value {
        json!({"bundle": "enterprise-attack-18.1.json.gz", "full_rounds": 2, "full_wall_median": 10.3, "naive_median": 9.0, "ratio": 1.144,
               "write_units": 22061.0, "naive_write_units": 59372.0, "write_units_ratio": 0.372, "incremental_written": 404,
               "incremental_deleted": 2, "incremental_changes": 406, "noop_written": 0, "peak_rss_mb": 122.0, "parse_mb_per_s": 190.0,
               "pass": {"parse": true, "rss": true, "ratio": false, "write_units": true, "incremental": true, "noop": true}})
    }

    #[test]
    fn bench_report_a_measured_section_shows_its_figures_and_command() {
        let (md, goals) = markdown(&inputs(&[("sync", sync())]));
        assert!(md.contains("## Sync: ours against the naive loader"), "{md}");
        assert!(md.contains("Produced by `make bench-sync (bench/sync.sh)`"), "{md}");
        assert!(md.contains("| full sync (s) | 10.30 | 9.00 | 1.14 | ≤ 1 | **missed** |"), "{md}");
        assert!(md.contains("| DynamoDB write units | 22061 | 59372 | 0.372 | ≤ 0.5 | met |"), "{md}");
        assert!(md.contains("404 + 2 = 406"), "{md}");
        assert_eq!(goals.iter().filter(|g| g.section == "Sync").count(), 6);
        assert_eq!(goals.iter().filter(|g| !g.met).count(), 1);
    }

    #[test]
    fn bench_report_missing_and_failed_inputs_say_not_measured_with_their_log() {
        let mut i = inputs(&[]);
        i.steps.insert("views".into(), step(None, Some(2), "views"));
        let (md, goals) = markdown(&i);
        assert!(goals.is_empty());
        assert!(md.contains("Not measured (see `target/bench/sync.log`; run `make bench-sync (bench/sync.sh)`)."), "{md}");
        assert!(md.contains("Not measured: `make bench-views (bench/views.sh)` failed (exit 2); see `target/bench/views.log`."), "{md}");
        assert!(md.contains("| views | `make bench-views (bench/views.sh)` | **failed** (exit 2) |"), "{md}");
        assert!(md.contains("- not measured: build, sync, api, stats, views, suggest, infer, events, cold"), "{md}");
        assert!(md.contains("0 of 0 measured goals met."), "{md}");
    }

    #[test]
    fn bench_report_goal_verdicts_follow_the_numbers() {
        let views = json!({"mappings": 200, "matrix_svg": {"p50_ms": 15.0, "p99_ms": 25.9, "ddb_calls_per_view": 3.0, "bytes": 120000},
                           "report_html": {"p50_ms": 40.0, "p99_ms": 60.0, "ddb_calls_per_view": 2.0, "bytes": 5000}});
        let build = json!({"bootstraps": {"api": {"unzipped_bytes": 7_900_000, "zipped_bytes": 4_190_000}, "sync": {"unzipped_bytes": 8_500_000, "zipped_bytes": 3_500_000}}, "build_seconds": 380});
        let suggest = json!({"top1": 0.968, "top3": 0.979, "baseline_top1": 0.496, "baseline_top3": 0.667, "precision": 0.80, "coverage": 0.8, "threshold": 0.51, "p50_ms": 2.2, "p99_ms": 9.9});
        let stats = json!({"iterations": 50, "recounts": 3, "results": [{"mappings": 10000, "entities": 1000, "write_seconds": 99.5, "counters_equal_recount": true,
            "tactics": {"p50_ms": 35.2, "p99_ms": 45.1, "ddb_calls_per_read": 2.0, "recount_p50_ms": 624.0, "recount_p99_ms": 650.0, "recount_ddb_calls": 12, "p50_ratio_recount_over_ours": 17.7}}]});
        let (md, goals) = markdown(&inputs(&[("views", views), ("build", build), ("suggest", suggest), ("stats", stats)]));
        let verdict = |needle: &str| goals.iter().find(|g| g.text.contains(needle)).unwrap_or_else(|| panic!("no goal {needle}: {goals:?}")).met;
        assert!(!verdict("case views p99 < 50 ms (highest 60.0 ms, report_html)"));
        assert!(!verdict("case views ≤ 2 DynamoDB calls per request (most 3.00, matrix_svg)"));
        assert!(md.contains("| matrix_svg | 15.00 | 25.90 | 3.00 | 120000 | met | **missed** |"), "{md}");
        assert!(verdict("api bootstrap unzipped 7.90 MB"));
        assert!(!verdict("sync bootstrap unzipped 8.50 MB"));
        assert!(verdict("top-3 accuracy"));
        assert!(!verdict("auto-mapping precision 0.800"));
        assert!(verdict("smallest gain 17.7 times, tactics at 10000 mappings"));
        assert!(verdict("counters equal the recount at 10000"));
        assert!(md.contains("| 10000 | tactics | 35.20 | 45.10 | 2.00 |"), "{md}");
        assert!(md.contains("- **missed** (Bootstrap sizes): sync bootstrap unzipped 8.50 MB (goal ≤ 8 MB)"), "{md}");
        assert!(md.contains("Not measured (see `target/bench/cold.log`"), "{md}");
    }

    #[test]
    fn bench_report_load_reads_the_last_json_line_and_the_status() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("cold.json"),
            "{\"old\": 1}\n{\"cold_start\": {\"api\": {\"ms\": 20, \"peak_rss_mib\": 30}}, \"binaries\": \"target/perf\", \"runs\": 3}\n",
        )
        .unwrap();
        std::fs::write(dir.join("api.status"), "{\"exit\": 1, \"seconds\": 12}\n").unwrap();
        let i = Inputs::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(num(i.json("cold").unwrap(), "cold_start.api.ms"), Some(20.0));
        assert!(i.steps["api"].failed() && i.json("api").is_none());
        let (md, _) = markdown(&i);
        assert!(md.contains("| api | 20.0 | 30.0 |"), "{md}");
    }
}
