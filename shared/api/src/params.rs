//! Query parameters: only the route's own, each at most once, each validated; and the
//! opaque keyset cursor of paginated lists (the one cursor codec, `mitre_domain::cursor`).
use std::collections::BTreeMap;

use mitre_attack::Domain;
use serde_json::json;

use crate::error::ApiError;
use crate::routes::RouteSpec;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug)]
pub struct Params {
    spec: &'static RouteSpec,
    map: BTreeMap<String, String>,
}

impl Params {
    /// No parameters, for a handler called without a request (an event).
    pub fn none(spec: &'static RouteSpec) -> Params {
        Params { spec, map: BTreeMap::new() }
    }

    pub fn parse(spec: &'static RouteSpec, raw_query: Option<&str>) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
            if !spec.query.contains(&k.as_ref()) {
                return Err(ApiError::BadRequest {
                    code: "unknown_parameter",
                    message: format!("unknown query parameter {k:?}"),
                    details: Some(json!({ "parameter": k, "allowed": spec.query })),
                });
            }
            if v.trim().is_empty() {
                return Err(ApiError::bad_param(&k, format!("query parameter {k:?} is empty: give a value or leave it out")));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::bad_param(&k, format!("query parameter {k:?} is given more than once")));
            }
        }
        Ok(Params { spec, map })
    }

    /// An RFC 3339 timestamp parameter (400 naming it when it is not one).
    pub fn timestamp(&self, name: &str) -> Result<Option<mitre_domain::Timestamp>, ApiError> {
        self.str(name)
            .map(|v| mitre_domain::Timestamp::parse(v).map_err(|_| ApiError::bad_param(name, format!("{name} must be an RFC 3339 timestamp"))))
            .transpose()
    }

    /// The trimmed value; an empty value counts as absent.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.str(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(v) => Err(ApiError::bad_param(name, format!("{name} must be true or false, not {v:?}"))),
        }
    }

    /// The `entity_type` asked for, if any: alert, incident, case or observable.
    pub fn entity_type(&self) -> Result<Option<mitre_domain::MappingKind>, ApiError> {
        self.str("entity_type")
            .map(|t| {
                mitre_domain::MappingKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == t)
                    .ok_or_else(|| ApiError::bad_param("entity_type", "entity_type must be one of alert, incident, case, observable"))
            })
            .transpose()
    }

    /// The entity types a tenant-wide read covers: the one asked for, or all.
    pub fn entity_types(&self) -> Result<Vec<mitre_domain::MappingKind>, ApiError> {
        Ok(self.entity_type()?.map(|k| vec![k]).unwrap_or_else(|| mitre_domain::MappingKind::ALL.to_vec()))
    }

    /// A confidence bound: an integer from 1 to 100.
    pub fn confidence(&self, name: &str) -> Result<Option<u8>, ApiError> {
        self.str(name)
            .map(|v| {
                v.parse::<u8>()
                    .ok()
                    .filter(|c| (1..=100).contains(c))
                    .ok_or_else(|| ApiError::bad_param(name, format!("{name} must be an integer from 1 to 100, not {v:?}")))
            })
            .transpose()
    }

    pub fn domain_opt(&self) -> Result<Option<Domain>, ApiError> {
        self.str("domain").map(|d| d.parse::<Domain>().map_err(|e| ApiError::bad_param("domain", e.to_string()))).transpose()
    }

    /// The domain, enterprise-attack by default.
    pub fn domain(&self) -> Result<Domain, ApiError> {
        Ok(self.domain_opt()?.unwrap_or(Domain::EnterpriseAttack))
    }

    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.str("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_param("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}, not {v:?}"))),
            },
        }
    }

    /// Identifies the list a cursor belongs to: the route and every filter but limit and cursor.
    fn fingerprint(&self) -> String {
        let mut text = self.spec.route_key();
        for (k, v) in &self.map {
            if k != "limit" && k != "cursor" {
                text.push_str(&format!("&{k}={v}"));
            }
        }
        mitre_domain::cursor::fingerprint(&text)
    }

    /// One page of `items` (sorted by their key, ascending) after the cursor, and the next cursor.
    pub fn paginate<T>(&self, items: Vec<(String, T)>) -> Result<(Vec<T>, Option<String>), ApiError> {
        let limit = self.limit()?;
        let fp = self.fingerprint();
        let after = match self.str("cursor") {
            None => None,
            Some(c) => {
                let position = mitre_domain::cursor::decode(c, &fp)?;
                Some(position.as_str().ok_or(mitre_domain::RepoError::BadCursor)?.to_string())
            }
        };
        let start = match &after {
            Some(k) => items.partition_point(|(key, _)| key <= k),
            None => 0,
        };
        let total = items.len();
        let mut page: Vec<(String, T)> = items.into_iter().skip(start).take(limit).collect();
        let next = if start + page.len() < total { page.last().map(|(k, _)| mitre_domain::cursor::encode(&json!(k), &fp)) } else { None };
        Ok((page.drain(..).map(|(_, t)| t).collect(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{RouteId, spec};

    #[test]
    fn validates_parameters() {
        let s = spec(RouteId::ListTechniques).unwrap();
        assert!(matches!(Params::parse(s, Some("nope=1")), Err(ApiError::BadRequest { code: "unknown_parameter", .. })));
        assert!(Params::parse(s, Some("limit=1&limit=2")).is_err());
        let p = Params::parse(s, Some("limit=0")).unwrap();
        assert!(p.limit().is_err());
        let p = Params::parse(s, Some("include_revoked=maybe&domain=ics")).unwrap();
        assert!(p.bool("include_revoked", false).is_err());
        assert_eq!(p.domain().unwrap(), Domain::IcsAttack);
        let p = Params::parse(s, Some("domain=pre-attack")).unwrap();
        assert!(p.domain().is_err());
        let p = Params::parse(s, Some("q=spearphishing+attachment")).unwrap();
        assert_eq!(p.str("q"), Some("spearphishing attachment"));
    }

    #[test]
    fn pages_walk_every_item_once() {
        let s = spec(RouteId::ListTechniques).unwrap();
        let items: Vec<(String, u32)> = (0..7).map(|i| (format!("k{i}"), i)).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("limit=3&cursor={c}"),
                None => "limit=3".into(),
            };
            let p = Params::parse(s, Some(&q)).unwrap();
            let (page, next) = p.paginate(items.clone()).unwrap();
            seen.extend(page);
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        // a cursor of another filter is refused
        let p = Params::parse(s, Some("limit=3")).unwrap();
        let (_, next) = p.paginate(items.clone()).unwrap();
        let other = Params::parse(s, Some(&format!("tactic=execution&cursor={}", next.unwrap()))).unwrap();
        assert!(other.paginate(items.clone()).is_err());
        let junk = Params::parse(s, Some("cursor=%%%")).unwrap();
        assert!(junk.paginate(items).is_err());
    }
}
