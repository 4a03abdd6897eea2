//! Who sees which entity: the platform restricts an alert, incident, case or observable to
//! groups of principals, and this module mirrors it. An entity without an access record is open
//! to its whole tenant; one with a record only to principals holding one of its groups (tenant
//! admins, superusers and the tenant's integration see every entity of their tenant). A mapping
//! is visible when every entity it names is.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::mapping::{Mapping, MappingKind};
use crate::role::Role;
use crate::time::Timestamp;

/// At most this many groups per principal and per entity.
pub const MAX_GROUPS: usize = 32;

/// One entity of the platform: its kind and its validated id (1 to 128 letters, digits, '-',
/// '_', '.' or ':').
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntityRef {
    pub kind: MappingKind,
    pub id: String,
}

impl EntityRef {
    pub fn parse(kind: MappingKind, id: &str) -> Result<EntityRef, Invalid> {
        let field = kind.entity_field();
        crate::mapping::entity_id(field, id).map(|id| EntityRef { kind, id })
    }

    /// An entity of an id already checked (one a stored mapping names).
    pub fn new(kind: MappingKind, id: impl Into<String>) -> EntityRef {
        EntityRef { kind, id: id.into() }
    }

    /// The entity a mapping is first of: its kind's own entity, else the other one it names
    /// (an alert mapping naming only a case is of the case). What a heatmap counts.
    pub fn of(m: &Mapping) -> Option<EntityRef> {
        m.entities().into_iter().next()
    }

    /// The mapping field that names an entity of this kind (`alert_id`, ...).
    pub fn field(&self) -> &'static str {
        self.kind.entity_field()
    }

    /// True when `m` names this entity: a case's own mappings and the alert mappings that name
    /// the case; an alert's own mappings and the case mappings that name the alert; an
    /// incident's or observable's own mappings.
    pub fn names(&self, m: &Mapping) -> bool {
        m.entity(self.field()) == Some(self.id.as_str())
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// A group name: 1 to 128 letters, digits, '-', '_', '.', ':', '/' or '@'.
pub fn group(value: &str) -> Result<String, Invalid> {
    let ok = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err(Invalid::new("groups", format!("{value:?} is not a group: 1 to 128 letters, digits, '-', '_', '.', ':', '/' or '@'")))
    }
}

/// Groups, checked, without repeats, in order; at most [`MAX_GROUPS`].
pub fn groups<S: AsRef<str>>(values: &[S]) -> Result<Vec<String>, Invalid> {
    if values.len() > MAX_GROUPS {
        return Err(Invalid::new("groups", format!("at most {MAX_GROUPS} groups")));
    }
    let set: BTreeSet<String> = values.iter().map(|v| group(v.as_ref())).collect::<Result<_, _>>()?;
    Ok(set.into_iter().collect())
}

/// The access of one entity as stored: `groups` None when the entity is open to its tenant.
/// `version` counts access changes (0: never restricted), `mappings` the mappings naming the
/// entity (what an access change must find in the entity's index partition before it applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntityAccess {
    pub entity: EntityRef,
    /// Who may see the entity besides tenant admins; absent: everyone in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Bumped by every change of access; the ETag is this number in quotes.
    pub version: u64,
    /// How many mappings name the entity.
    #[serde(default)]
    pub mappings: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// A change of a large entity under way (or interrupted: the next change resumes it);
    /// mapping writes of the entity wait until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// The two accesses a change of a large entity moves its mappings between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pending {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
}

/// Who may see an entity under every one of `accesses` (None: open): the groups all of them
/// admit; open only when every one is.
pub fn intersection<'a>(accesses: impl IntoIterator<Item = Option<&'a Vec<String>>>) -> Option<Vec<String>> {
    let mut out: Option<BTreeSet<String>> = None;
    for a in accesses.into_iter().flatten() {
        let set: BTreeSet<String> = a.iter().cloned().collect();
        out = Some(match out {
            None => set,
            Some(o) => o.intersection(&set).cloned().collect(),
        });
    }
    out.map(|s| s.into_iter().collect())
}

impl EntityAccess {
    /// An entity no record names: open, never restricted.
    pub fn open(entity: EntityRef) -> EntityAccess {
        EntityAccess { entity, groups: None, version: 0, mappings: 0, updated_at: None, updated_by: None, pending: None }
    }

    /// The same entity with `groups` (None: open again), changed by `by` now: the next version.
    pub fn changed(&self, groups: Option<Vec<String>>, by: &str) -> EntityAccess {
        EntityAccess { groups, version: self.version + 1, updated_at: Some(Timestamp::now()), updated_by: Some(by.to_string()), pending: None, ..self.clone() }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { version: self.version, groups: self.groups.clone() }
    }

    pub fn is_restricted(&self) -> bool {
        self.groups.is_some()
    }
}

/// The access of one entity a mapping names, copied onto the mapping when it was last written
/// (so that a list reads who may see each mapping with the mapping itself).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stamp {
    /// The version of the entity's access record the copy is of.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// The copies of the access of a mapping's entities, by entity kind.
pub type Stamps = BTreeMap<MappingKind, Stamp>;

/// What a caller may see of its tenant's entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Sight {
    /// Every entity (tenant admins, superusers, the tenant's integration, the operator).
    #[default]
    Everything,
    /// Open entities and those restricted to one of these groups.
    Groups(BTreeSet<String>),
}

impl Sight {
    /// What a principal of `role` holding `groups` sees.
    pub fn of(role: Role, groups: &[String]) -> Sight {
        match role {
            Role::Admin | Role::Superuser | Role::Integration => Sight::Everything,
            Role::Viewer | Role::Analyst => Sight::Groups(groups.iter().cloned().collect()),
        }
    }

    /// Whether an entity restricted to `groups` (None: open) is visible.
    pub fn admits(&self, groups: Option<&[String]>) -> bool {
        match (self, groups) {
            (Sight::Everything, _) | (_, None) => true,
            (Sight::Groups(mine), Some(theirs)) => theirs.iter().any(|g| mine.contains(g)),
        }
    }

    pub fn sees_entity(&self, access: &EntityAccess) -> bool {
        self.admits(access.groups.as_deref())
    }

    /// Whether the mapping is visible: every entity it names is, as its copies say.
    pub fn sees(&self, m: &Mapping) -> bool {
        m.access.values().all(|s| self.admits(s.groups.as_deref()))
    }

    pub fn sees_everything(&self) -> bool {
        matches!(self, Sight::Everything)
    }
}

/// The mark of a redacted entity id (`~1`, `~2`, ...): no entity id holds it.
pub const REDACTED: char = '~';

/// The mappings as a tenant-wide aggregate may show them to `sight`: a mapping the caller may
/// not see keeps what counts (technique, tactic, domain, times, confidence, impact, status,
/// the number of distinct entities) and loses what names or describes it: its id (empty),
/// its entity ids (`~1`, `~2`, ..., one per distinct entity of this answer), its text fields,
/// evidence, history and authors.
pub fn redacted(mappings: Vec<Mapping>, sight: &Sight) -> Vec<Mapping> {
    let mut tokens: BTreeMap<EntityRef, String> = BTreeMap::new();
    mappings
        .into_iter()
        .map(|mut m| {
            if sight.sees(&m) {
                return m;
            }
            for e in m.entities() {
                let next = tokens.len() + 1;
                let token = tokens.entry(e.clone()).or_insert_with(|| format!("{REDACTED}{next}")).clone();
                match e.kind {
                    MappingKind::Alert => m.alert_id = Some(token),
                    MappingKind::Case => m.case_id = Some(token),
                    MappingKind::Incident => m.incident_id = Some(token),
                    MappingKind::Observable => m.observable_id = Some(token),
                }
            }
            m.id = String::new();
            (m.detection_detail, m.artifacts, m.notes, m.needs_review) = (None, None, None, None);
            m.evidence.clear();
            m.history.clear();
            m.access.clear();
            (m.created_by, m.updated_by) = (String::new(), String::new());
            m
        })
        .collect()
}

impl EntityRef {
    /// An entity [`redacted`] for an aggregate.
    pub fn is_redacted(&self) -> bool {
        self.id.starts_with(REDACTED)
    }
}

/// What a route needs of its caller's role, declared in the route table and checked before the
/// handler runs. Not a ladder: the integration role writes mappings and entity access but reads
/// no other tenant data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The ATT&CK catalog and the module's status: every registered principal.
    Catalog,
    /// The tenant's mappings, views and statistics: viewers and up (not the integration).
    Read,
    /// Writing mappings: analysts and up, and the integration.
    Write,
    /// Entity access records: admins and up, and the integration.
    Access,
    /// The tenant's principals and audit log: admins and up.
    Admin,
    /// Every tenant, the sync and repairs.
    Superuser,
}

impl Need {
    pub const ALL: [Need; 6] = [Need::Catalog, Need::Read, Need::Write, Need::Access, Need::Admin, Need::Superuser];

    /// The roles that have this need.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Need::Catalog => &[Integration, Viewer, Analyst, Admin, Superuser],
            Need::Read => &[Viewer, Analyst, Admin, Superuser],
            Need::Write => &[Integration, Analyst, Admin, Superuser],
            Need::Access => &[Integration, Admin, Superuser],
            Need::Admin => &[Admin, Superuser],
            Need::Superuser => &[Superuser],
        }
    }

    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Need::Catalog => "catalog",
            Need::Read => "read",
            Need::Write => "write",
            Need::Access => "access",
            Need::Admin => "admin",
            Need::Superuser => "superuser",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_references_validate_their_id() {
        let e = EntityRef::parse(MappingKind::Case, "C-1").unwrap();
        assert_eq!((e.field(), e.to_string().as_str()), ("case_id", "case C-1"));
        assert_eq!(EntityRef::parse(MappingKind::Alert, "a b").unwrap_err().field, "alert_id");
        assert_eq!(EntityRef::parse(MappingKind::Observable, "").unwrap_err().field, "observable_id");
    }

    #[test]
    fn groups_are_checked_sorted_and_bounded() {
        assert_eq!(groups(&["b", "a", "b"]).unwrap(), vec!["a", "b"]);
        assert!(groups(&["has space"]).is_err());
        let many: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
        assert!(groups(&many).is_err());
    }

    #[test]
    fn sight_follows_roles_and_groups() {
        let analyst = Sight::of(Role::Analyst, &["ir".into()]);
        assert!(analyst.admits(None));
        assert!(analyst.admits(Some(&["ir".into(), "hr".into()])));
        assert!(!analyst.admits(Some(&["hr".into()])));
        assert!(!analyst.admits(Some(&[])));
        for r in [Role::Admin, Role::Superuser, Role::Integration] {
            assert!(Sight::of(r, &[]).admits(Some(&[])), "{r}");
        }
    }

    #[test]
    fn intersections_admit_only_what_every_access_admits() {
        let (ir, both) = (vec!["ir".to_string()], vec!["hr".to_string(), "ir".to_string()]);
        assert_eq!(intersection([None, None]), None);
        assert_eq!(intersection([Some(&both), None]), Some(both.clone()));
        assert_eq!(intersection([Some(&both), Some(&ir)]), Some(ir.clone()));
        assert_eq!(intersection([Some(&vec!["hr".to_string()]), Some(&ir)]), Some(vec![]));
    }

    #[test]
    fn needs_are_not_a_ladder() {
        assert!(Need::Write.allows(Role::Integration) && !Need::Read.allows(Role::Integration));
        assert!(Need::Access.allows(Role::Integration) && !Need::Access.allows(Role::Analyst));
        assert!(Need::Read.allows(Role::Viewer) && !Need::Write.allows(Role::Viewer));
        for n in Need::ALL {
            assert!(n.allows(Role::Superuser), "{n:?}");
        }
    }
}
