//! Labelled examples: how texts about each technique read when others wrote them (test
//! commands, threat-report sentences, analytics with their queries, alerts), learned into one
//! term profile per technique.
//!
//! The profiles shipped (data/suggest/examples.tsv.gz, [`default_profiles`]) are learned from
//! the public labelled sets of Atomic Red Team (test names, descriptions and commands; MIT),
//! MITRE CTID's TRAM (annotated threat-report sentences; Apache-2.0) and MITRE's Cyber
//! Analytics Repository (titles, descriptions, pseudocode and queries; Apache-2.0), and from
//! the project's labelled alerts (tests/data/suggest/labelled.jsonl). `cargo run --release -p
//! mitre-suggest --example bench -- --write-examples` writes the file from them; a test checks
//! that it is up to date.
//!
//! A profile keeps, for one technique, the terms (see [`crate::text::for_each_token`]) that
//! its examples use most and other techniques least: for each source, the share of the
//! technique's examples that contain the term, mapped to 1..=10 and summed over sources (so
//! that 300 report sentences and 5 test commands have an equal say), times the term's inverse
//! frequency among techniques; the best [`TERMS_PER_PROFILE`] are kept with their counts. The
//! engine indexes the profiles with BM25 (one document per technique).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::LazyLock;

use crate::text::for_each_token;

/// Terms kept per technique.
pub const TERMS_PER_PROFILE: usize = 80;

/// The query languages of CAR implementations that are also those of the SigmaHQ, Elastic and
/// Splunk rule sets, which stay out of every fit and measure: their code is left out.
pub const RESERVED_LANGUAGES: [&str; 3] = ["sigma", "elastic", "splunk"];

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Where it comes from (`art`, `tram`, `car`, `alerts`).
    pub source: String,
    /// The ATT&CK IDs it is labelled with, as the source writes them (possibly revoked).
    pub techniques: Vec<String>,
    pub text: String,
}

/// The learned profile of one technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// ATT&CK ID, as labelled (the engine follows revoked IDs to their replacement).
    pub technique: String,
    /// How many examples of each source it was learned from.
    pub sources: BTreeMap<String, u32>,
    /// Terms with their weights (1..), best first.
    pub terms: Vec<(String, u16)>,
}

/// Profiles of every labelled technique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    pub profiles: Vec<Profile>,
}

/// The shipped profiles, gzipped.
const DEFAULT_EXAMPLES_GZ: &[u8] = include_bytes!("../../../data/suggest/examples.tsv.gz");

/// The shipped profiles (data/suggest/examples.tsv.gz), parsed once.
pub fn default_profiles() -> &'static Profiles {
    static P: LazyLock<Profiles> = LazyLock::new(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(DEFAULT_EXAMPLES_GZ).read_to_string(&mut text).expect("data/suggest/examples.tsv.gz is gzipped UTF-8");
        Profiles::parse(&text).expect("data/suggest/examples.tsv.gz parses")
    });
    &P
}

impl Profiles {
    /// Learns the profiles of `examples`, keeping `terms_per_profile` terms each. Deterministic.
    pub fn learn(examples: &[Example], terms_per_profile: usize) -> Profiles {
        // technique -> source -> (examples, term -> examples containing it)
        type PerSource = BTreeMap<String, (u32, HashMap<String, u32>)>;
        let mut by_tech: BTreeMap<String, PerSource> = BTreeMap::new();
        let mut seen = HashSet::new();
        for ex in examples {
            seen.clear();
            for_each_token(&ex.text, |t, _, _| {
                if !seen.contains(t) {
                    seen.insert(t.to_string());
                }
            });
            let mut techs: Vec<String> = ex.techniques.iter().map(|t| t.trim().to_ascii_uppercase()).filter(|t| !t.is_empty()).collect();
            techs.sort();
            techs.dedup();
            for t in techs {
                let slot = by_tech.entry(t).or_default().entry(ex.source.clone()).or_default();
                slot.0 += 1;
                for term in &seen {
                    *slot.1.entry(term.clone()).or_default() += 1;
                }
            }
        }
        // term weights per technique, and in how many techniques each term occurs
        // (technique, examples per source, term weights)
        type Weighted = (String, BTreeMap<String, u32>, HashMap<String, u32>);
        let mut weights: Vec<Weighted> = Vec::new();
        let mut techs_with: HashMap<String, u32> = HashMap::new();
        for (tech, per_source) in by_tech {
            let mut w: HashMap<String, u32> = HashMap::new();
            let mut counts = BTreeMap::new();
            for (source, (n, terms)) in per_source {
                counts.insert(source, n);
                for (term, k) in terms {
                    *w.entry(term).or_default() += 1 + (9 * k + n / 2) / n;
                }
            }
            for term in w.keys() {
                *techs_with.entry(term.clone()).or_default() += 1;
            }
            weights.push((tech, counts, w));
        }
        let n = weights.len() as f64;
        let profiles = weights
            .into_iter()
            .map(|(technique, sources, w)| {
                let mut terms: Vec<(String, u32, f64)> = w
                    .into_iter()
                    .map(|(term, x)| {
                        let idf = (1.0 + n / techs_with[&term] as f64).ln();
                        let rank = x as f64 * idf;
                        (term, x, rank)
                    })
                    .collect();
                terms.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
                terms.truncate(terms_per_profile);
                Profile { technique, sources, terms: terms.into_iter().map(|(t, x, _)| (t, x.min(u16::MAX as u32) as u16)).collect() }
            })
            .collect();
        Profiles { profiles }
    }

    /// The tab-separated form: a `#` header, then one line per technique: ATT&CK ID, the
    /// example counts (`source:n,...`), the terms (`term` for weight 1, `term:w` otherwise,
    /// space-separated, best first).
    pub fn to_tsv(&self, header: &str) -> String {
        let mut out = String::new();
        for l in header.lines() {
            out.push_str("# ");
            out.push_str(l);
            out.push('\n');
        }
        for p in &self.profiles {
            let sources: Vec<String> = p.sources.iter().map(|(s, n)| format!("{s}:{n}")).collect();
            let terms: Vec<String> = p.terms.iter().map(|(t, w)| if *w == 1 { t.clone() } else { format!("{t}:{w}") }).collect();
            out.push_str(&format!("{}\t{}\t{}\n", p.technique, sources.join(","), terms.join(" ")));
        }
        out
    }

    /// Parses [`Profiles::to_tsv`]'s form.
    pub fn parse(tsv: &str) -> Result<Profiles, String> {
        let mut profiles = Vec::new();
        for (i, line) in tsv.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let err = |m: &str| format!("line {}: {m}", i + 1);
            let mut cols = line.split('\t');
            let (Some(technique), Some(sources), Some(terms), None) = (cols.next(), cols.next(), cols.next(), cols.next()) else {
                return Err(err("expected three tab-separated columns"));
            };
            let mut src = BTreeMap::new();
            for s in sources.split(',').filter(|s| !s.is_empty()) {
                let (name, n) = s.split_once(':').ok_or_else(|| err("a source count is source:n"))?;
                src.insert(name.to_string(), n.parse().map_err(|_| err("a source count is a number"))?);
            }
            let mut ts = Vec::new();
            for t in terms.split(' ').filter(|t| !t.is_empty()) {
                // a switch ("-enc") has no colon; a weight follows the last colon
                match t.rsplit_once(':') {
                    Some((term, w)) if !term.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() => {
                        ts.push((term.to_string(), w.parse().map_err(|_| err("a weight is 1 to 65535"))?))
                    }
                    _ => ts.push((t.to_string(), 1)),
                }
            }
            profiles.push(Profile { technique: technique.to_string(), sources: src, terms: ts });
        }
        Ok(Profiles { profiles })
    }
}

/// The display name of an example source.
pub fn source_name(source: &str) -> &str {
    match source {
        "art" => "Atomic Red Team tests",
        "tram" => "TRAM report sentences",
        "car" => "CAR analytics",
        "alerts" => "labelled alerts",
        other => other,
    }
}

fn lines(jsonl: &str) -> impl Iterator<Item = Result<serde_json::Value, String>> + '_ {
    jsonl.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
}

fn str_of<'a>(r: &'a serde_json::Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or_default()
}

/// Atomic Red Team tests (`technique`, `test`, `description`, `command`): the test's name,
/// description and command.
pub fn art_examples(jsonl: &str) -> Result<Vec<Example>, String> {
    lines(jsonl)
        .map(|r| {
            let r = r?;
            let text = [str_of(&r, "test"), str_of(&r, "description"), str_of(&r, "command")].join("\n");
            Ok(Example { source: "art".into(), techniques: vec![str_of(&r, "technique").to_string()], text })
        })
        .collect()
}

/// TRAM sentences (`technique`, `text`).
pub fn tram_examples(jsonl: &str) -> Result<Vec<Example>, String> {
    lines(jsonl)
        .map(|r| {
            let r = r?;
            Ok(Example { source: "tram".into(), techniques: vec![str_of(&r, "technique").to_string()], text: str_of(&r, "text").to_string() })
        })
        .collect()
}

/// The labels of a CAR analytic: its techniques and sub-techniques.
pub fn car_labels(r: &serde_json::Value) -> Vec<String> {
    ["techniques", "subtechniques"].iter().flat_map(|k| r[*k].as_array().into_iter().flatten()).filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// The text of a CAR analytic: title, description, pseudocode and the code of its
/// implementations but those in a [`RESERVED_LANGUAGES`] language.
pub fn car_text(r: &serde_json::Value) -> String {
    let mut parts = vec![str_of(r, "title"), str_of(r, "description")];
    parts.extend(r["pseudocode"].as_array().into_iter().flatten().filter_map(|v| v.as_str()));
    parts.extend(
        r["implementations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| !RESERVED_LANGUAGES.contains(&i["type"].as_str().unwrap_or_default().to_ascii_lowercase().as_str()))
            .filter_map(|i| i["code"].as_str()),
    );
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
}

/// CAR analytics.
pub fn car_examples(jsonl: &str) -> Result<Vec<Example>, String> {
    lines(jsonl)
        .map(|r| {
            let r = r?;
            Ok(Example { source: "car".into(), techniques: car_labels(&r), text: car_text(&r) })
        })
        .collect()
}

/// Labelled alerts: text and observable values; benign alerts (no technique) are left out.
pub fn alert_examples(alerts: &[crate::eval::LabelledAlert]) -> Vec<Example> {
    alerts
        .iter()
        .filter(|a| !a.expected.is_empty())
        .map(|a| {
            let mut text = a.text.clone();
            for o in &a.observables {
                text.push('\n');
                text.push_str(&o.value);
            }
            Example { source: "alerts".into(), techniques: a.expected.clone(), text }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(source: &str, t: &str, text: &str) -> Example {
        Example { source: source.into(), techniques: vec![t.into()], text: text.into() }
    }

    #[test]
    fn learns_distinctive_terms_and_round_trips() {
        let examples = vec![
            ex("art", "T1003.001", "procdump -ma lsass.exe dump"),
            ex("art", "T1003.001", "rundll32 comsvcs.dll MiniDump lsass"),
            ex("tram", "T1003.001", "The actor dumped LSASS memory."),
            ex("art", "T1053.005", "schtasks /create /tn updater /tr payload.exe"),
            ex("tram", "T1053.005", "A scheduled task was created for persistence; the actor dumped it."),
        ];
        let p = Profiles::learn(&examples, 4);
        assert_eq!(p.profiles.len(), 2);
        let cred = &p.profiles[0];
        assert_eq!(cred.technique, "T1003.001");
        assert_eq!(cred.sources, BTreeMap::from([("art".to_string(), 2), ("tram".to_string(), 1)]));
        // lsass: in both ART tests (10) and the TRAM sentence (10), in no other technique
        assert_eq!(cred.terms[0], ("lsass".to_string(), 20));
        assert_eq!(cred.terms.len(), 4);
        let back = Profiles::parse(&p.to_tsv("header\nsecond line")).unwrap();
        assert_eq!(back, p);
        assert!(Profiles::parse("T1\tart:x\tterm").is_err());
        assert!(Profiles::parse("T1\tart:1").is_err());
        // a switch keeps its dash and a term with a colon in it its weight
        let q = Profiles::parse("T1\tart:1\t-enc lsass:3").unwrap();
        assert_eq!(q.profiles[0].terms, vec![("-enc".to_string(), 1), ("lsass".to_string(), 3)]);
    }

    #[test]
    fn car_queries_in_reserved_languages_are_left_out() {
        let r = serde_json::json!({"title": "T", "description": "D", "pseudocode": ["P"], "techniques": ["T1003"], "subtechniques": ["T1003.001"],
            "implementations": [{"type": "Splunk", "code": "S"}, {"type": "EQL", "code": "E"}, {"type": "sigma", "code": "G"}]});
        assert_eq!(car_text(&r), "T\nD\nP\nE");
        assert_eq!(car_labels(&r), ["T1003", "T1003.001"]);
    }

    #[test]
    fn the_shipped_profiles_parse() {
        let p = default_profiles();
        assert!(p.profiles.len() > 300, "{} profiles", p.profiles.len());
        assert!(p.profiles.iter().all(|x| !x.terms.is_empty() && x.terms.len() <= TERMS_PER_PROFILE));
    }
}
