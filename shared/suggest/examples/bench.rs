//! Quality, speed and memory of technique suggestions, against a plain BM25 ranking of
//! technique names and descriptions (the baseline).
//!
//! Run: `cargo run --release -p mitre-suggest --example bench` (or bench/suggest.sh).
//! `-- --write-examples` writes data/suggest/examples.tsv.gz (the shipped example profiles,
//! learned from every source) and stops.
//!
//! Reads enterprise ATT&CK 18.1 from $ATTACK_DATA_DIR (default ../shared/attack-data next to
//! the repository), the public labelled sets from $LABELLED_DATA_DIR (default
//! ../shared/labelled-data): Atomic Red Team tests, TRAM sentences, MITRE CAR analytics, and
//! the project's labelled alerts (tests/data/suggest/labelled.jsonl).
//!
//! Leave one source out: the four labelled sources are in turn the unseen source. For each,
//! the example profiles are learned from the three others only, the calibration (a logistic
//! model over the signal strengths, see the crate's `calibration` module) is fitted on the
//! three others only, each with features from profiles that leave it out too (so that no
//! training item sees itself), and the held-out source is measured: top-1/top-3 (exact and
//! parent level), and auto-mapping precision (exact and parent), coverage (share of items with
//! at least one auto-mapping) and mappings per item, at the shipped threshold; beside the
//! engine without the rule table and plain BM25 on the same texts. ATT&CK IDs are removed from
//! every public text (they name the answer); labels are resolved through the catalog
//! (revoked-by). Atomic Red Team is measured twice: the command line alone (as a
//! process-creation alert carries it) and with the test's description.
//!
//! The shipped calibration is the fit on all four sources (each with features from profiles
//! without it); the shipped threshold is chosen on the left-out scores only: the lowest score
//! from which the pooled precision of the held-out detection content (CAR's analytics and the
//! project's alerts, each weighed equally, see DETECTION_SOURCES) stays at or above
//! TARGET_PRECISION. Auto-mapping follows enrichment's policy (`Feedback::decide_all`): the
//! best suggestion of an alert, and techniques it names by ID.
//!
//! Review replay (`review_replay` in the JSON line): an analyst confirms the right and rejects
//! the wrong auto-mappings of one half of a labelled set into one tenant's feedback (the
//! crate's `feedback` module), then the other half is enriched without and with it: how many
//! false auto-mappings fall and how many correct ones are lost. On the labelled alerts, the
//! Atomic Red Team commands and the TRAM sentences, each scored by its leave-one-source-out
//! engine.
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_suggest::calibration::{FEATURE_NAMES, lowest_threshold_weighted};
use mitre_suggest::eval::{Accuracy, LabelledAlert, accuracy, automap, parse_labelled};
use mitre_suggest::examples::{Example, Profiles, TERMS_PER_PROFILE, alert_examples, art_examples, car_examples, car_labels, car_text, tram_examples};
use mitre_suggest::feedback::{Feedback, TRUSTED_FACTOR, signature};
use mitre_suggest::{
    Calibration, DEFAULT_CALIBRATION, DEFAULT_RULES, DEFAULT_THRESHOLD, Engine, Evidence, EvidenceKind, Features, Observable, Request, Suggestion,
};

const L2: f64 = 1.0;
/// The precision the shipped threshold is chosen for, on the left-out sources.
const TARGET_PRECISION: f64 = 0.9;
const MIN_SUPPORT: usize = 20;
const LIMIT: usize = 20;
/// The sources whose texts are detection content (analytics with their queries, alerts): the
/// threshold is chosen on their left-out scores. Atomic Red Team labels each test with the one
/// technique it demonstrates although its commands exercise several (the PowerShell that runs
/// the credential dumper), and a TRAM sentence is one line of prose: both are measured and
/// reported at the chosen threshold, not used to choose it.
const DETECTION_SOURCES: [&str; 2] = ["car", "alerts"];
/// Items of one source used to fit a calibration (every k-th, so that TRAM's 5,089 sentences
/// do not outweigh CAR's 102 analytics).
const FIT_ITEMS_PER_SOURCE: usize = 600;

fn labelled_data_dir() -> PathBuf {
    std::env::var_os("LABELLED_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/labelled-data"))
}

fn data_dir() -> PathBuf {
    std::env::var_os("ATTACK_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attack-data"))
}

fn status_kb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(0.0)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
        .map(|pages| pages * 4096.0 / 1e6)
        .unwrap_or(0.0)
}

/// The text of a gzipped file of the labelled-data directory.
fn public_text(file: &str) -> Result<String, String> {
    let path = labelled_data_dir().join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = decode_source_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("{}: {e}", path.display()))
}

fn records(text: &str) -> Vec<serde_json::Value> {
    text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// One labelled source: its examples (what profiles learn from), the items measured when it
/// is held out (one list per form), and the items a calibration is fitted on.
struct Source {
    key: &'static str,
    examples: Vec<Example>,
    /// (JSON key, label, items)
    forms: Vec<(&'static str, &'static str, Vec<LabelledAlert>)>,
    fit_items: Vec<LabelledAlert>,
}

/// Every k-th item, at most `n`.
fn spread(items: &[LabelledAlert], n: usize) -> Vec<LabelledAlert> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step).cloned().collect()
}

fn load_sources(catalog: &DomainCatalog, labelled: &[LabelledAlert]) -> Result<Vec<Source>, String> {
    let art = public_text("atomic-red-team-tests.jsonl.gz")?;
    let tram = public_text("tram-sentences.jsonl.gz")?;
    let car = public_text("car-analytics.jsonl.gz")?;
    let (art_r, tram_r, car_r) = (records(&art), records(&tram), records(&car));
    let art_cmd = public_alerts(catalog, &art_r, technique_label, |r| art_request(r, false));
    let art_desc = public_alerts(catalog, &art_r, technique_label, |r| art_request(r, true));
    // fitted on both forms, alternately
    let art_fit: Vec<LabelledAlert> = art_cmd.iter().zip(&art_desc).enumerate().map(|(i, (a, b))| if i % 2 == 0 { a.clone() } else { b.clone() }).collect();
    let tram_items = public_alerts(catalog, &tram_r, technique_label, tram_request);
    let car_items = public_alerts(catalog, &car_r, car_labels, car_request);
    Ok(vec![
        Source {
            key: "art",
            examples: art_examples(&art)?,
            fit_items: spread(&art_fit, FIT_ITEMS_PER_SOURCE),
            forms: vec![
                ("atomic_red_team_command", "Atomic Red Team: command", art_cmd),
                ("atomic_red_team_command_description", "Atomic Red Team: command + descr.", art_desc),
            ],
        },
        Source {
            key: "tram",
            examples: tram_examples(&tram)?,
            fit_items: spread(&tram_items, FIT_ITEMS_PER_SOURCE),
            forms: vec![("tram", "TRAM: report sentence", tram_items)],
        },
        Source { key: "car", examples: car_examples(&car)?, fit_items: car_items.clone(), forms: vec![("car", "CAR: analytic text and queries", car_items)] },
        Source {
            key: "alerts",
            examples: alert_examples(labelled),
            fit_items: labelled.to_vec(),
            forms: vec![("labelled_alerts", "project's labelled alerts", labelled.to_vec())],
        },
    ])
}

/// Profiles learned from every source but those in `without`.
fn profiles_without(sources: &[Source], without: &[&str]) -> Profiles {
    let examples: Vec<Example> = sources.iter().filter(|s| !without.contains(&s.key)).flat_map(|s| s.examples.iter().cloned()).collect();
    Profiles::learn(&examples, TERMS_PER_PROFILE)
}

/// One item's candidates: (ATT&CK ID, features, explicit-ID confidence, only a rule).
type Rows = Vec<(String, Features, f64, bool)>;

fn rows(engine: &Engine, a: &LabelledAlert) -> Rows {
    engine
        .candidates(&a.request(LIMIT as i64))
        .into_iter()
        .map(|c| {
            let rule_only = c.features.to_array()[1..].iter().all(|v| *v == 0.0) && c.id_confidence == 0.0;
            (c.technique, c.features, c.id_confidence, rule_only)
        })
        .collect()
}

/// The same rows as if the rule table did not exist.
fn without_rules(r: &Rows) -> Rows {
    r.iter()
        .filter(|x| !x.3)
        .map(|(t, f, id, _)| {
            let mut f = *f;
            f.rule = 0.0;
            (t.clone(), f, *id, false)
        })
        .collect()
}

fn fit(data: &[(Rows, &LabelledAlert)]) -> Calibration {
    let examples: Vec<(Features, bool)> = data.iter().flat_map(|(r, a)| r.iter().map(|(t, f, _, _)| (*f, a.expected.contains(t)))).collect();
    Calibration::fit(&examples, L2)
}

/// One item's ranked suggestions: (ID, score, named by an explicit ATT&CK ID), at most LIMIT.
type Scored = Vec<(String, f64, bool)>;

fn score(c: &Calibration, r: &Rows) -> Scored {
    let mut v: Scored = r.iter().map(|(t, f, id, _)| (t.clone(), c.score(f, *id), *id > 0.0)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(LIMIT);
    v
}

/// The suggestions enrichment may auto-map, whatever the threshold (see
/// `Feedback::decide_all`, no feedback): those named by ID and the best of the others.
fn eligible(v: &Scored) -> Scored {
    let as_suggestion = |(t, x, named): &(String, f64, bool)| Suggestion {
        technique: t.clone(),
        name: String::new(),
        tactics: Vec::new(),
        score: *x,
        evidence: if *named { vec![Evidence { kind: EvidenceKind::AttackId, detail: String::new(), span: None }] } else { Vec::new() },
    };
    let suggestions: Vec<Suggestion> = v.iter().map(as_suggestion).collect();
    // at threshold 0 every suggestion scores enough: what is left out is left out by rank
    let d = Feedback::default().decide_all(&suggestions, 0.0);
    v.iter().zip(d).filter(|(_, d)| d.maps()).map(|(x, _)| x.clone()).collect()
}

fn ranked_accuracy(alerts: &[&LabelledAlert], s: &[Scored]) -> Accuracy {
    let rankings: Vec<Vec<String>> = s.iter().map(|v| v.iter().map(|(t, _, _)| t.clone()).collect()).collect();
    accuracy(alerts, &rankings)
}

/// Auto-mapping at `threshold` under enrichment's policy: precision exact and parent, coverage
/// (share of items with at least one auto-mapping), mappings per item, mapped and correct.
#[derive(Debug, Clone, Copy, Default)]
struct Map {
    precision: f64,
    precision_parent: f64,
    coverage: f64,
    per_item: f64,
    mapped: usize,
    correct: usize,
}

fn map_at(alerts: &[&LabelledAlert], s: &[Scored], threshold: f64) -> Map {
    let e: Vec<Vec<(String, f64)>> = s.iter().map(|v| eligible(v).into_iter().map(|(t, x, _)| (t, x)).collect()).collect();
    let m = automap(alerts, &e, threshold);
    let n = alerts.len().max(1) as f64;
    let covered = e.iter().filter(|v| v.iter().any(|(_, x)| *x >= threshold)).count() as f64 / n;
    Map { precision: m.precision, precision_parent: m.precision_parent, coverage: covered, per_item: m.mapped as f64 / n, mapped: m.mapped, correct: m.correct }
}

/// (score, correct, item weight) of every suggestion.
/// (score, correct, item weight) of every suggestion auto-mapping may write (see [`eligible`]).
fn weighted_predictions(alerts: &[&LabelledAlert], s: &[Scored], weight: f64) -> Vec<(f64, bool, f64)> {
    alerts.iter().zip(s).flat_map(|(a, v)| eligible(v).into_iter().map(move |(t, x, _)| (x, a.expected.contains(&t), weight))).collect()
}

/// The fold engines, the figures (JSON) and the threshold chosen on the left-out scores.
type Loso = (Vec<Fold>, serde_json::Value, Option<f64>);

/// The results of one held-out source.
struct Fold {
    key: &'static str,
    engine: Engine,
    /// Scores of the held-out fit items (for the pooled threshold).
    fit_scores: Vec<Scored>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = data_dir().join("enterprise-attack-18.1.json.gz");
    let catalog = {
        let data = decode_source_bytes(std::fs::read(&path)?)?;
        let b = parse_bundle(&data, Domain::EnterpriseAttack)?;
        DomainCatalog::build(&b.objects, Domain::EnterpriseAttack, "18.1", "")
    };
    let labelled_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/suggest/labelled.jsonl");
    let labelled = parse_labelled(&std::fs::read_to_string(&labelled_path)?)?;
    let sources = load_sources(&catalog, &labelled)?;

    if std::env::args().any(|a| a == "--write-examples") {
        let p = profiles_without(&sources, &[]);
        let counts: Vec<String> = sources.iter().map(|s| format!("{} {}", s.key, s.examples.len())).collect();
        let header = format!(
            "Technique profiles learned from labelled examples ({}): see shared/suggest/src/examples.rs.\n\
             Sources: Atomic Red Team (Red Canary, MIT), TRAM (MITRE CTID, Apache-2.0), CAR (MITRE, Apache-2.0), the project's labelled alerts.\n\
             Written by: cargo run --release -p mitre-suggest --example bench -- --write-examples\n\
             technique<TAB>examples per source<TAB>terms (term or term:weight, best first)",
            counts.join(", ")
        );
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/suggest/examples.tsv.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, p.to_tsv(&header).as_bytes())?;
        std::fs::write(&out, gz.finish()?)?;
        println!("{} profiles written to {}", p.profiles.len(), out.display());
        return Ok(());
    }

    // build: memory of the first build (peak RSS reset first), time of the best of five
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (rss0, hwm0) = (rss_mb(), status_kb("VmHWM:") * 1024.0 / 1e6);
    let t = Instant::now();
    let engine = Engine::new(&catalog, DEFAULT_RULES)?;
    let first_build = t.elapsed().as_secs_f64();
    let (rss1, hwm1) = (rss_mb(), status_kb("VmHWM:") * 1024.0 / 1e6);
    let mut builds = vec![first_build];
    for _ in 0..4 {
        let t = Instant::now();
        let e = Engine::new(&catalog, DEFAULT_RULES)?;
        builds.push(t.elapsed().as_secs_f64());
        drop(e);
    }
    builds.sort_by(f64::total_cmp);
    let (techs, rules, entities, proc_docs, desc_docs, index_bytes) = engine.stats();
    println!(
        "ATT&CK {} : {techs} live techniques, {rules} rules, {entities} software/groups/campaigns, {proc_docs} procedure and detection documents, {desc_docs} technique documents, {} example profiles",
        engine.version(),
        mitre_suggest::examples::default_profiles().profiles.len()
    );
    for w in engine.warnings() {
        println!("  warning: {w}");
    }
    println!(
        "build: first {:.3} s, best of 5 {:.3} s, median {:.3} s; memory: RSS +{:.1} MB, peak RSS growth {:.1} MB (hwm {:.1} -> {:.1} MB; indexes ~{:.1} MB)",
        first_build,
        builds[0],
        builds[2],
        rss1 - rss0,
        (hwm1 - rss0).max(0.0),
        hwm0,
        hwm1,
        index_bytes as f64 / 1e6
    );

    let (folds, loso, chosen) = leave_one_source_out(&catalog, &sources)?;

    // latency: a 2 KB alert with 10 observables
    let mut text = String::new();
    for a in &labelled {
        if text.len() + a.text.len() + 1 > 2048 {
            continue;
        }
        text.push_str(&a.text);
        text.push('\n');
    }
    while text.len() < 2048 {
        text.push_str("additional context from the detection pipeline ");
    }
    text.truncate(2048);
    let kinds = ["command_line", "process", "parent_process", "file", "registry", "domain", "url", "ip", "user", "cloud_api"];
    let observables: Vec<Observable> =
        kinds.iter().filter_map(|k| labelled.iter().flat_map(|a| &a.observables).filter(|o| o.kind == *k).nth(3).cloned()).collect();
    let req = Request { text, observables, limit: 10 };
    req.validate()?;
    for _ in 0..50 {
        std::hint::black_box(engine.suggest(&req));
    }
    let mut times = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        std::hint::black_box(engine.suggest(&req));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let p50 = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!("\nlatency of suggest, {}-byte alert with {} observables, 1000 runs: p50 {:.3} ms, p99 {:.3} ms", req.text.len(), req.observables.len(), p50, p99);
    let mut all = Vec::new();
    for a in &labelled {
        let t = Instant::now();
        std::hint::black_box(engine.suggest(&a.request(5)));
        all.push(t.elapsed().as_secs_f64() * 1e3);
    }
    all.sort_by(f64::total_cmp);
    println!("latency over the labelled alerts: p50 {:.3} ms, p99 {:.3} ms", all[all.len() / 2], all[all.len() * 99 / 100]);

    // the largest request accepted: 64 KiB of text and 100 observables of about 1 KiB
    let mut big_text = String::new();
    'fill: loop {
        for a in &labelled {
            if big_text.len() + a.text.len() + 1 > mitre_suggest::MAX_TEXT_BYTES {
                break 'fill;
            }
            big_text.push_str(&a.text);
            big_text.push('\n');
        }
    }
    let big_obs: Vec<Observable> = labelled
        .iter()
        .flat_map(|a| &a.observables)
        .cycle()
        .take(mitre_suggest::MAX_OBSERVABLES)
        .map(|o| Observable { kind: o.kind.clone(), value: o.value.repeat(1024 / o.value.len().max(1)).chars().take(1024).collect() })
        .collect();
    let big = Request { text: big_text, observables: big_obs, limit: 20 };
    big.validate()?;
    let mut bt = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(engine.suggest(&big));
        bt.push(t.elapsed().as_secs_f64() * 1e3);
    }
    bt.sort_by(f64::total_cmp);
    println!(
        "latency of the largest request accepted ({} bytes of text, {} observables of ~1 KiB), 20 runs: median {:.1} ms, max {:.1} ms",
        big.text.len(),
        big.observables.len(),
        bt[10],
        bt[19]
    );

    let replay = review_replay(&folds, &sources);
    let mean = |k: &str| {
        let v: Vec<f64> = ["atomic_red_team_command_description", "tram", "car", "labelled_alerts"].iter().filter_map(|f| loso[*f][k].as_f64()).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    println!(
        "{}",
        serde_json::json!({
            "top1": mean("top1"), "top3": mean("top3"), "top1_parent": mean("top1_parent"), "top3_parent": mean("top3_parent"),
            "precision": mean("precision"), "coverage": mean("coverage"),
            "baseline_top1": mean("baseline_top1"), "baseline_top3": mean("baseline_top3"),
            "threshold": DEFAULT_THRESHOLD, "chosen_threshold": chosen, "p50_ms": p50, "p99_ms": p99, "build_s": builds[2], "build_peak_mb": (hwm1 - rss0).max(0.0),
            "leave_one_source_out": loso, "review_replay": replay,
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Leave one source out

/// The leave-one-source-out table (see the header). Returns the fold engines (with their
/// calibration), the figures per held-out form (JSON) and the threshold chosen on the
/// left-out scores.
fn leave_one_source_out(catalog: &DomainCatalog, sources: &[Source]) -> Result<Loso, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let keys: Vec<&str> = sources.iter().map(|s| s.key).collect();
    // engines with profiles learned without one or two sources
    let name = |a: &str, b: &str| if a < b { format!("{a}+{b}") } else { format!("{b}+{a}") };
    let mut engines: HashMap<String, Engine> = HashMap::new();
    for (i, a) in keys.iter().enumerate() {
        engines.insert(a.to_string(), Engine::with_profiles(catalog, DEFAULT_RULES, &profiles_without(sources, &[a]))?);
        for b in &keys[i + 1..] {
            engines.insert(name(a, b), Engine::with_profiles(catalog, DEFAULT_RULES, &profiles_without(sources, &[a, b]))?);
        }
    }
    // fit rows of source s under the profiles without s (and h)
    fn fit_rows<'a>(e: &Engine, s: &'a Source) -> Vec<(Rows, &'a LabelledAlert)> {
        s.fit_items.iter().map(|a| (rows(e, a), a)).collect()
    }

    println!(
        "\nleave one source out: each source in turn unseen; example profiles and calibration learned from the three others (training features from profiles that leave \
         their own source out too); limit {LIMIT}; ATT&CK IDs removed from the public texts; labels resolved to live techniques of ATT&CK {}",
        catalog.version
    );
    println!(
        "  auto-mapping at the shipped threshold {DEFAULT_THRESHOLD}: precision exact and parent level, coverage = share of items with at least one auto-mapping, mappings per item"
    );
    println!(
        "  {:<34} {:>6} | engine top1  top3 top1p top3p | auto-map prec prec-p cover  /item | no rules top3 prec cover | BM25 top1  top3 top1p top3p",
        "held-out source", "items"
    );
    let mut folds = Vec::new();
    let mut out = serde_json::Map::new();
    let mut pooled: Vec<(f64, bool, f64)> = Vec::new();
    let mut pooled_detection: Vec<(f64, bool, f64)> = Vec::new();
    for h in sources {
        let train: Vec<(Rows, &LabelledAlert)> = sources.iter().filter(|s| s.key != h.key).flat_map(|s| fit_rows(&engines[&name(s.key, h.key)], s)).collect();
        let calibration = fit(&train);
        let no_rules_train: Vec<(Rows, &LabelledAlert)> = train.iter().map(|(r, a)| (without_rules(r), *a)).collect();
        let calibration_nr = fit(&no_rules_train);
        let engine = Engine::with_profiles(catalog, DEFAULT_RULES, &profiles_without(sources, &[h.key]))?.with_calibration(calibration);
        for (key, label, items) in &h.forms {
            let alerts: Vec<&LabelledAlert> = items.iter().collect();
            let r: Vec<Rows> = alerts.iter().map(|a| rows(&engine, a)).collect();
            let s: Vec<Scored> = r.iter().map(|x| score(&calibration, x)).collect();
            let acc = ranked_accuracy(&alerts, &s);
            let m = map_at(&alerts, &s, DEFAULT_THRESHOLD);
            let snr: Vec<Scored> = r.iter().map(|x| score(&calibration_nr, &without_rules(x))).collect();
            let (acc_nr, m_nr) = (ranked_accuracy(&alerts, &snr), map_at(&alerts, &snr, DEFAULT_THRESHOLD));
            let base: Vec<Vec<String>> =
                alerts.iter().map(|a| engine.baseline_ranking(&a.request(LIMIT as i64), LIMIT).into_iter().map(|(t, _)| t).collect()).collect();
            let b = accuracy(&alerts, &base);
            println!(
                "  {label:<34} {:>6} |       {:.3} {:.3} {:.3} {:.3} |          {:.3}  {:.3} {:.3} {:>6.2} |         {:.3} {:.3} {:.3} |     {:.3} {:.3} {:.3} {:.3}",
                alerts.len(),
                acc.top1,
                acc.top3,
                acc.top1_parent,
                acc.top3_parent,
                m.precision,
                m.precision_parent,
                m.coverage,
                m.per_item,
                acc_nr.top3,
                m_nr.precision,
                m_nr.coverage,
                b.top1,
                b.top3,
                b.top1_parent,
                b.top3_parent
            );
            out.insert(
                key.to_string(),
                serde_json::json!({
                    "items": alerts.len(), "top1": acc.top1, "top3": acc.top3, "top1_parent": acc.top1_parent, "top3_parent": acc.top3_parent,
                    "precision": m.precision, "precision_parent": m.precision_parent, "coverage": m.coverage, "mappings_per_item": m.per_item,
                    "mapped": m.mapped, "correct": m.correct,
                    "no_rules": {"top3": acc_nr.top3, "precision": m_nr.precision, "coverage": m_nr.coverage},
                    "baseline_top1": b.top1, "baseline_top3": b.top3, "baseline_top1_parent": b.top1_parent, "baseline_top3_parent": b.top3_parent,
                }),
            );
        }
        // the held-out fit items, for the threshold: each source weighs the same
        let fit_scores: Vec<Scored> = h.fit_items.iter().map(|a| score(&calibration, &rows(&engine, a))).collect();
        let fa: Vec<&LabelledAlert> = h.fit_items.iter().collect();
        let p = weighted_predictions(&fa, &fit_scores, 1.0 / fa.len().max(1) as f64);
        if DETECTION_SOURCES.contains(&h.key) {
            pooled_detection.extend(p.iter().copied());
        }
        pooled.extend(p);
        folds.push(Fold { key: h.key, engine, fit_scores });
    }
    let chosen = lowest_threshold_weighted(&pooled_detection, TARGET_PRECISION, MIN_SUPPORT);
    let at = |th: f64| {
        let (mut right, mut all) = (0.0, 0.0);
        for (s, ok, w) in &pooled {
            if *s >= th {
                all += w;
                right += if *ok { *w } else { 0.0 };
            }
        }
        if all == 0.0 { 1.0 } else { right / all }
    };
    match chosen {
        Some(th) => println!(
            "  threshold chosen on the left-out scores of the detection content ({}, each weighed equally): {th:.3}, the lowest score from which their pooled precision stays >= {TARGET_PRECISION}",
            DETECTION_SOURCES.join(", ")
        ),
        None => println!("  no threshold keeps the pooled left-out precision of {} >= {TARGET_PRECISION}", DETECTION_SOURCES.join(", ")),
    }
    println!("  in the code, DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}: pooled left-out precision of the four sources {:.3}", at(DEFAULT_THRESHOLD));
    println!("  reliability of the left-out scores (fit items of every source, each source weighed equally): score band, suggestions, share correct");
    for (lo, hi) in [(0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)] {
        let m: Vec<&(f64, bool, f64)> = pooled.iter().filter(|x| x.0 >= lo && x.0 < hi).collect();
        let w: f64 = m.iter().map(|x| x.2).sum();
        let right: f64 = m.iter().filter(|x| x.1).map(|x| x.2).sum();
        println!("    [{lo:.2}, {:.2})  {:>6}  {:.3}", hi.min(1.0), m.len(), right / w.max(1e-12));
    }
    // auto-mapping precision and coverage of each left-out source by threshold (fit items)
    let held: Vec<(&str, &[LabelledAlert])> = folds.iter().map(|f| (f.key, &sources.iter().find(|s| s.key == f.key).expect("source").fit_items[..])).collect();
    println!(
        "  by threshold, each left-out source (precision / coverage of its fit items) and pooled precision: {}",
        held.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
    );
    let mut scan = Vec::new();
    for th in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
        let mut line = format!("    {th:.2}");
        let mut per = serde_json::Map::new();
        for (f, (k, items)) in folds.iter().zip(&held) {
            let fa: Vec<&LabelledAlert> = items.iter().collect();
            let m = map_at(&fa, &f.fit_scores, th);
            line.push_str(&format!("  {:.3}/{:.3}", m.precision, m.coverage));
            per.insert(k.to_string(), serde_json::json!({"precision": m.precision, "coverage": m.coverage}));
        }
        println!("{line}  pooled {:.3}", at(th));
        scan.push(serde_json::json!({"threshold": th, "pooled_precision": at(th), "sources": per}));
    }
    // per source at the shipped threshold, from the fit items
    for (f, (_, items)) in folds.iter().zip(&held) {
        let fa: Vec<&LabelledAlert> = items.iter().collect();
        let m = map_at(&fa, &f.fit_scores, DEFAULT_THRESHOLD);
        println!("    {:<8} at {DEFAULT_THRESHOLD}: precision {:.3} (parent {:.3}), coverage {:.3}", f.key, m.precision, m.precision_parent, m.coverage);
    }

    // the shipped calibration: all four sources, each with features from profiles without it
    let all: Vec<(Rows, &LabelledAlert)> = sources.iter().flat_map(|s| fit_rows(&engines[s.key], s)).collect();
    let c = fit(&all);
    println!("\ncalibration fitted on all four sources (L2 {L2}, non-negative weights, {} items):", all.len());
    println!("  bias {:.4}", c.bias);
    for (n, w) in FEATURE_NAMES.iter().zip(c.weights) {
        println!("  {n:<16} {w:.4}");
    }
    let code = DEFAULT_CALIBRATION;
    let same = (code.bias - c.bias).abs() < 5e-4 && code.weights.iter().zip(c.weights).all(|(a, b)| (a - b).abs() < 5e-4);
    println!("  constants in the code: {}", if same { "the same" } else { "DIFFERENT: update DEFAULT_CALIBRATION" });
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    out.insert("threshold".into(), DEFAULT_THRESHOLD.into());
    out.insert("chosen_threshold".into(), chosen.into());
    out.insert("pooled_precision".into(), at(DEFAULT_THRESHOLD).into());
    out.insert("by_threshold".into(), scan.into());
    Ok((folds, serde_json::Value::Object(out), chosen))
}

/// An ATT&CK technique ID as the public sets write it: T1059, T1059.001, the T1059/001 of
/// attack.mitre.org links, the attack.t1059 of rule tags.
static ATTACK_ID: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"(?i-u)\bT\d{4}(?:[./]\d{3})?\b").expect("ATT&CK ID pattern"));

/// The alert without the ATT&CK IDs of its text and observable values (they name the answer).
fn strip_attack_ids(mut a: LabelledAlert) -> LabelledAlert {
    for v in std::iter::once(&mut a.text).chain(a.observables.iter_mut().map(|o| &mut o.value)) {
        if ATTACK_ID.is_match(v) {
            *v = ATTACK_ID.replace_all(v, "").into_owned();
        }
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Review replay

/// One alert of a review replay: which half it is in, the shipped engine's suggestions, and
/// the techniques expected.
struct Replayed {
    odd: bool,
    suggestions: Vec<Suggestion>,
    expected: Vec<String>,
}

/// The auto-mappings of one enrichment pass.
#[derive(Debug, Default, Clone, Copy)]
struct Pass {
    written: usize,
    correct: usize,
}

impl Pass {
    fn wrong(&self) -> usize {
        self.written - self.correct
    }

    fn precision(&self) -> f64 {
        if self.written == 0 { 1.0 } else { self.correct as f64 / self.written as f64 }
    }

    fn add(&mut self, o: &Pass) {
        self.written += o.written;
        self.correct += o.correct;
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({"written": self.written, "correct": self.correct, "false": self.wrong(), "precision": self.precision()})
    }
}

/// One direction of a replay: one half reviewed, the other enriched without and with the
/// feedback of that review.
#[derive(Debug, Default, Clone, Copy)]
struct Replay {
    reviewed: usize,
    enriched: usize,
    confirmed: usize,
    rejected: usize,
    without: Pass,
    with: Pass,
    /// Auto-mappings made without the feedback and not with it (their pair was rejected more
    /// often than confirmed); `correct` of them are lost.
    suppressed: Pass,
    /// Auto-mappings made only with it (a trusted pair scoring below the threshold); `correct`
    /// of them are gained.
    trusted: Pass,
}

impl Replay {
    fn add(&mut self, o: &Replay) {
        self.reviewed += o.reviewed;
        self.enriched += o.enriched;
        self.confirmed += o.confirmed;
        self.rejected += o.rejected;
        self.without.add(&o.without);
        self.with.add(&o.with);
        self.suppressed.add(&o.suppressed);
        self.trusted.add(&o.trusted);
    }

    /// False auto-mappings fewer with the feedback than without: count and share.
    fn fall(&self) -> (i64, f64) {
        let fall = self.without.wrong() as i64 - self.with.wrong() as i64;
        (fall, fall as f64 / self.without.wrong().max(1) as f64)
    }

    fn print(&self, label: &str) {
        let (fall, share) = self.fall();
        println!(
            "    {label}: {} alerts reviewed ({} auto-mappings confirmed, {} rejected), {} enriched",
            self.reviewed, self.confirmed, self.rejected, self.enriched
        );
        println!("                          written  correct  false  precision");
        for (name, p) in [("without feedback", &self.without), ("with feedback", &self.with)] {
            println!("      {name:<18} {:>7}  {:>7}  {:>5}  {:>9.3}", p.written, p.correct, p.wrong(), p.precision());
        }
        println!(
            "      false auto-mappings fall by {fall} ({:.1}%), correct ones lost: {} (suppressed {}: {} false, {} correct; trusted below the threshold {}: {} false, {} correct)",
            100.0 * share,
            self.suppressed.correct,
            self.suppressed.written,
            self.suppressed.wrong(),
            self.suppressed.correct,
            self.trusted.written,
            self.trusted.wrong(),
            self.trusted.correct
        );
    }

    fn json(&self) -> serde_json::Value {
        let (fall, share) = self.fall();
        serde_json::json!({
            "reviewed": self.reviewed, "enriched": self.enriched, "confirmed": self.confirmed, "rejected": self.rejected,
            "without": self.without.json(), "with": self.with.json(), "false_fall": fall, "false_fall_share": share,
            "correct_lost": self.suppressed.correct, "suppressed": self.suppressed.written,
            "trusted": self.trusted.written, "trusted_correct": self.trusted.correct,
        })
    }
}

/// The reviewing analyst: every auto-mapping of `reviewed` (score >= threshold) is confirmed
/// when its technique is expected, rejected otherwise, into one tenant's feedback.
fn review(reviewed: &[&Replayed], threshold: f64) -> (Feedback, usize, usize) {
    let mut f = Feedback::default();
    let (mut confirmed, mut rejected) = (0, 0);
    let none = Feedback::default();
    for a in reviewed {
        let decisions = none.decide_all(&a.suggestions, threshold);
        for (s, _) in a.suggestions.iter().zip(decisions).filter(|(_, d)| d.maps()) {
            let right = a.expected.contains(&s.technique);
            f.record(&s.technique, &signature(&s.evidence), right);
            *(if right { &mut confirmed } else { &mut rejected }) += 1;
        }
    }
    (f, confirmed, rejected)
}

fn replay_direction(reviewed: &[&Replayed], enriched: &[&Replayed], threshold: f64) -> Replay {
    let (feedback, confirmed, rejected) = review(reviewed, threshold);
    let none = Feedback::default();
    let mut r = Replay { reviewed: reviewed.len(), enriched: enriched.len(), confirmed, rejected, ..Replay::default() };
    for a in enriched {
        let (before, after) = (none.decide_all(&a.suggestions, threshold), feedback.decide_all(&a.suggestions, threshold));
        for ((s, before), after) in a.suggestions.iter().zip(before).zip(after) {
            let right = a.expected.contains(&s.technique) as usize;
            let (before, after) = (before.maps(), after.maps());
            for (p, maps) in [(&mut r.without, before), (&mut r.with, after), (&mut r.suppressed, before && !after), (&mut r.trusted, after && !before)] {
                if maps {
                    p.written += 1;
                    p.correct += right;
                }
            }
        }
    }
    r
}

/// Both directions of a replay (odd half reviewed, even enriched, and the reverse) and their sum.
fn replay(label: &str, alerts: &[Replayed], threshold: f64) -> serde_json::Value {
    println!("  {label}");
    let half = |odd: bool| alerts.iter().filter(|a| a.odd == odd).collect::<Vec<_>>();
    let (odd, even) = (half(true), half(false));
    let a = replay_direction(&odd, &even, threshold);
    let b = replay_direction(&even, &odd, threshold);
    a.print("odd reviewed, even enriched");
    b.print("even reviewed, odd enriched");
    let mut both = a;
    both.add(&b);
    both.print("both directions, summed");
    serde_json::json!({"odd_to_even": a.json(), "even_to_odd": b.json(), "both": both.json()})
}

/// The live technique of a label: itself, or its replacement when revoked; None when it is
/// deprecated or not in the catalog.
fn live_technique(catalog: &DomainCatalog, id: &str) -> Option<String> {
    let mut t = catalog.technique_by_attack_id(id.trim())?;
    for _ in 0..8 {
        if !t.revoked {
            return (!t.deprecated).then(|| t.attack_id.clone());
        }
        let next = catalog.relationships_from(&t.stix_id, Some("revoked-by")).next()?;
        t = catalog.technique_by_stix_id(&next.target_ref)?;
    }
    None
}

/// Public labelled records as labelled alerts: each the request `request` makes of it (left
/// out when it has none or it is invalid) and its `labels`, resolved to live techniques (left
/// out when none is); the id is "P" and the line number, so halves by id parity are halves by
/// line parity.
fn public_alerts<L: AsRef<str>>(
    catalog: &DomainCatalog,
    records: &[serde_json::Value],
    labels: impl Fn(&serde_json::Value) -> Vec<L>,
    request: impl Fn(&serde_json::Value) -> Option<Request>,
) -> Vec<LabelledAlert> {
    records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let mut expected: Vec<String> = labels(r).into_iter().filter_map(|l| live_technique(catalog, l.as_ref())).collect();
            expected.sort();
            expected.dedup();
            if expected.is_empty() {
                return None;
            }
            let req = request(r).filter(|q| q.validate().is_ok())?;
            Some(LabelledAlert { id: format!("P{i}"), platform: String::new(), text: req.text, observables: req.observables, expected })
        })
        .map(strip_attack_ids)
        .collect()
}

/// The `technique` label of a public record.
fn technique_label(r: &serde_json::Value) -> Vec<String> {
    r["technique"].as_str().into_iter().map(str::to_string).collect()
}

/// The request of an Atomic Red Team test: its command line, as a process-creation alert
/// carries it, and with `description` the test's description as the alert's text.
fn art_request(r: &serde_json::Value, description: bool) -> Option<Request> {
    let text = if description { r["description"].as_str()?.to_string() } else { String::new() };
    Some(Request { text, observables: vec![Observable::new("command_line", r["command"].as_str()?)], limit: LIMIT as i64 })
}

/// The request of a TRAM sentence: the sentence as the alert's text.
fn tram_request(r: &serde_json::Value) -> Option<Request> {
    Some(Request { text: r["text"].as_str()?.to_string(), observables: Vec::new(), limit: LIMIT as i64 })
}

/// The request of a CAR analytic: its text (title, description, pseudocode and the queries
/// not in a reserved language), cut to the largest text a request may carry.
fn car_request(r: &serde_json::Value) -> Option<Request> {
    let mut text = car_text(r);
    let mut end = text.len().min(mitre_suggest::MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    Some(Request { text, observables: Vec::new(), limit: LIMIT as i64 })
}

/// The suggestions for labelled alerts (limit 20), halves by id parity.
fn replayed(engine: &Engine, alerts: &[LabelledAlert]) -> Vec<Replayed> {
    alerts.iter().map(|a| Replayed { odd: a.number() % 2 == 1, suggestions: engine.suggest(&a.request(LIMIT as i64)), expected: a.expected.clone() }).collect()
}

/// The review replay: how much auto-mapping learns from one tenant's review (see the
/// `feedback` module of the crate). Each labelled set is split in two halves; an analyst
/// reviews every auto-mapping of one half (score >= the shipped threshold), confirming it when
/// its technique is one of the expected ones (the exact ID: a parent or a sibling of an
/// expected sub-technique is rejected, as the bench's precision counts it wrong) and rejecting
/// it otherwise, all into one tenant's feedback; the other half is then enriched without and
/// with that feedback. Each set is scored by its leave-one-source-out engine (profiles and
/// calibration learned without it), limit 20.
fn review_replay(folds: &[Fold], sources: &[Source]) -> serde_json::Value {
    let threshold = DEFAULT_THRESHOLD;
    let t = Instant::now();
    println!(
        "\nreview replay: an analyst confirms the right (exact technique) and rejects the wrong auto-mappings (score >= {threshold}) of one half of a labelled set; \
         the other half is enriched without and with that tenant's feedback (rejected pairs suppressed, trusted pairs mapped from {:.4}); each set scored by the engine \
         that never saw it",
        threshold * TRUSTED_FACTOR
    );
    let mut out = serde_json::Map::new();
    out.insert("threshold".into(), threshold.into());
    out.insert("trusted_from".into(), (threshold * TRUSTED_FACTOR).into());
    for (json, key, form, what) in [
        ("labelled", "alerts", 0, "the project's labelled alerts (halves by id parity)"),
        ("atomic_red_team", "art", 0, "Atomic Red Team tests, the command line as the alert (halves by line parity)"),
        ("tram", "tram", 0, "TRAM threat-report sentences as the alert text (halves by line parity)"),
    ] {
        let (Some(f), Some(s)) = (folds.iter().find(|f| f.key == key), sources.iter().find(|s| s.key == key)) else { continue };
        let items = &s.forms[form].2;
        let r = replayed(&f.engine, items);
        out.insert(json.into(), replay(&format!("{what}, {} items:", r.len()), &r, threshold));
    }
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    serde_json::Value::Object(out)
}
