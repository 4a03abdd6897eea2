//! The labelled alerts (tests/data/suggest/labelled.jsonl) as a regression floor, in-sample
//! with the shipped constants (the honest figures, each source left out of what the engine
//! learned, come from the bench: `make bench-suggest`), and the shipped example profiles
//! against the sources they are learned from.
mod common;

use std::path::PathBuf;

use common::{engine, labelled};
use mitre_suggest::DEFAULT_THRESHOLD;
use mitre_suggest::eval::{LabelledAlert, accuracy, automap};
use mitre_suggest::examples::{Profiles, TERMS_PER_PROFILE, alert_examples, art_examples, car_examples, default_profiles, tram_examples};
use mitre_suggest::feedback::Feedback;

#[test]
fn ranking_and_auto_mapping_meet_their_goals() {
    let alerts: Vec<&LabelledAlert> = labelled().iter().collect();
    assert!(alerts.len() >= 150);
    let analyses: Vec<_> = alerts.iter().map(|a| engine().suggest(&a.request(20))).collect();
    let rankings: Vec<Vec<String>> = analyses.iter().map(|v| v.iter().map(|s| s.technique.clone()).collect()).collect();
    let baseline: Vec<Vec<String>> = alerts.iter().map(|a| engine().baseline_ranking(&a.request(20), 20).into_iter().map(|(t, _)| t).collect()).collect();
    let ours = accuracy(&alerts, &rankings);
    let base = accuracy(&alerts, &baseline);
    assert!(ours.top3 >= 0.8, "top-3 {}", ours.top3);
    assert!(ours.top3 >= base.top3 + 0.25, "top-3 {} against the BM25 baseline's {}", ours.top3, base.top3);
    // auto-mapping as enrichment does it: the best suggestion of each alert, from the threshold
    let none = Feedback::default();
    let mapped: Vec<Vec<(String, f64)>> = analyses
        .iter()
        .map(|v| v.iter().zip(none.decide_all(v, DEFAULT_THRESHOLD)).filter(|(_, d)| d.maps()).map(|(s, _)| (s.technique.clone(), s.score)).collect())
        .collect();
    assert!(mapped.iter().all(|m| m.len() <= 1), "one auto-mapping per alert that names no ID");
    let m = automap(&alerts, &mapped, DEFAULT_THRESHOLD);
    assert!(m.precision >= 0.9, "auto-mapping precision {} at {DEFAULT_THRESHOLD}", m.precision);
    let covered = mapped.iter().filter(|m| !m.is_empty()).count() as f64 / alerts.len() as f64;
    assert!(covered >= 0.5, "alerts with an auto-mapping {covered}");
}

fn labelled_data(file: &str) -> String {
    let dir = std::env::var_os("LABELLED_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/labelled-data"));
    let path = dir.join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set LABELLED_DATA_DIR)", path.display()));
    String::from_utf8(mitre_attack::decode_source_bytes(bytes).expect("gzipped").to_vec()).expect("UTF-8")
}

#[test]
fn the_shipped_example_profiles_are_learned_from_the_labelled_sources() {
    let mut examples = art_examples(&labelled_data("atomic-red-team-tests.jsonl.gz")).unwrap();
    assert!(examples.len() > 1500, "{} Atomic Red Team tests", examples.len());
    examples.extend(tram_examples(&labelled_data("tram-sentences.jsonl.gz")).unwrap());
    examples.extend(car_examples(&labelled_data("car-analytics.jsonl.gz")).unwrap());
    examples.extend(alert_examples(labelled()));
    let learned = Profiles::learn(&examples, TERMS_PER_PROFILE);
    assert!(
        &learned == default_profiles(),
        "the labelled sources, the tokenizer or the learning changed: run `cargo run --release -p mitre-suggest --example bench -- --write-examples`, \
         then the bench to refresh DEFAULT_CALIBRATION and DEFAULT_THRESHOLD"
    );
}
