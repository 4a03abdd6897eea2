//! Typed view of the STIX objects ATT&CK publishes (2.0 and 2.1 alike).
//!
//! Only the fields the product uses are named; unknown fields are ignored and
//! `null` is read as absent, so a new ATT&CK release with extra fields loads.
use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use crate::domain::Domain;

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ExternalReference<'a> {
    #[serde(borrow, default)]
    pub source_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub external_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub url: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KillChainPhase<'a> {
    #[serde(borrow)]
    pub kill_chain_name: Cow<'a, str>,
    #[serde(borrow)]
    pub phase_name: Cow<'a, str>,
}

/// One STIX object of an ATT&CK bundle.
#[derive(Debug, Clone, Deserialize)]
pub struct StixObject<'a> {
    #[serde(rename = "type", borrow)]
    pub object_type: Cow<'a, str>,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub description: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub created: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub modified: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "null_default")]
    pub revoked: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub x_mitre_deprecated: bool,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub external_references: Vec<ExternalReference<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub kill_chain_phases: Vec<KillChainPhase<'a>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub x_mitre_platforms: Vec<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub x_mitre_domains: Vec<Cow<'a, str>>,
    #[serde(default, deserialize_with = "null_default")]
    pub x_mitre_is_subtechnique: bool,
    #[serde(borrow, default)]
    pub x_mitre_shortname: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub tactic_refs: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub relationship_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub source_ref: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub target_ref: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub aliases: Vec<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub x_mitre_aliases: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub x_mitre_version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub x_mitre_analytic_refs: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub x_mitre_data_source_ref: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_default")]
    pub x_mitre_contents: Vec<CollectionContent<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CollectionContent<'a> {
    #[serde(borrow)]
    pub object_ref: Cow<'a, str>,
}

impl<'a> StixObject<'a> {
    /// The ATT&CK ID from the object's `mitre-attack` (or mobile / ics) external reference.
    pub fn attack_id(&self) -> Option<&str> {
        self.attack_reference().and_then(|r| r.external_id.as_deref())
    }

    /// The attack.mitre.org page of the object.
    pub fn url(&self) -> Option<&str> {
        self.attack_reference().and_then(|r| r.url.as_deref())
    }

    fn attack_reference(&self) -> Option<&ExternalReference<'a>> {
        self.external_references.iter().find(|r| r.source_name.as_deref().is_some_and(Domain::is_attack_source_name))
    }

    pub fn is_technique(&self) -> bool {
        self.object_type == "attack-pattern"
    }

    /// Revoked or deprecated: kept and flagged, but not part of the active catalog.
    pub fn is_active(&self) -> bool {
        !self.revoked && !self.x_mitre_deprecated
    }

    /// Tactic shortnames of a technique in `domain` (kill_chain_phases whose kill_chain_name is the domain's).
    pub fn tactic_shortnames(&self, domain: Domain) -> impl Iterator<Item = &str> {
        self.kill_chain_phases.iter().filter(move |p| p.kill_chain_name == domain.kill_chain_name()).map(|p| p.phase_name.as_ref())
    }

    /// Aliases from either STIX field (groups and campaigns use `aliases`, software `x_mitre_aliases`).
    pub fn all_aliases(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().chain(self.x_mitre_aliases.iter()).map(AsRef::as_ref)
    }
}
