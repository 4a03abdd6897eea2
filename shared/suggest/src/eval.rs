//! Measuring suggestions against labelled alerts (tests/data/suggest/labelled.jsonl): ranking
//! accuracy and the precision and coverage of auto-mapping above a threshold.
use serde::Deserialize;

use crate::{Observable, Request};

/// One labelled alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledAlert {
    pub id: String,
    pub platform: String,
    pub text: String,
    pub observables: Vec<Observable>,
    /// The techniques an analyst would map; empty for a benign alert.
    pub expected: Vec<String>,
}

impl LabelledAlert {
    /// The request of this alert.
    pub fn request(&self, limit: i64) -> Request {
        Request { text: self.text.clone(), observables: self.observables.clone(), limit }
    }

    /// The number of the id ("L123" -> 123).
    pub fn number(&self) -> u32 {
        self.id.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0)
    }
}

/// Parses the labelled set (one JSON object a line).
pub fn parse_labelled(jsonl: &str) -> Result<Vec<LabelledAlert>, String> {
    jsonl.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1))).collect()
}

/// The technique of a sub-technique ID (T1059.001 -> T1059); a technique's own ID otherwise.
pub fn parent(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

/// Accuracy of rankings over the alerts that expect at least one technique: an alert counts
/// for top-k when one of its first k suggestions is expected ("parent": compared at the
/// technique level, T1059.001 and T1059 are the same).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accuracy {
    pub alerts: usize,
    pub top1: f64,
    pub top3: f64,
    pub top1_parent: f64,
    pub top3_parent: f64,
    /// Share of all expected techniques found in the first three suggestions of their alert.
    pub recall3: f64,
}

/// `rankings[i]`: the ATT&CK IDs suggested for `alerts[i]`, best first.
pub fn accuracy(alerts: &[&LabelledAlert], rankings: &[Vec<String>]) -> Accuracy {
    let mut a = Accuracy::default();
    let (mut expected, mut found3) = (0usize, 0usize);
    for (alert, ranking) in alerts.iter().zip(rankings) {
        if alert.expected.is_empty() {
            continue;
        }
        a.alerts += 1;
        let hit = |k: usize, par: bool| ranking.iter().take(k).any(|s| alert.expected.iter().any(|e| if par { parent(e) == parent(s) } else { e == s }));
        a.top1 += hit(1, false) as u8 as f64;
        a.top3 += hit(3, false) as u8 as f64;
        a.top1_parent += hit(1, true) as u8 as f64;
        a.top3_parent += hit(3, true) as u8 as f64;
        expected += alert.expected.len();
        found3 += alert.expected.iter().filter(|e| ranking.iter().take(3).any(|s| s == *e)).count();
    }
    let n = a.alerts.max(1) as f64;
    a.top1 /= n;
    a.top3 /= n;
    a.top1_parent /= n;
    a.top3_parent /= n;
    a.recall3 = found3 as f64 / expected.max(1) as f64;
    a
}

/// Auto-mapping at a threshold: every suggestion scoring at least the threshold becomes a
/// mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AutoMap {
    pub threshold: f64,
    /// Mappings made, and how many of them are expected.
    pub mapped: usize,
    pub correct: usize,
    /// Expected techniques in all (the denominator of coverage).
    pub expected: usize,
    /// correct / mapped (1 when nothing is mapped).
    pub precision: f64,
    /// correct / expected.
    pub coverage: f64,
    /// Precision at the technique level (a mapped sub-technique whose technique, or a sibling,
    /// is expected counts).
    pub precision_parent: f64,
}

/// `scored[i]`: (ATT&CK ID, score) of the suggestions for `alerts[i]`.
pub fn automap(alerts: &[&LabelledAlert], scored: &[Vec<(String, f64)>], threshold: f64) -> AutoMap {
    let mut m = AutoMap { threshold, ..AutoMap::default() };
    let mut correct_parent = 0;
    for (alert, s) in alerts.iter().zip(scored) {
        m.expected += alert.expected.len();
        for (t, score) in s {
            if *score >= threshold {
                m.mapped += 1;
                m.correct += alert.expected.contains(t) as usize;
                correct_parent += alert.expected.iter().any(|e| parent(e) == parent(t)) as usize;
            }
        }
    }
    m.precision = if m.mapped == 0 { 1.0 } else { m.correct as f64 / m.mapped as f64 };
    m.precision_parent = if m.mapped == 0 { 1.0 } else { correct_parent as f64 / m.mapped as f64 };
    m.coverage = m.correct as f64 / m.expected.max(1) as f64;
    m
}

/// (score, correct) of every suggestion, for choosing a threshold.
pub fn predictions(alerts: &[&LabelledAlert], scored: &[Vec<(String, f64)>]) -> Vec<(f64, bool)> {
    alerts.iter().zip(scored).flat_map(|(a, s)| s.iter().map(|(t, score)| (*score, a.expected.contains(t)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(expected: &[&str]) -> LabelledAlert {
        LabelledAlert {
            id: "L007".into(),
            platform: "windows".into(),
            text: String::new(),
            observables: Vec::new(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn measures() {
        let a = alert(&["T1059.001", "T1105"]);
        let b = alert(&["T1003.001"]);
        let benign = alert(&[]);
        assert_eq!(a.number(), 7);
        let alerts = [&a, &b, &benign];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let acc = accuracy(&alerts, &[s(&["T1059", "T1027", "T1105"]), s(&["T1003.002"]), s(&["T1082"])]);
        assert_eq!(acc.alerts, 2);
        assert_eq!((acc.top1, acc.top3, acc.top1_parent, acc.top3_parent), (0.0, 0.5, 1.0, 1.0));
        assert!((acc.recall3 - 1.0 / 3.0).abs() < 1e-9);
        let sc = |v: &[(&str, f64)]| v.iter().map(|(t, x)| (t.to_string(), *x)).collect::<Vec<_>>();
        let scored = [sc(&[("T1059.001", 0.9), ("T1027", 0.6)]), sc(&[("T1003.001", 0.7)]), sc(&[("T1082", 0.2)])];
        let m = automap(&alerts, &scored, 0.5);
        assert_eq!((m.mapped, m.correct, m.expected), (3, 2, 3));
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-9 && (m.coverage - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(predictions(&alerts, &scored).len(), 4);
    }
}
