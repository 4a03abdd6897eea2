//! Quality and speed of technique inference (`mitre_views::inference`), beside two baselines.
//!
//! Run: `cargo run --release -p mitre-views --example bench_infer` (or bench/infer.sh). Reads
//! the ATT&CK releases from $ATTACK_DATA_DIR (default ../shared/attack-data next to the
//! repository): enterprise 18.1 in full, enterprise 17.1, mobile 18.0 and ICS 18.1 when present.
//!
//! Protocol (leave one campaign out): for every live campaign using at least 4 live techniques,
//! and for each of the seeds 1 to 5, the campaign's techniques (sorted by ID) are shuffled with
//! a generator seeded by the seed and the campaign's ATT&CK ID; the first ⌊n/2⌋ are hidden and
//! the rest observed. The model of that split excludes the campaign's own set and the direct
//! uses (the set) of every group the campaign is attributed to (live "attributed-to"); the
//! group's other campaigns and every software stay. It ranks every other live technique (never
//! an observed one nor the parent of an observed sub-technique; the baselines follow the same
//! rule) and the hidden techniques are the relevant ones: recall@10, recall@20 and NDCG@20
//! (binary relevance, ideal DCG over min(hidden, 20)), averaged over the splits.
//!
//! Baselines, on the same excluded sets: popularity (how many procedure sets use a technique)
//! and co-occurrence (the sum over the observed techniques of how many sets use both).
//!
//! The tenant's history, simulated: "the other reports" are the reports ATT&CK cites in the
//! procedures ("uses" relationships, their `(Citation: ...)`) of its live groups and campaigns;
//! a report's set is every live technique whose procedure cites it. For a split, the history
//! holds every such report with at least two techniques, less each report cited anywhere by the
//! held-out campaign or its attributed groups (their descriptions and every relationship from
//! them): no report on the held-out intrusion or its actor. Two other histories for comparison:
//! the reports of every procedure (software too: malware analyses besides intrusion reports), and
//! the other campaigns' sets. The ATT&CK part is the excluded model as above in every variant.
//!
//! Speed (enterprise 18.1): `ProcedureSets::of`; `infer` with 20 observed techniques (taken
//! from a random group using at least 20) and a limit of 20, alone and with a tenant history
//! of 4,000 entities of 8 to 12 techniques (intrusion reports, resampled, padded with the
//! techniques of a random group); the size of that history encoded.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use mitre_attack::catalog::{DomainCatalog, ObjectRef};
use mitre_attack::{Domain, decode_source_bytes, parse_bundle};
use mitre_views::inference::{PARAMS, Params, ProcedureSets, SetKind, TenantHistory, infer, infer_with};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const MIN_TECHNIQUES: usize = 4;
const K: usize = 20;
const HISTORY_CAP: usize = 4000;
const REQUESTS: usize = 2000;

fn data_dir() -> PathBuf {
    std::env::var_os("ATTACK_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attack-data"))
}

fn load(file: &str, domain: Domain, version: &str) -> Result<Option<DomainCatalog>, Box<dyn std::error::Error>> {
    let path = data_dir().join(file);
    if !path.exists() {
        return Ok(None);
    }
    let data = decode_source_bytes(std::fs::read(&path)?)?;
    let b = parse_bundle(&data, domain)?;
    Ok(Some(DomainCatalog::build(&b.objects, domain, version, "")))
}

/// splitmix64: a small, well-mixed generator, enough for shuffles.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, salt: &str) -> Rng {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in salt.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        Rng(seed ^ h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Metrics {
    r10: f64,
    r20: f64,
    ndcg: f64,
    n: usize,
}

impl Metrics {
    fn add(&mut self, ranked: &[String], hidden: &BTreeSet<String>) {
        let hit = |k: usize| ranked.iter().take(k).filter(|t| hidden.contains(*t)).count() as f64 / hidden.len() as f64;
        let dcg: f64 = ranked.iter().take(K).enumerate().filter(|(_, t)| hidden.contains(*t)).map(|(i, _)| 1.0 / (i as f64 + 2.0).log2()).sum();
        let ideal: f64 = (0..hidden.len().min(K)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
        self.r10 += hit(10);
        self.r20 += hit(20);
        self.ndcg += dcg / ideal;
        self.n += 1;
    }

    fn mean(&self) -> (f64, f64, f64) {
        let n = self.n.max(1) as f64;
        (self.r10 / n, self.r20 / n, self.ndcg / n)
    }
}

/// The `(Citation: Name)` names of a text.
fn citations(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("(Citation:") {
        let after = &rest[i + "(Citation:".len()..];
        match after.find(')') {
            Some(j) => {
                out.push(after[..j].trim());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Reports as technique sets: every live technique a live group or campaign (and software, if
/// `software`) uses, under each report its procedure cites.
fn reports(c: &DomainCatalog, software: bool) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let sources: Vec<&str> = c
        .groups
        .iter()
        .chain(&c.campaigns)
        .chain(c.software.iter().filter(|_| software))
        .filter(|e| !e.revoked && !e.deprecated)
        .map(|e| e.stix_id.as_str())
        .collect();
    for s in sources {
        for r in c.live_from(s, "uses", |o| matches!(o, ObjectRef::Technique(_))) {
            let Some(t) = c.technique_by_stix_id(&r.target_ref) else { continue };
            for name in citations(r.description.as_deref().unwrap_or_default()) {
                out.entry(name.to_string()).or_default().insert(t.attack_id.clone());
            }
        }
    }
    out
}

/// One held-out campaign: the ATT&CK IDs its model excludes and the reports it bans.
struct Heldout {
    attack_id: String,
    techniques: Vec<String>,
    exclude: BTreeSet<String>,
    banned: BTreeSet<String>,
}

fn heldouts(c: &DomainCatalog, ps: &ProcedureSets) -> Vec<Heldout> {
    let mut out = Vec::new();
    for s in ps.sets().iter().filter(|s| s.set.kind == SetKind::Campaign && s.techniques.len() >= MIN_TECHNIQUES) {
        let campaign = DomainCatalog::find_entity(&c.campaigns, &s.set.attack_id).expect("a campaign of the catalog");
        let mut exclude = BTreeSet::from([s.set.attack_id.clone()]);
        let mut banned: BTreeSet<String> = BTreeSet::new();
        let mut ban = |stix: &str, description: &str| {
            banned.extend(citations(description).into_iter().map(str::to_string));
            for r in c.relationships_from(stix, None) {
                banned.extend(citations(r.description.as_deref().unwrap_or_default()).into_iter().map(str::to_string));
            }
        };
        ban(&campaign.stix_id, &campaign.description);
        for a in c.live_from(&campaign.stix_id, "attributed-to", |o| matches!(o, ObjectRef::Group(_))) {
            if let Some(g) = c.object(&a.target_ref).and_then(|o| c.entity(o)) {
                exclude.extend(g.attack_id.clone());
                ban(&g.stix_id, &g.description);
            }
        }
        out.push(Heldout { attack_id: s.set.attack_id.clone(), techniques: s.techniques.clone(), exclude, banned });
    }
    out
}

fn parent(id: &str) -> Option<&str> {
    id.split_once('.').map(|(p, _)| p)
}

/// A baseline's ranking: by score, then ATT&CK ID, under the candidate rule of the model.
fn rank(ps: &ProcedureSets, observed: &[String], score: &HashMap<&str, f64>) -> Vec<String> {
    let blocked: BTreeSet<&str> = observed.iter().flat_map(|o| [Some(o.as_str()), parent(o)]).flatten().collect();
    let mut v: Vec<(f64, &str)> =
        ps.techniques().iter().filter(|t| !blocked.contains(t.as_str())).map(|t| (score.get(t.as_str()).copied().unwrap_or(0.0), t.as_str())).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    v.into_iter().take(K).map(|(_, t)| t.to_string()).collect()
}

fn popularity(ps: &ProcedureSets) -> HashMap<&str, f64> {
    let mut m: HashMap<&str, f64> = HashMap::new();
    for s in ps.sets() {
        for t in &s.techniques {
            *m.entry(t.as_str()).or_default() += 1.0;
        }
    }
    m
}

fn cooccurrence<'a>(ps: &'a ProcedureSets, observed: &[String]) -> HashMap<&'a str, f64> {
    let mut m: HashMap<&str, f64> = HashMap::new();
    for s in ps.sets() {
        let shared = s.techniques.iter().filter(|t| observed.contains(t)).count() as f64;
        if shared > 0.0 {
            for t in &s.techniques {
                *m.entry(t.as_str()).or_default() += shared;
            }
        }
    }
    m
}

enum Ranker {
    Popularity,
    Cooccurrence,
    Model(Params),
    /// The model with a simulated tenant history: intrusion reports, every report, other campaigns.
    Tenant(History),
}

#[derive(Clone, Copy, PartialEq)]
enum History {
    IntrusionReports,
    AllReports,
    OtherCampaigns,
}

struct Row {
    key: &'static str,
    label: &'static str,
    ranker: Ranker,
}

fn rows(full: bool) -> Vec<Row> {
    let p = PARAMS;
    let mut v = vec![
        Row { key: "popularity", label: "popularity (baseline)", ranker: Ranker::Popularity },
        Row { key: "cooccurrence", label: "co-occurrence (baseline)", ranker: Ranker::Cooccurrence },
        Row { key: "model", label: "model, ATT&CK alone", ranker: Ranker::Model(p) },
    ];
    if full {
        v.extend([
            Row { key: "model_software_1", label: "  software weighing 1 like groups", ranker: Ranker::Model(Params { software: 1.0, ..p }) },
            Row { key: "model_software_0", label: "  software left out", ranker: Ranker::Model(Params { software: 0.0, ..p }) },
            Row { key: "model_overlap_2", label: "  overlap squared, not cubed", ranker: Ranker::Model(Params { overlap_power: 2.0, ..p }) },
            Row { key: "model_no_size", label: "  no division by set size", ranker: Ranker::Model(Params { size_power: 0.0, ..p }) },
            Row { key: "model_no_specificity", label: "  no specificity factor", ranker: Ranker::Model(Params { specificity_power: 0.0, ..p }) },
        ]);
    }
    v.push(Row { key: "tenant_reports", label: "model + tenant: other intrusion reports", ranker: Ranker::Tenant(History::IntrusionReports) });
    if full {
        v.push(Row { key: "tenant_all_reports", label: "model + tenant: other reports, malware too", ranker: Ranker::Tenant(History::AllReports) });
        v.push(Row { key: "tenant_campaigns", label: "model + tenant: other campaigns", ranker: Ranker::Tenant(History::OtherCampaigns) });
    }
    v
}

struct Outcome {
    campaigns: usize,
    attributed: usize,
    splits: usize,
    history_sizes: (u64, u64),
    results: Vec<(&'static str, &'static str, Metrics)>,
}

fn evaluate(c: &DomainCatalog, ps: &ProcedureSets, full: bool) -> Outcome {
    let held = heldouts(c, ps);
    let intrusion = reports(c, false);
    let all = if full { reports(c, true) } else { BTreeMap::new() };
    let rows = rows(full);
    let mut metrics = vec![Metrics::default(); rows.len()];
    let mut splits = 0;
    let mut sizes = (u64::MAX, 0u64);
    for h in &held {
        let excluded = ps.without(|r| h.exclude.contains(&r.attack_id));
        let pop = popularity(&excluded);
        let history = |which: History| -> TenantHistory {
            let sets: Vec<Vec<String>> = match which {
                History::IntrusionReports | History::AllReports => {
                    let source = if which == History::AllReports { &all } else { &intrusion };
                    source.iter().filter(|(name, _)| !h.banned.contains(*name)).map(|(_, s)| s.iter().cloned().collect()).collect()
                }
                History::OtherCampaigns => {
                    ps.sets().iter().filter(|s| s.set.kind == SetKind::Campaign && s.set.attack_id != h.attack_id).map(|s| s.techniques.clone()).collect()
                }
            };
            TenantHistory::from_sets(sets, HISTORY_CAP)
        };
        let histories: Vec<(History, TenantHistory)> = [History::IntrusionReports, History::AllReports, History::OtherCampaigns]
            .into_iter()
            .filter(|w| full || *w == History::IntrusionReports)
            .map(|w| (w, history(w)))
            .collect();
        let reports_kept = histories[0].1.entities;
        sizes = (sizes.0.min(reports_kept), sizes.1.max(reports_kept));
        for seed in SEEDS {
            let mut t = h.techniques.clone();
            Rng::new(seed, &h.attack_id).shuffle(&mut t);
            let hidden: BTreeSet<String> = t[..t.len() / 2].iter().cloned().collect();
            let observed: Vec<String> = t[t.len() / 2..].to_vec();
            splits += 1;
            for (row, m) in rows.iter().zip(metrics.iter_mut()) {
                let ranked = match &row.ranker {
                    Ranker::Popularity => rank(&excluded, &observed, &pop),
                    Ranker::Cooccurrence => rank(&excluded, &observed, &cooccurrence(&excluded, &observed)),
                    Ranker::Model(p) => ids(infer_with(c, &excluded, None, &observed, K, p)),
                    Ranker::Tenant(w) => {
                        let history = &histories.iter().find(|(x, _)| x == w).expect("a history").1;
                        ids(infer(c, &excluded, Some(history), &observed, K))
                    }
                };
                m.add(&ranked, &hidden);
            }
        }
    }
    Outcome {
        campaigns: held.len(),
        attributed: held.iter().filter(|h| h.exclude.len() > 1).count(),
        splits,
        history_sizes: sizes,
        results: rows.iter().zip(metrics).map(|(r, m)| (r.key, r.label, m)).collect(),
    }
}

fn ids(inf: mitre_views::inference::Inferences) -> Vec<String> {
    inf.suggestions.into_iter().map(|s| s.technique).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn print_outcome(title: &str, o: &Outcome) {
    println!(
        "{title}: {} campaigns with >= {MIN_TECHNIQUES} techniques ({} attributed to a group), seeds {}-{} ({} splits), ⌊n/2⌋ hidden; tenant history of {}-{} intrusion reports",
        o.campaigns,
        o.attributed,
        SEEDS[0],
        SEEDS[SEEDS.len() - 1],
        o.splits,
        o.history_sizes.0,
        o.history_sizes.1
    );
    println!("  {:<46} {:>9} {:>9} {:>8}", "model", "recall@10", "recall@20", "NDCG@20");
    for (_, label, m) in &o.results {
        let (r10, r20, ndcg) = m.mean();
        println!("  {label:<46} {r10:>9.3} {r20:>9.3} {ndcg:>8.3}");
    }
}

fn json_outcome(o: &Outcome) -> serde_json::Value {
    let mut models = serde_json::Map::new();
    for (key, _, m) in &o.results {
        let (r10, r20, ndcg) = m.mean();
        let r = |x: f64| (x * 1e4).round() / 1e4;
        models.insert(key.to_string(), serde_json::json!({"recall_at_10": r(r10), "recall_at_20": r(r20), "ndcg_at_20": r(ndcg)}));
    }
    serde_json::json!({"campaigns": o.campaigns, "attributed": o.attributed, "splits": o.splits, "tenant_reports": [o.history_sizes.0, o.history_sizes.1], "models": models})
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let Some(c) = load("enterprise-attack-18.1.json.gz", Domain::EnterpriseAttack, "18.1")? else {
        return Err(format!("{} has no enterprise-attack-18.1.json.gz (set ATTACK_DATA_DIR)", data_dir().display()).into());
    };
    let load_s = t.elapsed().as_secs_f64();

    // build time
    let mut builds = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let ps = ProcedureSets::of(&c);
        builds.push(t.elapsed().as_secs_f64() * 1e3);
        drop(ps);
    }
    builds.sort_by(f64::total_cmp);
    let ps = ProcedureSets::of(&c);
    let kinds = |k: SetKind| ps.sets().iter().filter(|s| s.set.kind == k).count();
    println!(
        "ATT&CK Enterprise 18.1 (read in {load_s:.2} s): {} live techniques; {} procedure sets: {} groups, {} software, {} campaigns",
        ps.techniques().len(),
        ps.sets().len(),
        kinds(SetKind::Group),
        kinds(SetKind::Software),
        kinds(SetKind::Campaign)
    );
    println!("ProcedureSets::of: median {:.2} ms, max {:.2} ms (11 builds)", builds[builds.len() / 2], builds[builds.len() - 1]);
    println!(
        "weights: group {}, campaign {}, software {}, tenant entity {}; w(s) = k |s∩O|^{} / |s|^{}; score = support × specificity^{}",
        PARAMS.group, PARAMS.campaign, PARAMS.software, PARAMS.tenant, PARAMS.overlap_power, PARAMS.size_power, PARAMS.specificity_power
    );
    println!();

    let t = Instant::now();
    let main_outcome = evaluate(&c, &ps, true);
    print_outcome("Enterprise 18.1, leave one campaign out", &main_outcome);
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());

    let mut others = serde_json::Map::new();
    for (file, domain, version, label) in [
        ("enterprise-attack-17.1.json.gz", Domain::EnterpriseAttack, "17.1", "Enterprise 17.1"),
        ("mobile-attack-18.0.json.gz", Domain::MobileAttack, "18.0", "Mobile 18.0"),
        ("ics-attack-18.1.json.gz", Domain::IcsAttack, "18.1", "ICS 18.1"),
    ] {
        let Some(other) = load(file, domain, version)? else {
            println!("\n{label}: not in {}", data_dir().display());
            continue;
        };
        let ops = ProcedureSets::of(&other);
        let o = evaluate(&other, &ops, false);
        println!();
        if o.campaigns < 5 {
            println!("{label}: {} campaigns with >= {MIN_TECHNIQUES} techniques, too few to measure", o.campaigns);
        } else {
            print_outcome(&format!("{label}, leave one campaign out"), &o);
        }
        others.insert(format!("{domain:?}-{version}"), json_outcome(&o));
    }

    // speed: 20 observed techniques, with and without a history of 4,000 entities
    let mut rng = Rng::new(42, "speed");
    let intrusion: Vec<Vec<String>> = reports(&c, false).into_values().map(|s| s.into_iter().collect()).filter(|s: &Vec<String>| s.len() >= 2).collect();
    let groups: Vec<&Vec<String>> = ps.sets().iter().filter(|s| s.set.kind == SetKind::Group && s.techniques.len() >= 20).map(|s| &s.techniques).collect();
    let entities: Vec<Vec<String>> = (0..HISTORY_CAP)
        .map(|_| {
            let mut set = intrusion[rng.below(intrusion.len())].clone();
            rng.shuffle(&mut set);
            let size = 8 + rng.below(5);
            set.truncate(size);
            let pad = groups[rng.below(groups.len())];
            while set.len() < size {
                let t = pad[rng.below(pad.len())].clone();
                if !set.contains(&t) {
                    set.push(t);
                }
            }
            set
        })
        .collect();
    let history = TenantHistory::from_sets(entities, HISTORY_CAP);
    let t = Instant::now();
    let encoded = history.encode()?;
    let encode_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let decoded = TenantHistory::decode(&encoded)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(decoded, history);
    let techniques_per_entity = history.sets.iter().map(Vec::len).sum::<usize>() as f64 / history.sets.len() as f64;
    let requests: Vec<Vec<String>> = (0..REQUESTS)
        .map(|_| {
            let mut g = groups[rng.below(groups.len())].clone();
            rng.shuffle(&mut g);
            g.truncate(20);
            g
        })
        .collect();
    let mut timings = serde_json::Map::new();
    for (key, tenant) in [("alone", None), ("tenant_4000", Some(&history))] {
        for r in requests.iter().take(50) {
            std::hint::black_box(infer(&c, &ps, tenant, r, K));
        }
        let mut ms: Vec<f64> = requests
            .iter()
            .map(|r| {
                let t = Instant::now();
                std::hint::black_box(infer(&c, &ps, tenant, r, K));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let (p50, p99, max) = (percentile(&ms, 0.5), percentile(&ms, 0.99), ms[ms.len() - 1]);
        timings.insert(
            key.to_string(),
            serde_json::json!({"p50_ms": (p50 * 1e3).round() / 1e3, "p99_ms": (p99 * 1e3).round() / 1e3, "max_ms": (max * 1e3).round() / 1e3}),
        );
        println!(
            "{}infer, 20 observed, limit 20, {}: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms ({REQUESTS} requests)",
            if key == "alone" { "\n" } else { "" },
            if key == "alone" { "ATT&CK alone" } else { "with a 4,000-entity history" }
        );
    }
    println!(
        "tenant history: {} entities, {:.1} techniques each, {} distinct IDs: {:.1} KB encoded (encode {encode_ms:.1} ms, decode {decode_ms:.1} ms)",
        history.entities,
        techniques_per_entity,
        history.techniques.len(),
        encoded.len() as f64 / 1024.0
    );

    // one answer, to read
    let sample: Vec<String> = ["T1566.001", "T1204.002", "T1059.001", "T1053.005", "T1003.001", "T1021.002", "T1486", "T1490"].map(String::from).to_vec();
    let answer = infer(&c, &ps, None, &sample, 5);
    println!("\nexample, observed {}:", sample.join(" "));
    for s in &answer.suggestions {
        let via: Vec<String> = s.evidence.via.iter().take(3).map(|v| format!("{} {} ({})", v.set.attack_id, v.set.name, v.shared)).collect();
        println!("  {:<10} {:<45} {:.3}  via {}", s.technique, s.name, s.score, via.join(", "));
    }

    let (_, _, ndcg) = main_outcome.results.iter().find(|r| r.0 == "model").map(|r| r.2.mean()).unwrap_or_default();
    let (_, _, ndcg_tenant) = main_outcome.results.iter().find(|r| r.0 == "tenant_reports").map(|r| r.2.mean()).unwrap_or_default();
    println!(
        "\ngoals: NDCG@20 >= 0.31 from ATT&CK alone: {ndcg:.3} ({}); >= 0.40 with the tenant's history of the other reports: {ndcg_tenant:.3} ({})",
        if ndcg >= 0.31 { "met" } else { "not met" },
        if ndcg_tenant >= 0.40 { "met" } else { "not met" }
    );
    let p99 = timings["tenant_4000"]["p99_ms"].as_f64().unwrap_or(f64::MAX);
    println!("speed: p99 {p99:.3} ms with a 4,000-entity history (goal < 5 ms in process, < 30 ms a request)");

    let json = serde_json::json!({
        "benchmark": "infer",
        "attack": "enterprise-attack-18.1",
        "seeds": SEEDS,
        "min_techniques": MIN_TECHNIQUES,
        "k": K,
        "params": PARAMS,
        "leave_one_campaign_out": json_outcome(&main_outcome),
        "other_releases": others,
        "procedure_sets": {"sets": ps.sets().len(), "build_median_ms": (builds[builds.len() / 2] * 1e3).round() / 1e3},
        "infer": timings,
        "tenant_history": {"entities": history.entities, "encoded_bytes": encoded.len(), "decode_ms": (decode_ms * 1e3).round() / 1e3},
        "goals": {"ndcg_attack_alone": 0.31, "ndcg_with_tenant": 0.40, "met_attack_alone": ndcg >= 0.31, "met_with_tenant": ndcg_tenant >= 0.40},
    });
    println!("{json}");
    Ok(())
}
