//! Technique mappings of alerts, incidents, cases and observables, and their rules: what a
//! mapping must hold, how a repeated observation merges, what a change may touch.
use std::fmt;

use mitre_attack::catalog::DomainCatalog;
use mitre_attack::{Domain, TechniqueId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Invalid;
use crate::tenant::TenantId;
use crate::time::Timestamp;

pub const MAX_ARTIFACTS: usize = 64 * 1024;
pub const MAX_TEXT: usize = 16 * 1024;
pub const MAX_DETECTION_DETAIL: usize = 1024;

/// The four kinds of mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MappingKind {
    Alert,
    Incident,
    Case,
    Observable,
}

impl MappingKind {
    pub const ALL: [MappingKind; 4] = [MappingKind::Alert, MappingKind::Incident, MappingKind::Case, MappingKind::Observable];

    pub fn as_str(self) -> &'static str {
        match self {
            MappingKind::Alert => "alert",
            MappingKind::Incident => "incident",
            MappingKind::Case => "case",
            MappingKind::Observable => "observable",
        }
    }

    /// The field that names an entity of this kind.
    pub fn entity_field(self) -> &'static str {
        self.entity_fields()[0]
    }

    /// The kind of entity `field` names.
    pub fn of_entity_field(field: &str) -> Option<MappingKind> {
        MappingKind::ALL.into_iter().find(|k| k.entity_field() == field)
    }

    /// The entity fields of this kind: the first names the mapping's own entity; alert and
    /// case mappings may name both an alert and a case.
    pub fn entity_fields(self) -> &'static [&'static str] {
        match self {
            MappingKind::Alert => &["alert_id", "case_id"],
            MappingKind::Case => &["case_id", "alert_id"],
            MappingKind::Incident => &["incident_id"],
            MappingKind::Observable => &["observable_id"],
        }
    }
}

impl fmt::Display for MappingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A closed set of values read from and written as snake_case strings.
macro_rules! closed_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, default $default:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(value: &str) -> Result<$name, Invalid> {
                $name::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| {
                    let allowed: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    Invalid::new($field, format!("{} must be one of {}", $field, allowed.join(", ")))
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_enum!(
    /// How the technique was detected; `auto_suggested`: mapped by the suggestion engine from
    /// alert text and observables (`enrich`).
    DetectionMethod, "detection_method", default ManualAnalysis, {
    Siem => "siem",
    Edr => "edr",
    Ids => "ids",
    ManualAnalysis => "manual_analysis",
    ThreatIntel => "threat_intel",
    Other => "other",
    AutoSuggested => "auto_suggested",
});

closed_enum!(
    /// How bad the technique's use was.
    ImpactLevel, "impact_level", default Medium, {
    Low => "low",
    Medium => "medium",
    High => "high",
});

closed_enum!(
    /// Where the response to the technique stands.
    MitigationStatus, "mitigation_status", default NotStarted, {
    NotStarted => "not_started",
    InProgress => "in_progress",
    Completed => "completed",
});

/// One observation of an ATT&CK technique on an alert, incident, case or observable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mapping {
    /// ULID, time-ordered.
    pub id: String,
    pub kind: MappingKind,
    pub tenant: TenantId,
    /// Alert and case mappings: alert_id and/or case_id (at least one). Incident mappings: incident_id. Observable mappings: observable_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observable_id: Option<String>,
    /// Technique or sub-technique ID, checked against the catalog.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub technique: TechniqueId,
    pub technique_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub domain: Domain,
    /// The tactic's shortname (kill-chain phase), as the catalog calls it now.
    pub tactic: String,
    /// The tactic's identity: its STIX id, which a tactic keeps when ATT&CK renames it.
    /// Absent on mappings written before identities were stored (until `mitre migrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic_id: Option<String>,
    /// 1 to 100.
    pub confidence_score: u8,
    pub detection_method: DetectionMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_detail: Option<String>,
    /// Evidence, at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
    pub impact_level: ImpactLevel,
    pub mitigation_status: MitigationStatus,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Why the suggestion engine mapped it (auto-suggested mappings): one entry per signal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub evidence: Vec<Value>,
    /// Earlier techniques and tactics of the mapping, after ATT&CK upgrades.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub history: Vec<Value>,
    /// Why an analyst should review the mapping, if they should (its technique was deprecated, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_review: Option<String>,
    /// Who confirmed the (auto-suggested) mapping in review, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<Timestamp>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_by: String,
    pub updated_at: Timestamp,
    /// Bumped by every change (a change of its entities' access included); the ETag is this
    /// number in quotes.
    pub version: u64,
    /// Who may see it: the access of each entity it names, as it was when the mapping was last
    /// written (kept current by every access change).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub access: crate::access::Stamps,
}

/// The body of POST (technique required, the kind's entity ids required) and PATCH (any subset;
/// entity ids cannot change). Unknown fields are refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingInput {
    pub alert_id: Option<String>,
    pub case_id: Option<String>,
    pub incident_id: Option<String>,
    pub observable_id: Option<String>,
    pub technique: Option<String>,
    /// A TA id, name or shortname; required when the technique is in several tactics, filled in when it has one.
    pub tactic: Option<String>,
    /// 1 to 100; default 50.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    #[serde(default, deserialize_with = "integral")]
    pub confidence_score: Option<i64>,
    /// Default manual_analysis.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DetectionMethod>))]
    pub detection_method: Option<String>,
    pub detection_detail: Option<String>,
    pub artifacts: Option<String>,
    /// Default medium.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ImpactLevel>))]
    pub impact_level: Option<String>,
    /// Default not_started.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<MitigationStatus>))]
    pub mitigation_status: Option<String>,
    /// RFC 3339; default now.
    pub first_observed: Option<String>,
    /// RFC 3339; default now; not before first_observed.
    pub last_observed: Option<String>,
    pub notes: Option<String>,
}

/// An integer, also as JSON writes it with a zero fraction (`95.0` is the integer 95).
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            _ => Err(serde::de::Error::custom(format!("invalid type: {n} is not an integer"))),
        },
    }
}

/// A technique (and the tactic it was observed in) checked against the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub technique: TechniqueId,
    pub name: String,
    pub domain: Domain,
    pub tactic: String,
    pub tactic_id: String,
}

/// Checks `technique` (and `tactic`, a TA id, name, shortname or STIX id) against the synced
/// catalogs: revoked and deprecated techniques are refused (a revoked one naming its
/// replacement); the tactic is filled in when the technique has one, else required.
pub fn resolve<'a>(catalogs: impl IntoIterator<Item = &'a DomainCatalog>, technique: &str, tactic: Option<&str>) -> Result<Resolved, Invalid> {
    let id = TechniqueId::parse(technique).map_err(|e| Invalid::new("technique", e.to_string()))?;
    for c in catalogs {
        let Some(t) = c.technique_by_attack_id(id.as_str()) else { continue };
        if t.revoked {
            let by = c.relationships_from(&t.stix_id, Some("revoked-by")).find_map(|r| c.technique_by_stix_id(&r.target_ref));
            let message = match by {
                Some(b) => format!("{} is revoked; use {} ({}) instead", t.attack_id, b.attack_id, b.name),
                None => format!("{} is revoked", t.attack_id),
            };
            return Err(Invalid::new("technique", message).with(json!({ "revoked_by": by.map(|b| &b.attack_id) })));
        }
        if t.deprecated {
            return Err(Invalid::new("technique", format!("{} is deprecated in ATT&CK {}", t.attack_id, c.version)));
        }
        let allowed = || json!({ "allowed": t.tactics });
        let shortname = match tactic {
            Some(given) => {
                let shortname = c.tactic(given).map(|x| x.shortname.clone()).unwrap_or_else(|| given.to_string());
                if !t.tactics.contains(&shortname) {
                    return Err(
                        Invalid::new("tactic", format!("{} is not in tactic {given:?}; it is in {}", t.attack_id, t.tactics.join(", "))).with(allowed())
                    );
                }
                shortname
            }
            None if t.tactics.len() == 1 => t.tactics[0].clone(),
            None => return Err(Invalid::new("tactic", format!("{} is in several tactics; say which one it was observed in", t.attack_id)).with(allowed())),
        };
        let tactic_id = c
            .tactic(&shortname)
            .map(|x| x.stix_id.clone())
            .ok_or_else(|| Invalid::new("tactic", format!("{} names tactic {shortname}, which its domain lacks", t.attack_id)))?;
        let technique = TechniqueId::parse(&t.attack_id).map_err(|e| Invalid::new("technique", e.to_string()))?;
        return Ok(Resolved { technique, name: t.name.clone(), domain: c.domain, tactic: shortname, tactic_id });
    }
    Err(Invalid::new("technique", format!("{id} is not an ATT&CK technique of any synced domain")))
}

/// An entity id: 1 to 128 letters, digits, '-', '_', '.' or ':'.
pub fn entity_id(field: &str, value: &str) -> Result<String, Invalid> {
    let ok = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok { Ok(value.to_string()) } else { Err(Invalid::new(field, format!("{field} must be 1 to 128 letters, digits, '-', '_', '.' or ':'"))) }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    if value.len() <= max { Ok(value.to_string()) } else { Err(Invalid::new(field, format!("{field} is longer than {max} bytes"))) }
}

fn timestamp(field: &str, value: &str) -> Result<Timestamp, Invalid> {
    Timestamp::parse(value).map_err(|_| Invalid::new(field, format!("{field} must be an RFC 3339 timestamp, not {value:?}")))
}

impl MappingInput {
    fn entity_values(&self) -> [(&'static str, &Option<String>); 4] {
        [("alert_id", &self.alert_id), ("case_id", &self.case_id), ("incident_id", &self.incident_id), ("observable_id", &self.observable_id)]
    }

    /// The entity ids of a POST body for `kind`, checked: (alert, case, incident, observable).
    pub fn entities(&self, kind: MappingKind) -> Result<[Option<String>; 4], Invalid> {
        let mut entities: [Option<String>; 4] = Default::default();
        let fields = kind.entity_fields();
        for (i, (name, value)) in self.entity_values().into_iter().enumerate() {
            if let Some(v) = value {
                if !fields.contains(&name) {
                    return Err(Invalid::new(name, format!("a {kind} mapping has no {name}")));
                }
                entities[i] = Some(entity_id(name, v)?);
            }
        }
        if entities.iter().all(Option::is_none) {
            return Err(Invalid::new(fields[0], format!("a {kind} mapping needs {}", fields.join(" or "))));
        }
        Ok(entities)
    }

    /// A PATCH body names no entity id: a mapping's entities never change.
    pub fn keeps_entities(&self) -> Result<(), Invalid> {
        match self.entity_values().into_iter().find(|(_, v)| v.is_some()) {
            Some((name, _)) => Err(Invalid::new(name, format!("{name} of a mapping cannot change; create a new mapping"))),
            None => Ok(()),
        }
    }

    /// The technique of a POST body.
    pub fn required_technique(&self) -> Result<&str, Invalid> {
        self.technique.as_deref().ok_or_else(|| Invalid::new("technique", "technique is required"))
    }
}

impl Mapping {
    /// A new mapping of `kind` in `tenant` from a POST body, with its technique resolved.
    pub fn create(kind: MappingKind, tenant: &TenantId, input: &MappingInput, resolved: Resolved, by: &str) -> Result<Mapping, Invalid> {
        let [alert_id, case_id, incident_id, observable_id] = input.entities(kind)?;
        let at = Timestamp::now();
        let mut m = Mapping {
            id: crate::new_id(),
            kind,
            tenant: tenant.clone(),
            alert_id,
            case_id,
            incident_id,
            observable_id,
            technique: resolved.technique,
            technique_name: resolved.name,
            domain: resolved.domain,
            tactic: resolved.tactic,
            tactic_id: Some(resolved.tactic_id),
            confidence_score: 50,
            detection_method: DetectionMethod::default(),
            detection_detail: None,
            artifacts: None,
            impact_level: ImpactLevel::default(),
            mitigation_status: MitigationStatus::default(),
            first_observed: at,
            last_observed: at,
            notes: None,
            evidence: Vec::new(),
            history: Vec::new(),
            needs_review: None,
            reviewed_by: None,
            reviewed_at: None,
            created_by: by.to_string(),
            created_at: at,
            updated_by: by.to_string(),
            updated_at: at,
            version: 1,
            access: Default::default(),
        };
        // One end of the window given: the other defaults to now, widened to hold it.
        match (&input.first_observed, &input.last_observed) {
            (None, Some(last)) => m.first_observed = timestamp("last_observed", last)?.min(m.first_observed),
            (Some(first), None) => m.last_observed = timestamp("first_observed", first)?.max(m.last_observed),
            _ => {}
        }
        m.apply(input)?;
        Ok(m)
    }

    /// The mapping changed by a PATCH body (entity ids cannot change), with its technique and
    /// tactic re-resolved when the body names either; the version is bumped.
    pub fn updated(&self, input: &MappingInput, resolved: Option<Resolved>, by: &str) -> Result<Mapping, Invalid> {
        input.keeps_entities()?;
        let mut new = self.clone();
        if let Some(r) = resolved {
            new.technique = r.technique;
            new.technique_name = r.name;
            new.domain = r.domain;
            new.tactic = r.tactic;
            new.tactic_id = Some(r.tactic_id);
            new.needs_review = None;
        }
        new.apply(input)?;
        new.touch(by);
        Ok(new)
    }

    /// The technique and tactic a PATCH body asks to resolve, if it names either: a new
    /// technique without a tactic is resolved afresh, a new tactic alone against the current technique.
    pub fn technique_change<'a>(&'a self, input: &'a MappingInput) -> Option<(String, Option<&'a str>)> {
        if input.technique.is_none() && input.tactic.is_none() {
            return None;
        }
        let technique = input.technique.clone().unwrap_or_else(|| self.technique.to_string());
        let tactic = input.tactic.as_deref().or(if input.technique.is_some() { None } else { Some(self.tactic.as_str()) });
        Some((technique, tactic))
    }

    /// The mapping confirmed in review by `by`: the reviewer recorded, the flag cleared, the
    /// tactic (re-resolved) and the confidence as the reviewer set them; the version is bumped.
    pub fn confirmed(&self, tactic: Option<Resolved>, confidence: Option<i64>, by: &str) -> Result<Mapping, Invalid> {
        let mut new = self.clone();
        if let Some(r) = tactic {
            (new.tactic, new.tactic_id) = (r.tactic, Some(r.tactic_id));
        }
        if let Some(c) = confidence {
            if !(1..=100).contains(&c) {
                return Err(Invalid::new("confidence_score", "confidence_score must be from 1 to 100"));
            }
            new.confidence_score = c as u8;
        }
        new.needs_review = None;
        (new.reviewed_by, new.reviewed_at) = (Some(by.to_string()), Some(Timestamp::now()));
        new.touch(by);
        Ok(new)
    }

    /// Auto-suggested and not yet confirmed: what the review queue holds.
    pub fn awaits_review(&self) -> bool {
        self.detection_method == DetectionMethod::AutoSuggested && self.reviewed_by.is_none()
    }

    /// The same entity, technique and tactic observed again: the union of the windows and the
    /// higher confidence; the version is bumped.
    pub fn merged_with(&self, observation: &Mapping, by: &str) -> Mapping {
        let mut merged = self.clone();
        merged.first_observed = self.first_observed.min(observation.first_observed);
        merged.last_observed = self.last_observed.max(observation.last_observed);
        merged.confidence_score = self.confidence_score.max(observation.confidence_score);
        merged.touch(by);
        merged
    }

    /// The fields every body may set, checked.
    fn apply(&mut self, input: &MappingInput) -> Result<(), Invalid> {
        if let Some(c) = input.confidence_score {
            if !(1..=100).contains(&c) {
                return Err(Invalid::new("confidence_score", "confidence_score must be from 1 to 100"));
            }
            self.confidence_score = c as u8;
        }
        if let Some(v) = &input.detection_method {
            self.detection_method = DetectionMethod::parse(v)?;
            if self.detection_method == DetectionMethod::AutoSuggested {
                return Err(Invalid::new("detection_method", "auto_suggested is set by enrich, not by hand"));
            }
        }
        if let Some(v) = &input.detection_detail {
            self.detection_detail = Some(text("detection_detail", v, MAX_DETECTION_DETAIL)?);
        }
        if let Some(v) = &input.artifacts {
            self.artifacts = Some(text("artifacts", v, MAX_ARTIFACTS)?);
        }
        if let Some(v) = &input.impact_level {
            self.impact_level = ImpactLevel::parse(v)?;
        }
        if let Some(v) = &input.mitigation_status {
            self.mitigation_status = MitigationStatus::parse(v)?;
        }
        if let Some(v) = &input.first_observed {
            self.first_observed = timestamp("first_observed", v)?;
        }
        if let Some(v) = &input.last_observed {
            self.last_observed = timestamp("last_observed", v)?;
        }
        if self.first_observed > self.last_observed {
            return Err(Invalid::new("first_observed", "first_observed is after last_observed"));
        }
        if let Some(v) = &input.notes {
            self.notes = Some(text("notes", v, MAX_TEXT)?);
        }
        Ok(())
    }

    /// A change by `by`, now: the next version.
    pub fn touch(&mut self, by: &str) {
        self.updated_by = by.to_string();
        self.updated_at = Timestamp::now();
        self.version += 1;
    }

    /// The entities the mapping names (its own first).
    pub fn entities(&self) -> Vec<crate::access::EntityRef> {
        self.kind
            .entity_fields()
            .iter()
            .filter_map(|f| Some(crate::access::EntityRef { kind: MappingKind::of_entity_field(f)?, id: self.entity(f)?.to_string() }))
            .collect()
    }

    /// The mapping with the copies of its entities' access: the record of each entity it names.
    pub fn stamped(mut self, records: &[crate::access::EntityAccess]) -> Mapping {
        self.access = self.entities().iter().filter_map(|e| records.iter().find(|r| &r.entity == e)).map(|r| (r.entity.kind, r.stamp())).collect();
        self
    }

    pub fn entity(&self, field: &str) -> Option<&str> {
        match field {
            "alert_id" => self.alert_id.as_deref(),
            "case_id" => self.case_id.as_deref(),
            "incident_id" => self.incident_id.as_deref(),
            "observable_id" => self.observable_id.as_deref(),
            _ => None,
        }
    }

    /// What identifies the tactic: its STIX id, or the shortname for mappings written before
    /// identities were stored.
    pub fn tactic_key(&self) -> &str {
        self.tactic_id.as_deref().unwrap_or(&self.tactic)
    }

    /// What makes two mappings the same observation: the entities, the technique and the tactic.
    pub fn sameness(&self) -> String {
        let entities: Vec<&str> = self.kind.entity_fields().iter().map(|f| self.entity(f).unwrap_or("-")).collect();
        format!("{}#{}#{}", entities.join("#"), self.technique, self.tactic_key())
    }

    /// `alert-mappings/{id}`: the mapping's path under the API, the target of its audit entries.
    pub fn target(&self) -> String {
        format!("{}-mappings/{}", self.kind, self.id)
    }

    /// True when `expected` (an If-Match precondition) holds for this mapping.
    pub fn matches(&self, expected: Precondition) -> bool {
        match expected {
            Precondition::Any => true,
            Precondition::Version(v) => v == self.version,
        }
    }
}

/// An If-Match precondition: any current representation (`*`), or one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Version(u64),
}
