//! The labelled alerts (tests/data/suggest/labelled.jsonl) as a regression floor, in-sample
//! with the shipped constants (the honest, held-out figures come from the bench:
//! `cargo run --release -p mitre-suggest --example bench`).
mod common;

use common::{engine, labelled};
use mitre_suggest::calibration::{FEATURE_NAMES, lowest_threshold};
use mitre_suggest::eval::{LabelledAlert, accuracy, automap, predictions};
use mitre_suggest::{Calibration, DEFAULT_CALIBRATION, DEFAULT_THRESHOLD, Features};

#[test]
fn ranking_and_auto_mapping_meet_their_goals() {
    let alerts: Vec<&LabelledAlert> = labelled().iter().collect();
    assert!(alerts.len() >= 150);
    let suggestions: Vec<Vec<(String, f64)>> =
        alerts.iter().map(|a| engine().suggest(&a.request(20)).into_iter().map(|s| (s.technique, s.score)).collect()).collect();
    let rankings: Vec<Vec<String>> = suggestions.iter().map(|v| v.iter().map(|(t, _)| t.clone()).collect()).collect();
    let baseline: Vec<Vec<String>> = alerts.iter().map(|a| engine().baseline_ranking(&a.request(20), 20).into_iter().map(|(t, _)| t).collect()).collect();
    let ours = accuracy(&alerts, &rankings);
    let base = accuracy(&alerts, &baseline);
    assert!(ours.top3 >= 0.8, "top-3 {}", ours.top3);
    assert!(ours.top3 >= base.top3 + 0.25, "top-3 {} against the BM25 baseline's {}", ours.top3, base.top3);
    let m = automap(&alerts, &suggestions, DEFAULT_THRESHOLD);
    assert!(m.precision >= 0.9, "auto-mapping precision {} at {DEFAULT_THRESHOLD}", m.precision);
    assert!(m.coverage >= 0.5, "auto-mapping coverage {}", m.coverage);
    // the threshold is where the precision goal is met, not far above it
    let lowest = lowest_threshold(&predictions(&alerts, &suggestions), 0.9, 20).expect("a threshold");
    assert!((lowest - DEFAULT_THRESHOLD).abs() < 0.05, "in-sample lowest threshold {lowest}");
}

#[test]
fn the_shipped_calibration_is_the_fit_on_the_labelled_set() {
    let mut examples: Vec<(Features, bool)> = Vec::new();
    for a in labelled() {
        for c in engine().candidates(&a.request(20)) {
            examples.push((c.features, a.expected.contains(&c.technique)));
        }
    }
    let fit = Calibration::fit(&examples, 1.0);
    let close = |a: f64, b: f64| (a - b).abs() < 2e-3;
    let same = close(fit.bias, DEFAULT_CALIBRATION.bias) && fit.weights.iter().zip(DEFAULT_CALIBRATION.weights).all(|(a, b)| close(*a, b));
    assert!(
        same,
        "the rule table, the labelled set or the features changed: run the bench and update DEFAULT_CALIBRATION to bias {:.4}, weights {:?} ({:?})",
        fit.bias,
        fit.weights.map(|w| (w * 1e4).round() / 1e4),
        FEATURE_NAMES
    );
    assert!(DEFAULT_CALIBRATION.weights.iter().all(|w| *w >= 0.0), "non-negative weights keep scores monotonic");
}
