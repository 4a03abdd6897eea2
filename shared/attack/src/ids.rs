//! Identifier newtypes that validate on construction.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is not valid: {expected}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// A technique or sub-technique ID: `T1059` or `T1059.001` (upper-cased on parse).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TechniqueId(String);

impl TechniqueId {
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let v = value.trim().to_ascii_uppercase();
        let b = v.as_bytes();
        let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        let ok = match b.len() {
            5 => b[0] == b'T' && digits(&b[1..5]),
            9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..9]),
            _ => false,
        };
        if ok { Ok(TechniqueId(v)) } else { Err(InvalidId { kind: "technique id", value: value.to_string(), expected: "T#### or T####.###" }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_subtechnique(&self) -> bool {
        self.0.len() == 9
    }

    /// The parent technique of a sub-technique (`T1059.001` gives `T1059`).
    pub fn parent(&self) -> Option<TechniqueId> {
        self.is_subtechnique().then(|| TechniqueId(self.0[..5].to_string()))
    }
}

impl fmt::Display for TechniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TechniqueId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TechniqueId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Any ATT&CK external ID (`TA0006`, `T1003`, `M1036`, `G0007`, `S0002`, `C0010`, `DS0017`, `DET0103`, `AN0110`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AttackId(String);

impl AttackId {
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let v = value.trim().to_ascii_uppercase();
        let letters = v.bytes().take_while(u8::is_ascii_alphabetic).count();
        let rest = &v[letters..];
        let (num, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let ok = (1..=3).contains(&letters)
            && (4..=5).contains(&num.len())
            && num.bytes().all(|c| c.is_ascii_digit())
            && sub.is_none_or(|s| s.len() == 3 && s.bytes().all(|c| c.is_ascii_digit()));
        if ok {
            Ok(AttackId(v))
        } else {
            Err(InvalidId { kind: "ATT&CK id", value: value.to_string(), expected: "letters then digits, like TA0006, T1059.001 or M1036" })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A STIX identifier: `type--uuid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StixId(String);

impl StixId {
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let err = || InvalidId { kind: "STIX id", value: value.to_string(), expected: "type--uuid" };
        let (ty, uuid) = value.split_once("--").ok_or_else(err)?;
        let type_ok = !ty.is_empty() && ty.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        let uuid_ok = uuid.len() == 36 && uuid.bytes().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_hexdigit() });
        if type_ok && uuid_ok { Ok(StixId(value.to_string())) } else { Err(err()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn object_type(&self) -> &str {
        self.0.split_once("--").map(|(t, _)| t).unwrap_or_default()
    }
}

impl fmt::Display for StixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids() {
        assert_eq!(TechniqueId::parse("t1059.001").unwrap().as_str(), "T1059.001");
        assert_eq!(TechniqueId::parse("T1059.001").unwrap().parent().unwrap().as_str(), "T1059");
        assert!(TechniqueId::parse("T1059").unwrap().parent().is_none());
        for bad in ["", "T105", "T10599", "T1059.01", "TA0006", "X1059", "T1059.0011", "T1059-001"] {
            assert!(TechniqueId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn attack_ids() {
        for good in ["TA0006", "T1003", "T1003.001", "M1036", "G0007", "S0002", "DS0017", "DET0103", "AN0110"] {
            assert!(AttackId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1234", "TACT0001", "T12", "T1003.1", "T-1003"] {
            assert!(AttackId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stix_ids() {
        let id = StixId::parse("attack-pattern--0042a9f5-f053-4769-b3ef-9ad018dfa298").unwrap();
        assert_eq!(id.object_type(), "attack-pattern");
        assert!(StixId::parse("attack-pattern--nope").is_err());
        assert!(StixId::parse("0042a9f5-f053-4769-b3ef-9ad018dfa298").is_err());
    }
}
