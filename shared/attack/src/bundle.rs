//! Reading a STIX bundle: gzip or plain bytes in, typed objects with content hashes out.
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::Domain;
use crate::error::BundleError;
use crate::model::StixObject;

/// A bundle may not grow beyond this once decompressed (ATT&CK enterprise is about 40 MB).
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

/// True when `bytes` start with the gzip magic.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// The plain JSON of a source's bytes: gunzipped when they are gzip, as they are otherwise.
pub fn decode_source_bytes(bytes: Vec<u8>) -> Result<Vec<u8>, BundleError> {
    if !is_gzip(&bytes) {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge { limit_mb: MAX_BUNDLE_BYTES >> 20 });
        }
        return Ok(bytes);
    }
    gunzip(&bytes)
}

/// Gunzips with the size limit.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(6).min(MAX_BUNDLE_BYTES));
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(MAX_BUNDLE_BYTES as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|e| BundleError::Gzip(e.to_string()))?;
    if out.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge { limit_mb: MAX_BUNDLE_BYTES >> 20 });
    }
    Ok(out)
}

/// One object of a bundle: its typed view, its exact JSON text and the content hash of its
/// canonical form (see [`crate::canonical`]).
#[derive(Debug, Clone)]
pub struct ParsedObject<'a> {
    pub raw: &'a str,
    pub hash: u128,
    pub object: StixObject<'a>,
}

impl ParsedObject<'_> {
    /// The hash of the object's exact text: the content hash of manifests written before
    /// hashes were canonical, still read so that upgrading rewrites nothing.
    pub fn text_hash(&self) -> u128 {
        xxhash_rust::xxh3::xxh3_128(self.raw.as_bytes())
    }

    pub fn id(&self) -> &str {
        &self.object.id
    }
    pub fn object_type(&self) -> &str {
        &self.object.object_type
    }
}

/// A parsed bundle. Objects keep the bundle's order; duplicates of one id are reduced to the newest.
#[derive(Debug)]
pub struct Bundle<'a> {
    pub spec_version: Option<String>,
    /// `x_mitre_version` of the bundle's x-mitre-collection object, when it has one (STIX 2.1 releases).
    pub collection_version: Option<String>,
    pub objects: Vec<ParsedObject<'a>>,
}

#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    spec_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
}

/// Parses and checks a bundle for `domain`. Refuses anything that is not a STIX bundle of ATT&CK
/// data of that domain, so a bad download can never replace the catalog.
pub fn parse_bundle(bytes: &[u8], domain: Domain) -> Result<Bundle<'_>, BundleError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match first {
            None => BundleError::Json("the document is empty".into()),
            Some(b'[') => BundleError::Shape("the top level is a JSON array, not a bundle object".into()),
            Some(_) => BundleError::Json("the document does not start with a JSON object".into()),
        });
    }
    let shape: Shape<'_> = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => BundleError::Shape(e.to_string()),
        _ => BundleError::Json(e.to_string()),
    })?;
    match shape.kind.as_deref() {
        Some("bundle") => {}
        Some(other) => return Err(BundleError::Shape(format!("its type is {other:?}, not \"bundle\""))),
        None => return Err(BundleError::Shape("it has no \"type\": \"bundle\"".into())),
    }
    let raws = shape.objects.ok_or_else(|| BundleError::Shape("it has no \"objects\" array".into()))?;

    let parsed: Vec<ParsedObject<'_>> = raws.par_iter().enumerate().map(|(index, raw)| parse_object(index, raw)).collect::<Result<_, _>>()?;
    let objects = dedupe(parsed);

    let collection_version =
        objects.iter().find(|o| o.object_type() == "x-mitre-collection").and_then(|o| o.object.x_mitre_version.as_deref().map(str::to_string));

    check_domain(&objects, domain)?;
    Ok(Bundle { spec_version: shape.spec_version.map(Cow::into_owned), collection_version, objects })
}

fn parse_object<'a>(index: usize, raw: &'a RawValue) -> Result<ParsedObject<'a>, BundleError> {
    let text = raw.get();
    let object: StixObject<'a> = serde_json::from_str(text).map_err(|e| BundleError::Object { index, id: id_hint(text), reason: e.to_string() })?;
    if crate::ids::StixId::parse(&object.id).is_err() {
        return Err(BundleError::Object { index, id: object.id.to_string(), reason: "its id is not a STIX id (type--uuid)".into() });
    }
    if object.object_type == "relationship" && (object.source_ref.is_none() || object.target_ref.is_none()) {
        return Err(BundleError::Object { index, id: object.id.to_string(), reason: "a relationship needs source_ref and target_ref".into() });
    }
    Ok(ParsedObject { raw: text, hash: crate::canonical::canonical_hash(text), object })
}

fn id_hint(text: &str) -> String {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(text).ok().and_then(|o| o.id).unwrap_or_else(|| "without id".into())
}

fn dedupe(objects: Vec<ParsedObject<'_>>) -> Vec<ParsedObject<'_>> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(objects.len());
    let mut drop = vec![false; objects.len()];
    for (i, o) in objects.iter().enumerate() {
        if let Some(&j) = seen.get(o.id()) {
            // Keep the newest version of an object listed twice.
            if o.object.modified >= objects[j].object.modified {
                drop[j] = true;
                seen.insert(o.id(), i);
            } else {
                drop[i] = true;
            }
        } else {
            seen.insert(o.id(), i);
        }
    }
    if !drop.contains(&true) {
        return objects;
    }
    objects.into_iter().zip(drop).filter(|(_, d)| !d).map(|(o, _)| o).collect()
}

fn check_domain(objects: &[ParsedObject<'_>], domain: Domain) -> Result<(), BundleError> {
    let mut techniques = 0usize;
    let mut tactics = 0usize;
    let mut in_domain = 0usize;
    let mut others: HashMap<&str, usize> = HashMap::new();
    for o in objects {
        match o.object_type() {
            "attack-pattern" => {
                techniques += 1;
                if o.object.x_mitre_domains.iter().any(|d| d == domain.as_str()) {
                    in_domain += 1;
                } else {
                    for d in &o.object.x_mitre_domains {
                        *others.entry(d.as_ref()).or_default() += 1;
                    }
                }
            }
            "x-mitre-tactic" => tactics += 1,
            _ => {}
        }
    }
    if techniques == 0 {
        return Err(BundleError::Empty("techniques (attack-pattern objects)"));
    }
    if tactics == 0 {
        return Err(BundleError::Empty("tactics (x-mitre-tactic objects)"));
    }
    if in_domain == 0 {
        let found = others.into_iter().max_by_key(|(_, n)| *n).map(|(d, _)| d.to_string());
        return Err(BundleError::WrongDomain { expected: domain.as_str().into(), found: found.unwrap_or_else(|| "techniques of no domain".into()) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    #[test]
    fn parses_a_small_stix_20_bundle() {
        let text = small_bundle("2.0");
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        assert_eq!(bundle.spec_version.as_deref(), Some("2.0"));
        assert_eq!(bundle.objects.len(), 12);
        let t = bundle.objects.iter().find(|o| o.object.attack_id() == Some("T1059.001")).unwrap();
        assert!(t.object.x_mitre_is_subtechnique);
        assert_eq!(t.object.tactic_shortnames(Domain::EnterpriseAttack).collect::<Vec<_>>(), ["execution"]);
        // revoked and deprecated objects are kept, unknown types and fields tolerated
        assert!(bundle.objects.iter().any(|o| o.object.revoked));
        assert!(bundle.objects.iter().any(|o| o.object.x_mitre_deprecated));
        assert!(bundle.objects.iter().any(|o| o.object_type() == "x-future-thing"));
    }

    #[test]
    fn reads_gzip_and_collection_version() {
        let text = small_bundle_with_collection("18.1");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let bytes = decode_source_bytes(gz.finish().unwrap()).unwrap();
        let bundle = parse_bundle(&bytes, Domain::EnterpriseAttack).unwrap();
        assert_eq!(bundle.collection_version.as_deref(), Some("18.1"));
    }

    #[test]
    fn hashes_change_with_content_only() {
        let a = small_bundle("2.0");
        let b = a.replace("PowerShell is powerful", "PowerShell is very powerful");
        let pa = parse_bundle(a.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let pb = parse_bundle(b.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let changed: Vec<_> = pa.objects.iter().zip(&pb.objects).filter(|(x, y)| x.hash != y.hash).map(|(x, _)| x.object.attack_id()).collect();
        assert_eq!(changed, [Some("T1059.001")]);
    }

    #[test]
    fn refuses_bad_input_with_clear_errors() {
        let good = small_bundle("2.0");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "empty"),
            (b"[1,2]".to_vec(), "JSON array"),
            (good.as_bytes()[..good.len() / 2].to_vec(), "not valid JSON"),
            (br#"{"type":"report","objects":[]}"#.to_vec(), "not \"bundle\""),
            (br#"{"type":"bundle"}"#.to_vec(), "no \"objects\""),
            (br#"{"type":"bundle","objects":{}}"#.to_vec(), "not a STIX bundle"),
            (br#"{"type":"bundle","objects":[{"type":"x"}]}"#.to_vec(), "malformed"),
            (br#"{"type":"bundle","objects":[{"type":"x","id":"nope"}]}"#.to_vec(), "not a STIX id"),
            (br#"{"type":"bundle","objects":[]}"#.to_vec(), "no ATT&CK techniques"),
            (good.replace("\"revoked\": true", "\"revoked\": \"yes\"").into_bytes(), "malformed"),
        ];
        for (bytes, expected) in cases {
            let err = parse_bundle(&bytes, Domain::EnterpriseAttack).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
        let err = parse_bundle(good.as_bytes(), Domain::IcsAttack).unwrap_err();
        assert_eq!(err, BundleError::WrongDomain { expected: "ics-attack".into(), found: "enterprise-attack".into() });
        assert!(decode_source_bytes(vec![0x1f, 0x8b, 8, 0, 0]).is_err());
    }

    #[test]
    fn duplicates_keep_the_newest() {
        let text = small_bundle("2.0").replace(
            "\"objects\": [",
            "\"objects\": [{\"type\":\"course-of-action\",\"id\":\"course-of-action--00000000-0000-4000-8000-000000000009\",\"name\":\"Old\",\"modified\":\"2000-01-01T00:00:00.000Z\"},",
        );
        let bundle = parse_bundle(text.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let m: Vec<_> = bundle.objects.iter().filter(|o| o.id() == "course-of-action--00000000-0000-4000-8000-000000000009").collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].object.name.as_deref(), Some("Execution Prevention"));
    }
}
