use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the three ATT&CK domains. Each is synced and stored apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    EnterpriseAttack,
    MobileAttack,
    IcsAttack,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::EnterpriseAttack, Domain::MobileAttack, Domain::IcsAttack];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::EnterpriseAttack => "enterprise-attack",
            Domain::MobileAttack => "mobile-attack",
            Domain::IcsAttack => "ics-attack",
        }
    }

    /// The kill_chain_name ATT&CK uses for this domain's kill_chain_phases.
    pub fn kill_chain_name(self) -> &'static str {
        match self {
            Domain::EnterpriseAttack => "mitre-attack",
            Domain::MobileAttack => "mitre-mobile-attack",
            Domain::IcsAttack => "mitre-ics-attack",
        }
    }

    /// The external reference source_name that carries ATT&CK IDs in this domain.
    pub fn is_attack_source_name(name: &str) -> bool {
        matches!(name, "mitre-attack" | "mitre-mobile-attack" | "mitre-ics-attack")
    }

    /// The official STIX 2.1 bundle of this domain (mitre-attack/attack-stix-data).
    pub fn default_source_url(self) -> String {
        format!("https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/{0}/{0}.json", self.as_str())
    }

    /// The ATT&CK TAXII 2.1 collection of this domain.
    pub fn taxii_collection(self) -> &'static str {
        match self {
            Domain::EnterpriseAttack => "x-mitre-collection--1f5f1533-f617-4ca8-9ab4-6a02367fa019",
            Domain::MobileAttack => "x-mitre-collection--dac0d2d7-8653-445c-9bff-82f934c1e858",
            Domain::IcsAttack => "x-mitre-collection--90c00720-636b-4485-b342-8751d232bf09",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ATT&CK domain {0:?}: expected enterprise-attack, mobile-attack or ics-attack")]
pub struct UnknownDomain(pub String);

impl FromStr for Domain {
    type Err = UnknownDomain;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enterprise-attack" | "enterprise" => Ok(Domain::EnterpriseAttack),
            "mobile-attack" | "mobile" => Ok(Domain::MobileAttack),
            "ics-attack" | "ics" => Ok(Domain::IcsAttack),
            _ => Err(UnknownDomain(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for d in Domain::ALL {
            assert_eq!(d.as_str().parse::<Domain>().unwrap(), d);
        }
        assert_eq!("ics".parse::<Domain>().unwrap(), Domain::IcsAttack);
        assert!("pre-attack".parse::<Domain>().is_err());
        assert_eq!(Domain::IcsAttack.kill_chain_name(), "mitre-ics-attack");
    }
}
