//! What a review decides, as the auto-mapping of the tenant learns it: a confirmation or a
//! rejection of an auto-suggested mapping, of its technique on the evidence that produced it.
//! Derived from the write itself ([`verdict`]), so every repository counts it in the same
//! transaction as the write, whichever route made it.
use std::collections::BTreeMap;

use crate::mapping::Mapping;

/// One decision of a review: the technique, the signature of the evidence that suggested it
/// (`mitre_suggest::feedback::signature_of_values`) and whether it was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub technique: String,
    pub signature: String,
    pub confirmed: bool,
}

/// The verdict a write from `old` to `new` carries: a mapping awaiting review that is confirmed
/// (the reviewer recorded) or removed (rejected, or deleted unreviewed, which says the same).
pub fn verdict(old: Option<&Mapping>, new: Option<&Mapping>) -> Option<Verdict> {
    let old = old.filter(|m| m.awaits_review())?;
    let confirmed = match new {
        None => false,
        Some(n) if n.reviewed_by.is_some() => true,
        Some(_) => return None,
    };
    Some(Verdict { technique: old.technique.as_str().to_ascii_uppercase(), signature: mitre_suggest::feedback::signature_of_values(&old.evidence), confirmed })
}

/// A tenant's verdicts: (technique, evidence signature) -> (confirmed, rejected).
pub type Verdicts = BTreeMap<(String, String), (u32, u32)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{alert_mapping, fresh_tenant};
    use crate::mapping::DetectionMethod;

    #[test]
    fn only_a_review_of_an_auto_mapping_is_a_verdict() {
        let t = fresh_tenant("verdict");
        let mut auto = alert_mapping(&t, "A-1", "T1059.001", "2026-01-01T00:00:00Z");
        auto.detection_method = DetectionMethod::AutoSuggested;
        auto.evidence = vec![serde_json::json!({"kind": "rule", "detail": "encoded powershell"})];
        let confirmed = auto.confirmed(None, None, "alice").unwrap();
        let v = verdict(Some(&auto), Some(&confirmed)).unwrap();
        assert_eq!((v.technique.as_str(), v.confirmed), ("T1059.001", true));
        assert_eq!(verdict(Some(&auto), None).map(|v| v.confirmed), Some(false), "removed unreviewed: rejected");
        assert_eq!(v.signature, verdict(Some(&auto), None).unwrap().signature);
        let mut noted = auto.clone();
        noted.notes = Some("looked at it".into());
        assert_eq!(verdict(Some(&auto), Some(&noted)), None, "a change that confirms nothing");
        assert_eq!(verdict(Some(&confirmed), None), None, "a confirmed mapping deleted later is no rejection");
        let manual = alert_mapping(&t, "A-1", "T1059.001", "2026-01-01T00:00:00Z");
        assert_eq!(verdict(Some(&manual), None), None);
        assert_eq!(verdict(None, Some(&auto)), None);
    }
}
