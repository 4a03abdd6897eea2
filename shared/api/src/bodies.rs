//! Response bodies. These are the API's contract (and its OpenAPI schemas), apart from the
//! catalog's own types.
use mitre_attack::Domain;
use mitre_attack::catalog::{DomainCatalog, Entity, Relationship, Tactic, Technique};
use serde::Serialize;
use utoipa::ToSchema;

/// A list page: the items and the cursor of the next page (null on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_parameter`, `not_found`.
    pub code: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// A short reference to another catalog object.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ObjectRef {
    pub attack_id: Option<String>,
    pub stix_id: String,
    pub name: String,
    /// The relationship's own description (how this object relates), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    /// Groups only: how ATT&CK credits the group with the use, `direct` and/or through each
    /// campaign attributed to the group. Absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credited: Option<Vec<CreditView>>,
}

/// One way a group is credited with using a technique or software.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CreditView {
    /// `direct`: the group's own "uses" relationship; `campaign`: a campaign attributed to the group uses it.
    pub via: String,
    /// The campaign's ATT&CK ID, for `campaign`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TacticView {
    pub attack_id: String,
    pub stix_id: String,
    pub shortname: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = String)]
    pub domain: Domain,
    /// 1-based position in the domain's matrix.
    pub order: u32,
    pub url: Option<String>,
    /// Active techniques and sub-techniques in this tactic.
    pub technique_count: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TacticDetail {
    #[serde(flatten)]
    pub tactic: TacticView,
    pub techniques: Vec<ObjectRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TechniqueView {
    pub attack_id: String,
    pub stix_id: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = String)]
    pub domain: Domain,
    /// Tactic shortnames (kill-chain phases) of the technique.
    pub tactics: Vec<String>,
    pub platforms: Vec<String>,
    pub is_subtechnique: bool,
    /// The parent technique's ATT&CK ID for a sub-technique.
    pub parent: Option<String>,
    pub revoked: bool,
    pub deprecated: bool,
    pub url: Option<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TechniqueDetail {
    #[serde(flatten)]
    pub technique: TechniqueView,
    pub subtechniques: Vec<ObjectRef>,
    pub mitigations: Vec<ObjectRef>,
    pub groups: Vec<ObjectRef>,
    pub software: Vec<ObjectRef>,
    pub campaigns: Vec<ObjectRef>,
    pub detection_strategies: Vec<ObjectRef>,
    /// The technique that replaces a revoked one.
    pub revoked_by: Option<ObjectRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityView {
    pub attack_id: Option<String>,
    pub stix_id: String,
    /// STIX type: course-of-action, intrusion-set, malware, tool, campaign, ...
    #[serde(rename = "type")]
    pub object_type: String,
    pub name: String,
    pub description: String,
    pub aliases: Vec<String>,
    pub platforms: Vec<String>,
    #[schema(value_type = String)]
    pub domain: Domain,
    pub revoked: bool,
    pub deprecated: bool,
    pub url: Option<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityDetail {
    #[serde(flatten)]
    pub entity: EntityView,
    /// Techniques the mitigation mitigates, or the group or software uses (a group's also
    /// through the campaigns attributed to it, with `credited`).
    pub techniques: Vec<ObjectRef>,
    /// Software a group uses, directly or through its campaigns (with `credited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<Vec<ObjectRef>>,
    /// Groups using a piece of software, directly or through their campaigns (with `credited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<ObjectRef>>,
    pub revoked_by: Option<ObjectRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelationshipView {
    pub stix_id: String,
    pub relationship_type: String,
    pub source_ref: String,
    pub target_ref: String,
    pub source: Option<ObjectRef>,
    pub target: Option<ObjectRef>,
    pub description: Option<String>,
    #[schema(value_type = String)]
    pub domain: Domain,
    pub revoked: bool,
    pub deprecated: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KillChainPhaseView {
    #[schema(value_type = String)]
    pub domain: Domain,
    pub kill_chain_name: String,
    pub phase_name: String,
    pub tactic_id: String,
    pub tactic: String,
    pub order: u32,
    pub technique_count: usize,
}

pub fn technique_view(c: &DomainCatalog, t: &Technique) -> TechniqueView {
    TechniqueView {
        attack_id: t.attack_id.clone(),
        stix_id: t.stix_id.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        domain: c.domain,
        tactics: t.tactics.clone(),
        platforms: t.platforms.clone(),
        is_subtechnique: t.is_subtechnique,
        parent: t.parent.clone(),
        revoked: t.revoked,
        deprecated: t.deprecated,
        url: t.url.clone(),
        created: t.created.clone(),
        modified: t.modified.clone(),
        version: t.version.clone(),
    }
}

pub fn tactic_view(c: &DomainCatalog, t: &Tactic, technique_count: usize) -> TacticView {
    TacticView {
        attack_id: t.attack_id.clone(),
        stix_id: t.stix_id.clone(),
        shortname: t.shortname.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        domain: c.domain,
        order: t.order,
        url: t.url.clone(),
        technique_count,
    }
}

pub fn entity_view(c: &DomainCatalog, e: &Entity) -> EntityView {
    EntityView {
        attack_id: e.attack_id.clone(),
        stix_id: e.stix_id.clone(),
        object_type: e.object_type.clone(),
        name: e.name.clone(),
        description: e.description.clone(),
        aliases: e.aliases.clone(),
        platforms: e.platforms.clone(),
        domain: c.domain,
        revoked: e.revoked,
        deprecated: e.deprecated,
        url: e.url.clone(),
        created: e.created.clone(),
        modified: e.modified.clone(),
    }
}

pub fn relationship_view(c: &DomainCatalog, r: &Relationship) -> RelationshipView {
    RelationshipView {
        stix_id: r.stix_id.clone(),
        relationship_type: r.relationship_type.clone(),
        source_ref: r.source_ref.clone(),
        target_ref: r.target_ref.clone(),
        source: object_ref(c, &r.source_ref, None),
        target: object_ref(c, &r.target_ref, None),
        description: r.description.clone(),
        domain: c.domain,
        revoked: r.revoked,
        deprecated: r.deprecated,
    }
}

/// A reference to the object `stix_id`, with a relationship description.
pub fn object_ref(c: &DomainCatalog, stix_id: &str, relationship: Option<&str>) -> Option<ObjectRef> {
    use mitre_attack::catalog::ObjectRef as R;
    let (attack_id, name) = match c.object(stix_id)? {
        R::Tactic(i) => (Some(c.tactics[i].attack_id.clone()), c.tactics[i].name.clone()),
        R::Technique(i) => (Some(c.techniques[i].attack_id.clone()), c.techniques[i].name.clone()),
        other => {
            let e = c.entity(other)?;
            (e.attack_id.clone(), e.name.clone())
        }
    };
    Some(ObjectRef { attack_id, stix_id: stix_id.to_string(), name, relationship: relationship.map(str::to_string), credited: None })
}
