//! Analyst views of technique mappings, computed from values: one domain's ATT&CK catalog and
//! the mappings, in; documents out. No I/O: the API, the statistics and the CLI read the
//! mappings and the catalog and hand them over.
//!
//! - [`impact`]: what an ATT&CK release changed in a tenant's mapped techniques (JSON, Markdown).
//! - [`inference`]: where to look next: the techniques an entity lacks, ranked with their evidence.
//! - [`layer`]: ATT&CK Navigator layers (format 4.5) of an entity, or a tenant heatmap.
//! - [`matrix`]: the ATT&CK matrix of an entity or a tenant heatmap, as JSON, SVG or HTML.
//! - [`mitigations`]: ATT&CK mitigations ranked by how much of an entity they cover.
//! - [`report`]: the ATT&CK section of an incident report, as JSON, Markdown or HTML.
//! - [`statistics`]: techniques, tactics and kill-chain phases by distinct entities, from the
//!   kept counters.
//!
//! Every view is of one domain: it takes that domain's catalog and leaves out mappings of any
//! other domain (an entity spanning several domains has one view per domain; [`domains`] tells
//! which). An entity view covers the mappings that name the entity ([`EntityRef::names`]);
//! the caller passes the mappings of the caller's tenant only. Mappings of a technique that
//! ATT&CK has since revoked or deprecated are never dropped: each view says what became of them.
pub mod impact;
pub mod inference;
pub mod layer;
pub mod matrix;
pub mod mitigations;
mod observed;
pub mod report;
pub mod statistics;
pub mod text;

#[cfg(test)]
mod samples;
#[cfg(test)]
pub(crate) mod testing;

use mitre_attack::Domain;
use mitre_domain::Mapping;

pub use layer::{Layer, entity_layer, heatmap_layer};
pub use matrix::{Matrix, matrix};
pub use mitigations::{Recommendations, recommend};
pub use observed::TechniqueState;
pub use report::{Report, report};

/// The alert, incident, case or observable a view is of.
pub use mitre_domain::EntityRef;

/// What a view is of: one entity, or every mapping handed over (a tenant heatmap: the caller
/// chooses the window, entity type or tactic by the mappings it passes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Entity(EntityRef),
    Tenant { title: String },
}

impl Scope {
    pub fn is_heatmap(&self) -> bool {
        matches!(self, Scope::Tenant { .. })
    }

    /// `case C-1`, or the heatmap's title.
    pub fn title(&self) -> String {
        match self {
            Scope::Entity(e) => e.to_string(),
            Scope::Tenant { title } => title.clone(),
        }
    }
}

/// The domains of `mappings`, sorted: more than one means an entity has one view per domain.
pub fn domains(mappings: &[Mapping]) -> Vec<Domain> {
    let mut d: Vec<Domain> = mappings.iter().map(|m| m.domain).collect();
    d.sort();
    d.dedup();
    d
}

/// The domain as ATT&CK names its matrix: `Enterprise`, `Mobile`, `ICS`.
pub(crate) fn domain_label(d: Domain) -> &'static str {
    match d {
        Domain::EnterpriseAttack => "Enterprise",
        Domain::MobileAttack => "Mobile",
        Domain::IcsAttack => "ICS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use mitre_domain::MappingKind;

    #[test]
    fn an_entity_covers_the_mappings_that_name_it() {
        let c = small();
        let case_own = mapping(&c, MappingKind::Case, &[("case_id", "C-1")], "T1059.001", |_| {});
        let alert_of_case = mapping(&c, MappingKind::Alert, &[("alert_id", "A-1"), ("case_id", "C-1")], "T1059", |_| {});
        let alert_only = mapping(&c, MappingKind::Alert, &[("alert_id", "A-2")], "T1059", |_| {});
        let case = EntityRef::new(MappingKind::Case, "C-1");
        assert!(case.names(&case_own) && case.names(&alert_of_case) && !case.names(&alert_only));
        let alert = EntityRef::new(MappingKind::Alert, "A-1");
        assert!(alert.names(&alert_of_case) && !alert.names(&case_own));
        assert_eq!(EntityRef::of(&alert_of_case), Some(EntityRef::new(MappingKind::Alert, "A-1")));
        let case_only_alert = mapping(&c, MappingKind::Alert, &[("case_id", "C-9")], "T1059", |_| {});
        assert_eq!(EntityRef::of(&case_only_alert), Some(EntityRef::new(MappingKind::Case, "C-9")));
        assert_eq!(case.to_string(), "case C-1");
        let mut mobile = alert_only.clone();
        mobile.domain = Domain::MobileAttack;
        assert_eq!(domains(&[alert_only, mobile.clone(), case_own]), [Domain::EnterpriseAttack, Domain::MobileAttack]);
    }
}
