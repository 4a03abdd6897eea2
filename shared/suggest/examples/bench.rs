//! Quality, speed and memory of technique suggestions, against a plain BM25 ranking of
//! technique names and descriptions (the baseline).
//!
//! Run: `cargo run --release -p mitre-suggest --example bench` (or bench/suggest.sh).
//! Reads enterprise ATT&CK 18.1 from $ATTACK_DATA_DIR (default ../shared/attack-data next to
//! the repository) and tests/data/suggest/labelled.jsonl.
//!
//! Calibration: a logistic model over the signal strengths (see the crate's `calibration`
//! module), fitted by maximum likelihood with an L2 penalty of 1.0 and non-negative weights.
//! The threshold is the lowest score from which auto-mapping precision stays >= 0.9 (at least
//! 20 predictions). Figures are given three ways:
//!   shipped    the constants in the code, on the whole set (in-sample: optimistic);
//!   2-fold     fitted and thresholded on the odd ids, measured on the even ids, and the
//!              reverse; "pooled" adds both held-out halves up;
//!   LOO        leave-one-out: each alert is scored by a model fitted (and a threshold chosen)
//!              on the 287 others.
//! The default threshold is chosen on the pooled leave-one-out predictions.
//!
//! Review replay (`review_replay` in the JSON line): an analyst confirms the right and rejects
//! the wrong auto-mappings of one half of a labelled set into one tenant's feedback (the
//! crate's `feedback` module), then the other half is enriched without and with it: how many
//! false auto-mappings fall and how many correct ones are lost. On the labelled alerts (halves
//! by id parity), and on two public labelled sets read from $LABELLED_DATA_DIR (default
//! ../shared/labelled-data next to the repository): the command lines of Atomic Red Team tests
//! and the sentences of TRAM (halves by line parity); a set that is missing is skipped.
//!
//! Unseen sources (`unseen_sources` in the JSON line): the public labelled sets of
//! $LABELLED_DATA_DIR, not used to fit the calibration or choose the threshold (a few rule
//! examples and labelled alerts share generic command lines with Atomic Red Team), each item
//! sent as one alert with the shipped constants: Atomic Red Team tests (the command line as a
//! command_line observable; a second row adds the test's description as the text, which often
//! names the technique), TRAM sentences (the text) and CAR analytics (title, description,
//! pseudocode and the code of the implementations as the text, but code in the query languages
//! of the reserved Sigma, Elastic and Splunk rule sets; a hit is any of its techniques and
//! sub-techniques). ATT&CK IDs are removed from every text first (they name the answer); labels
//! are resolved through the catalog (revoked-by), and an item none of whose labels is in it is
//! left out. Per set: top-1 and top-3 accuracy (exact and parent level) of the engine and of
//! the BM25 baseline, and the auto-mappings at DEFAULT_THRESHOLD: precision (exact and parent
//! level), coverage (the share of items with at least one) and mappings written per item.
use std::path::PathBuf;
use std::time::Instant;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_suggest::calibration::{FEATURE_NAMES, fit_logistic, lowest_threshold};
use mitre_suggest::eval::{Accuracy, AutoMap, LabelledAlert, accuracy, automap, parse_labelled, predictions};
use mitre_suggest::feedback::{Feedback, TRUSTED_FACTOR, signature};
use mitre_suggest::{Calibration, DEFAULT_CALIBRATION, DEFAULT_RULES, DEFAULT_THRESHOLD, Engine, Features, Observable, Request, Suggestion};

const L2: f64 = 1.0;
const TARGET_PRECISION: f64 = 0.9;
const MIN_SUPPORT: usize = 20;
const LIMIT: usize = 20;

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

/// A model over a fixed list of features: the engine's seven, or the baseline's two.
#[derive(Clone, Copy)]
enum Model {
    Engine(Calibration),
    Baseline { bias: f64, w: [f64; 2] },
}

/// One alert's candidates: features (engine: the seven; baseline: relative and absolute
/// BM25), explicit-ID confidence, ATT&CK ID.
struct Cands {
    rows: Vec<(String, Vec<f64>, f64)>,
}

impl Model {
    fn score(&self, x: &[f64], id: f64) -> f64 {
        match self {
            Model::Engine(c) => c.score(&feat(x), id),
            Model::Baseline { bias, w } => 1.0 / (1.0 + (-(bias + w[0] * x[0] + w[1] * x[1])).exp()),
        }
    }
}

fn feat(x: &[f64]) -> Features {
    Features::from_array(x.try_into().expect("seven features"))
}

fn fit(data: &[&Cands], alerts: &[&LabelledAlert], engine: bool) -> Model {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for (c, a) in data.iter().zip(alerts) {
        for (t, x, _) in &c.rows {
            xs.push(x.clone());
            ys.push(a.expected.contains(t));
        }
    }
    if engine {
        let examples: Vec<(Features, bool)> = xs.iter().zip(&ys).map(|(x, y)| (feat(x), *y)).collect();
        Model::Engine(Calibration::fit(&examples, L2))
    } else {
        let (bias, w) = fit_logistic(&xs, &ys, L2);
        Model::Baseline { bias, w: [w[0], w[1]] }
    }
}

/// Ranked (ID, score) per alert under a model, at most LIMIT.
fn scored(model: &Model, data: &[&Cands]) -> Vec<Vec<(String, f64)>> {
    data.iter()
        .map(|c| {
            let mut v: Vec<(String, f64)> = c.rows.iter().map(|(t, x, id)| (t.clone(), model.score(x, *id))).collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(LIMIT);
            v
        })
        .collect()
}

/// The baseline's candidates of an alert: the plain BM25 ranking of technique names and
/// descriptions, with its two features (relative and absolute BM25).
fn baseline_cands(engine: &Engine, a: &LabelledAlert) -> Cands {
    let r = engine.baseline_ranking(&a.request(LIMIT as i64), LIMIT);
    let top = r.first().map_or(1.0, |x| x.1);
    Cands { rows: r.into_iter().map(|(t, s)| (t, vec![s / top, s / (s + 12.0)], 0.0)).collect() }
}

fn threshold_for(model: &Model, data: &[&Cands], alerts: &[&LabelledAlert]) -> f64 {
    let s = scored(model, data);
    lowest_threshold(&predictions(alerts, &s), TARGET_PRECISION, MIN_SUPPORT).unwrap_or(1.0)
}

struct Figures {
    acc: Accuracy,
    map: AutoMap,
}

/// The top-k accuracy of scored suggestions (ranked, best first).
fn ranked_accuracy(alerts: &[&LabelledAlert], s: &[Vec<(String, f64)>]) -> Accuracy {
    let rankings: Vec<Vec<String>> = s.iter().map(|v| v.iter().map(|(t, _)| t.clone()).collect()).collect();
    accuracy(alerts, &rankings)
}

fn measure(alerts: &[&LabelledAlert], s: &[Vec<(String, f64)>], thresholds: &[f64]) -> Figures {
    let acc = ranked_accuracy(alerts, s);
    // per-alert thresholds (leave-one-out): map each alert with its own fold's threshold
    let mapped: Vec<Vec<(String, f64)>> =
        s.iter().zip(thresholds).map(|(v, &th)| v.iter().filter(|(_, x)| *x >= th).map(|(t, x)| (t.clone(), *x)).collect()).collect();
    let mut map = automap(alerts, &mapped, 0.0);
    map.threshold = thresholds.iter().sum::<f64>() / thresholds.len().max(1) as f64;
    Figures { acc, map }
}

fn row(label: &str, f: &Figures) {
    println!(
        "  {:<34} top1 {:.3}  top3 {:.3}  top1p {:.3}  top3p {:.3}  recall@3 {:.3} | thr {:.3}  precision {:.3} (parent {:.3})  coverage {:.3}  ({} of {} mapped correct; {} expected)",
        label,
        f.acc.top1,
        f.acc.top3,
        f.acc.top1_parent,
        f.acc.top3_parent,
        f.acc.recall3,
        f.map.threshold,
        f.map.precision,
        f.map.precision_parent,
        f.map.coverage,
        f.map.correct,
        f.map.mapped,
        f.map.expected
    );
}

/// Two-fold (odd/even ids) and leave-one-out figures of one family of models.
fn honest(label: &str, alerts: &[&LabelledAlert], data: &[&Cands], engine: bool) -> (Figures, Vec<(f64, bool)>) {
    let n = alerts.len();
    // two folds
    let mut pooled_scores: Vec<Vec<(String, f64)>> = vec![Vec::new(); n];
    let mut pooled_thr = vec![0.0; n];
    for (name, train_odd) in [("odd -> even", true), ("even -> odd", false)] {
        let (tr, te): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| (alerts[i].number() % 2 == 1) == train_odd);
        let tra: Vec<&LabelledAlert> = tr.iter().map(|&i| alerts[i]).collect();
        let trd: Vec<&Cands> = tr.iter().map(|&i| data[i]).collect();
        let tea: Vec<&LabelledAlert> = te.iter().map(|&i| alerts[i]).collect();
        let ted: Vec<&Cands> = te.iter().map(|&i| data[i]).collect();
        let model = fit(&trd, &tra, engine);
        let th = threshold_for(&model, &trd, &tra);
        let s = scored(&model, &ted);
        row(&format!("{label} 2-fold {name}"), &measure(&tea, &s, &vec![th; te.len()]));
        for (k, &i) in te.iter().enumerate() {
            pooled_scores[i] = s[k].clone();
            pooled_thr[i] = th;
        }
    }
    row(&format!("{label} 2-fold pooled"), &measure(alerts, &pooled_scores, &pooled_thr));
    // leave one out
    let mut loo_scores = Vec::with_capacity(n);
    let mut loo_thr = Vec::with_capacity(n);
    for i in 0..n {
        let tra: Vec<&LabelledAlert> = (0..n).filter(|&j| j != i).map(|j| alerts[j]).collect();
        let trd: Vec<&Cands> = (0..n).filter(|&j| j != i).map(|j| data[j]).collect();
        let model = fit(&trd, &tra, engine);
        loo_thr.push(threshold_for(&model, &trd, &tra));
        loo_scores.push(scored(&model, &[data[i]]).remove(0));
    }
    let f = measure(alerts, &loo_scores, &loo_thr);
    row(&format!("{label} leave-one-out"), &f);
    (f, predictions(alerts, &loo_scores))
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
        "ATT&CK {} : {techs} live techniques, {rules} rules, {entities} software/groups/campaigns, {proc_docs} procedure and detection documents, {desc_docs} technique documents",
        engine.version()
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

    // features of every alert, engine and baseline
    let alerts: Vec<&LabelledAlert> = labelled.iter().collect();
    let t = Instant::now();
    let engine_data: Vec<Cands> = alerts
        .iter()
        .map(|a| Cands {
            rows: engine.candidates(&a.request(20)).into_iter().map(|c| (c.technique.clone(), c.features.to_array().to_vec(), c.id_confidence)).collect(),
        })
        .collect();
    let no_rules: Vec<Cands> = engine_data
        .iter()
        .map(|c| Cands {
            rows: c
                .rows
                .iter()
                .filter(|(_, x, id)| x[1..].iter().any(|v| *v > 0.0) || *id > 0.0)
                .map(|(t, x, id)| (t.clone(), [&[0.0][..], &x[1..]].concat(), *id))
                .collect(),
        })
        .collect();
    let baseline_data: Vec<Cands> = alerts.iter().map(|a| baseline_cands(&engine, a)).collect();
    println!("features of {} alerts: {:.2} s", alerts.len(), t.elapsed().as_secs_f64());
    let ed: Vec<&Cands> = engine_data.iter().collect();
    let nd: Vec<&Cands> = no_rules.iter().collect();
    let bd: Vec<&Cands> = baseline_data.iter().collect();

    // the full fit: what the code ships
    let full = fit(&ed, &alerts, true);
    if let Model::Engine(c) = full {
        println!("\ncalibration fitted on all {} alerts (L2 {L2}, non-negative weights):", alerts.len());
        println!("  bias {:.4}", c.bias);
        for (n, w) in FEATURE_NAMES.iter().zip(c.weights) {
            println!("  {n:<16} {w:.4}");
        }
        println!("  in-sample threshold for precision >= {TARGET_PRECISION}: {:.3}", threshold_for(&full, &ed, &alerts));
        let code = DEFAULT_CALIBRATION;
        let same = (code.bias - c.bias).abs() < 5e-4 && code.weights.iter().zip(c.weights).all(|(a, b)| (a - b).abs() < 5e-4);
        println!("  constants in the code: {}", if same { "the same" } else { "DIFFERENT: update DEFAULT_CALIBRATION" });
    }
    let full_base = fit(&bd, &alerts, false);
    if let Model::Engine(c) = fit(&nd, &alerts, true) {
        println!("  without the rule table: bias {:.4}, weights {:?}", c.bias, c.weights.map(|w| (w * 1e4).round() / 1e4));
    }

    println!(
        "\nfigures (top-k over the {} alerts that expect a technique; auto-mapping over all {}, limit {LIMIT}):",
        alerts.iter().filter(|a| !a.expected.is_empty()).count(),
        alerts.len()
    );
    let shipped = Model::Engine(DEFAULT_CALIBRATION);
    row("engine shipped (in-sample)", &measure(&alerts, &scored(&shipped, &ed), &vec![DEFAULT_THRESHOLD; alerts.len()]));
    let (loo, loo_pred) = honest("engine", &alerts, &ed, true);
    let chosen = lowest_threshold(&loo_pred, TARGET_PRECISION, MIN_SUPPORT);
    let base_th = threshold_for(&full_base, &bd, &alerts);
    row("baseline BM25 (in-sample)", &measure(&alerts, &scored(&full_base, &bd), &vec![base_th; alerts.len()]));
    let (base_loo, base_pred) = honest("baseline", &alerts, &bd, false);
    println!("ablation, the engine without the rule table:");
    let (_, _) = honest("no rules", &alerts, &nd, true);

    let expected_total: usize = alerts.iter().map(|a| a.expected.len()).sum();
    let band = |p: &[(f64, bool)], lo: f64, hi: f64| {
        let m: Vec<&(f64, bool)> = p.iter().filter(|x| x.0 >= lo && x.0 < hi).collect();
        let correct = m.iter().filter(|x| x.1).count();
        (correct as f64 / m.len().max(1) as f64, correct as f64 / expected_total.max(1) as f64, m.len())
    };
    match chosen {
        Some(th) => {
            let (p, c, n) = band(&loo_pred, th, f64::INFINITY);
            println!(
                "\ndefault threshold: {th:.3} = the lowest score from which the leave-one-out precision stays >= {TARGET_PRECISION}: precision {p:.3}, coverage {c:.3} ({n} mappings)"
            );
        }
        None => println!("\nno threshold reaches a leave-one-out precision of {TARGET_PRECISION}"),
    }
    let (p, c, n) = band(&loo_pred, DEFAULT_THRESHOLD, f64::INFINITY);
    println!("  in the code, DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}: leave-one-out precision {p:.3}, coverage {c:.3} ({n} mappings)");
    let (p, _, n) = band(&loo_pred, DEFAULT_THRESHOLD, 0.5);
    println!("    of which scoring below 0.5: {n} mappings, precision {p:.3}");
    let (p, c, n) = band(&loo_pred, 0.5, f64::INFINITY);
    println!("  at 0.5: leave-one-out precision {p:.3}, coverage {c:.3} ({n} mappings)");
    println!("  reliability of the leave-one-out scores (suggestions in the top {LIMIT}): score band, count, mean score, share correct");
    for (lo, hi) in [(0.0, 0.05), (0.05, 0.1), (0.1, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)] {
        let m: Vec<&(f64, bool)> = loo_pred.iter().filter(|x| x.0 >= lo && x.0 < hi).collect();
        let mean = m.iter().map(|x| x.0).sum::<f64>() / m.len().max(1) as f64;
        let share = m.iter().filter(|x| x.1).count() as f64 / m.len().max(1) as f64;
        println!("    [{lo:.2}, {:.2})  {:>5}  {mean:.3}  {share:.3}", hi.min(1.0), m.len());
    }
    let base_chosen = lowest_threshold(&base_pred, TARGET_PRECISION, MIN_SUPPORT);
    println!(
        "baseline: {}",
        base_chosen.map_or(format!("no threshold reaches a leave-one-out precision of {TARGET_PRECISION}"), |t| format!("threshold {t:.3}"))
    );
    println!("top-3 exact, leave-one-out: engine {:.3}, baseline {:.3}, difference {:+.3}", loo.acc.top3, base_loo.acc.top3, loo.acc.top3 - base_loo.acc.top3);

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

    let replay = review_replay(&engine, &catalog, &labelled);
    let unseen = unseen_sources(&engine, &catalog, &full_base);

    println!(
        "{}",
        serde_json::json!({
            "top1": loo.acc.top1, "top3": loo.acc.top3, "top1_parent": loo.acc.top1_parent, "top3_parent": loo.acc.top3_parent,
            "precision": loo.map.precision, "coverage": loo.map.coverage,
            "baseline_top1": base_loo.acc.top1, "baseline_top3": base_loo.acc.top3,
            "threshold": chosen, "p50_ms": p50, "p99_ms": p99, "build_s": builds[2], "build_peak_mb": (hwm1 - rss0).max(0.0),
            "review_replay": replay, "unseen_sources": unseen,
        })
    );
    Ok(())
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
    for a in reviewed {
        for s in a.suggestions.iter().filter(|s| s.score >= threshold) {
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
        for s in &a.suggestions {
            let right = a.expected.contains(&s.technique) as usize;
            let (before, after) = (none.decide(s, threshold).maps(), feedback.decide(s, threshold).maps());
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

/// The JSON lines of a gzipped file of ../shared/labelled-data, or why they could not be read.
fn public_records(file: &str) -> Result<Vec<serde_json::Value>, String> {
    let path = labelled_data_dir().join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = decode_source_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).map_err(|e| format!("{file}: {e}"))).collect()
}

/// Public labelled records as labelled alerts: each the request `request` makes of it (left
/// out when it has none or it is invalid) and its `labels`, resolved to live techniques (left
/// out when none is); the id is "P" and the line number, so halves by id parity are halves by
/// line parity.
fn public_alerts(
    catalog: &DomainCatalog,
    records: &[serde_json::Value],
    labels: impl Fn(&serde_json::Value) -> Vec<&str>,
    request: impl Fn(&serde_json::Value) -> Option<Request>,
) -> Vec<LabelledAlert> {
    records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let mut expected: Vec<String> = labels(r).into_iter().filter_map(|l| live_technique(catalog, l)).collect();
            expected.sort();
            expected.dedup();
            if expected.is_empty() {
                return None;
            }
            let req = request(r).filter(|q| q.validate().is_ok())?;
            Some(LabelledAlert { id: format!("P{i}"), platform: String::new(), text: req.text, observables: req.observables, expected })
        })
        .collect()
}

/// The `technique` label of a public record.
fn technique_label(r: &serde_json::Value) -> Vec<&str> {
    r["technique"].as_str().into_iter().collect()
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

/// The shipped engine's suggestions for labelled alerts (limit 20), halves by id parity.
fn replayed(engine: &Engine, alerts: &[LabelledAlert]) -> Vec<Replayed> {
    alerts.iter().map(|a| Replayed { odd: a.number() % 2 == 1, suggestions: engine.suggest(&a.request(LIMIT as i64)), expected: a.expected.clone() }).collect()
}

/// The review replay: how much auto-mapping learns from one tenant's review (see the
/// `feedback` module of the crate). Each labelled set is split in two halves; an analyst
/// reviews every auto-mapping of one half (score >= the shipped threshold), confirming it when
/// its technique is one of the expected ones (the exact ID: a parent or a sibling of an
/// expected sub-technique is rejected, as the bench's precision counts it wrong) and rejecting
/// it otherwise, all into one tenant's feedback; the other half is then enriched without and
/// with that feedback. Suggestions as enrichment makes them with the shipped constants, limit
/// 20 (the auto-mapping figures above).
fn review_replay(engine: &Engine, catalog: &DomainCatalog, labelled: &[LabelledAlert]) -> serde_json::Value {
    let threshold = DEFAULT_THRESHOLD;
    let t = Instant::now();
    println!(
        "\nreview replay: an analyst confirms the right (exact technique) and rejects the wrong auto-mappings (score >= {threshold}) of one half of a labelled set; \
         the other half is enriched without and with that tenant's feedback (rejected pairs suppressed, trusted pairs mapped from {:.4})",
        threshold * TRUSTED_FACTOR
    );
    let mut out = serde_json::Map::new();
    out.insert("threshold".into(), threshold.into());
    out.insert("trusted_from".into(), (threshold * TRUSTED_FACTOR).into());

    let own = replayed(engine, labelled);
    let label = format!("the project's labelled alerts (tests/data/suggest/labelled.jsonl, {} alerts; halves by id parity; in-sample scores):", own.len());
    out.insert("labelled".into(), replay(&label, &own, threshold));

    // Public labelled data: the project's alerts are few and their false auto-mappings rarely
    // recur on the same evidence, so the replay is repeated on two larger public sets.
    match public_records("atomic-red-team-tests.jsonl.gz") {
        Ok(records) => {
            // the command line alone, as a process-creation alert carries it (the test's name
            // and description often name the technique)
            let art = replayed(engine, &public_alerts(catalog, &records, technique_label, |r| art_request(r, false)));
            let label = format!(
                "Atomic Red Team tests (../shared/labelled-data, {} of {} tests, the command line as the alert, one technique each; halves by line parity):",
                art.len(),
                records.len()
            );
            out.insert("atomic_red_team".into(), replay(&label, &art, threshold));
        }
        Err(e) => println!("  Atomic Red Team tests: not read ({e})"),
    }
    match public_records("tram-sentences.jsonl.gz") {
        Ok(records) => {
            let tram = replayed(engine, &public_alerts(catalog, &records, technique_label, tram_request));
            let label = format!(
                "TRAM threat-report sentences (../shared/labelled-data, {} of {} sentences as the alert text, one technique each; halves by line parity):",
                tram.len(),
                records.len()
            );
            out.insert("tram".into(), replay(&label, &tram, threshold));
        }
        Err(e) => println!("  TRAM sentences: not read ({e})"),
    }
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    serde_json::Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Unseen sources

/// The query languages of CAR implementations that are also those of the SigmaHQ, Elastic and
/// Splunk rule sets, which are kept out of every measurement: their code is left out.
const RESERVED_LANGUAGES: [&str; 3] = ["sigma", "elastic", "splunk"];

/// An ATT&CK technique ID as the public sets write it: T1059, T1059.001, the T1059/001 of
/// attack.mitre.org links, the attack.t1059 of rule tags.
static ATTACK_ID: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"(?i-u)\bT\d{4}(?:[./]\d{3})?\b").expect("ATT&CK ID pattern"));

/// The labels of a CAR analytic: its techniques and sub-techniques.
fn car_labels(r: &serde_json::Value) -> Vec<&str> {
    ["techniques", "subtechniques"].iter().flat_map(|k| r[*k].as_array().into_iter().flatten()).filter_map(|v| v.as_str()).collect()
}

/// The request of a CAR analytic: title, description, pseudocode and the code of its
/// implementations (but those in a reserved language) as the alert's text, cut to the largest
/// text a request may carry.
fn car_request(r: &serde_json::Value) -> Option<Request> {
    let mut parts = vec![r["title"].as_str()?, r["description"].as_str().unwrap_or_default()];
    parts.extend(r["pseudocode"].as_array().into_iter().flatten().filter_map(|v| v.as_str()));
    parts.extend(
        r["implementations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| !RESERVED_LANGUAGES.contains(&i["type"].as_str().unwrap_or_default().to_ascii_lowercase().as_str()))
            .filter_map(|i| i["code"].as_str()),
    );
    let mut text = parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n");
    let mut end = text.len().min(mitre_suggest::MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    Some(Request { text, observables: Vec::new(), limit: LIMIT as i64 })
}

/// Removes the ATT&CK IDs from an alert's text and observable values (they name the answer);
/// true when it named one.
fn strip_attack_ids(a: &mut LabelledAlert) -> bool {
    let mut named = false;
    for v in std::iter::once(&mut a.text).chain(a.observables.iter_mut().map(|o| &mut o.value)) {
        if ATTACK_ID.is_match(v) {
            *v = ATTACK_ID.replace_all(v, "").into_owned();
            named = true;
        }
    }
    named
}

/// One public set as the unseen-sources section sends it: JSON key, label, file, the labels
/// and the request of a record.
type UnseenSet = (&'static str, &'static str, &'static str, fn(&serde_json::Value) -> Vec<&str>, fn(&serde_json::Value) -> Option<Request>);

/// The public labelled sets (none of them used to fit the calibration or choose the
/// threshold), each item sent as one alert with the shipped constants (limit 20): top-k
/// accuracy (exact and parent level) of the engine and of the BM25 baseline (the model fitted
/// on the labelled alerts above), and the auto-mappings at the shipped threshold: precision
/// (exact and parent level), coverage (the share of items with at least one) and mappings
/// written per item. ATT&CK IDs are removed from every text first; labels are resolved to
/// live techniques (revoked-by), and an item whose labels have none is left out.
fn unseen_sources(engine: &Engine, catalog: &DomainCatalog, baseline: &Model) -> serde_json::Value {
    let threshold = DEFAULT_THRESHOLD;
    let t = Instant::now();
    let sets: [UnseenSet; 4] = [
        ("atomic_red_team_command", "Atomic Red Team: command", "atomic-red-team-tests.jsonl.gz", technique_label, |r| art_request(r, false)),
        ("atomic_red_team_command_description", "Atomic Red Team: command + descr.", "atomic-red-team-tests.jsonl.gz", technique_label, |r| {
            art_request(r, true)
        }),
        ("tram", "TRAM: sentence", "tram-sentences.jsonl.gz", technique_label, tram_request),
        ("car", "CAR: analytic text and queries", "car-analytics.jsonl.gz", car_labels, car_request),
    ];
    println!(
        "\nunseen sources: public labelled sets ($LABELLED_DATA_DIR) the engine was not fitted on, each item one alert (limit {LIMIT}); ATT&CK IDs removed from the text (IDs: items \
         that named one); labels resolved to live techniques, items with none in ATT&CK {} left out; a CAR analytic is a hit on any of its techniques; CAR code in {} left out",
        engine.version(),
        RESERVED_LANGUAGES.join("/")
    );
    println!(
        "  auto-mapping at the shipped threshold {threshold}: precision exact and parent level, coverage = share of items with at least one auto-mapping, mappings written per item"
    );
    println!(
        "  {:<34} {:>11} {:>4} | engine top1  top3 top1p top3p | auto-map prec prec-p cover  /item | BM25 top1  top3 top1p top3p",
        "source", "items/records", "IDs"
    );
    let mut out = serde_json::Map::new();
    out.insert("threshold".into(), threshold.into());
    out.insert("limit".into(), LIMIT.into());
    let mut files: std::collections::HashMap<&str, Result<Vec<serde_json::Value>, String>> = std::collections::HashMap::new();
    for (key, label, file, labels, request) in sets {
        let records = match files.entry(file).or_insert_with(|| public_records(file)) {
            Ok(r) => r,
            Err(e) => {
                println!("  {label:<34} not read ({e})");
                continue;
            }
        };
        let mut named = 0;
        let alerts: Vec<LabelledAlert> = public_alerts(catalog, records, labels, request)
            .into_iter()
            .filter_map(|mut a| {
                let had = strip_attack_ids(&mut a);
                let valid = a.request(LIMIT as i64).validate().is_ok();
                named += (had && valid) as usize;
                valid.then_some(a)
            })
            .collect();
        let alerts: Vec<&LabelledAlert> = alerts.iter().collect();
        let n = alerts.len();
        let s: Vec<Vec<(String, f64)>> =
            alerts.iter().map(|a| engine.suggest(&a.request(LIMIT as i64)).into_iter().map(|x| (x.technique, x.score)).collect()).collect();
        let f = measure(&alerts, &s, &vec![threshold; n]);
        let covered = s.iter().filter(|v| v.iter().any(|(_, x)| *x >= threshold)).count() as f64 / n.max(1) as f64;
        let per_item = f.map.mapped as f64 / n.max(1) as f64;
        let bc: Vec<Cands> = alerts.iter().map(|a| baseline_cands(engine, a)).collect();
        let b = ranked_accuracy(&alerts, &scored(baseline, &bc.iter().collect::<Vec<_>>()));
        println!(
            "  {label:<34} {:>11} {named:>4} |       {:.3} {:.3} {:.3} {:.3} |          {:.3}  {:.3} {:.3} {:>6.2} |     {:.3} {:.3} {:.3} {:.3}",
            format!("{n}/{}", records.len()),
            f.acc.top1,
            f.acc.top3,
            f.acc.top1_parent,
            f.acc.top3_parent,
            f.map.precision,
            f.map.precision_parent,
            covered,
            per_item,
            b.top1,
            b.top3,
            b.top1_parent,
            b.top3_parent
        );
        out.insert(
            key.into(),
            serde_json::json!({
                "file": file, "records": records.len(), "items": n, "ids_removed": named,
                "top1": f.acc.top1, "top3": f.acc.top3, "top1_parent": f.acc.top1_parent, "top3_parent": f.acc.top3_parent,
                "automap": {
                    "precision": f.map.precision, "precision_parent": f.map.precision_parent, "coverage": covered,
                    "mappings_per_item": per_item, "mapped": f.map.mapped, "correct": f.map.correct,
                },
                "baseline_top1": b.top1, "baseline_top3": b.top3, "baseline_top1_parent": b.top1_parent, "baseline_top3_parent": b.top3_parent,
            }),
        );
    }
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    serde_json::Value::Object(out)
}
