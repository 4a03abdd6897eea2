//! The manifest: one content hash per STIX object of the last stored release, so that a
//! sync knows what changed without reading the table.
use std::collections::HashMap;
use std::io::{Read, Write};

use crate::bundle::ParsedObject;

/// Hash stored for objects whose stored content is not known (after an interrupted run).
pub const UNKNOWN_HASH: u128 = 0;

/// The first line of a manifest whose hashes are canonical (see [`crate::canonical`]).
/// Manifests without it hold hashes of each object's exact text.
const CANONICAL_HEADER: &str = "# canonical-json-xxh3-128";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    entries: HashMap<String, u128>,
    /// False for a manifest written before hashes were canonical: its hashes are of each
    /// object's exact text, and a diff compares those, so an upgrade rewrites nothing.
    canonical: bool,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest { entries: HashMap::new(), canonical: true }
    }
}

/// What a sync has to do to bring the stored objects to a bundle.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Indices (into the bundle's objects) of objects to write: new ones and changed ones.
    pub to_write: Vec<usize>,
    /// How many of `to_write` are new.
    pub added: usize,
    pub unchanged: usize,
    /// Ids of stored objects that the bundle no longer has, sorted.
    pub removed: Vec<String>,
    /// Objects the run was told to leave alone (for example relationships with --no-relationships).
    pub skipped: usize,
}

impl Manifest {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<u128> {
        self.entries.get(id).copied()
    }

    pub fn insert(&mut self, id: impl Into<String>, hash: u128) {
        self.entries.insert(id.into(), hash);
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Takes in what an interrupted run may have written (`other`, its manifest): every id on
    /// which the two manifests disagree, present in one only or with another hash, gets an
    /// unknown hash, so that the next diff rewrites it (or removes it). Ids they agree on keep
    /// their hash.
    pub fn absorb_unknown(&mut self, other: &Manifest) {
        for id in other.entries.keys() {
            self.entries.entry(id.clone()).or_insert(UNKNOWN_HASH);
        }
        for (id, h) in self.entries.iter_mut() {
            if other.entries.get(id).is_none_or(|o| o != h) {
                *h = UNKNOWN_HASH;
            }
        }
    }

    /// Compares the bundle's objects against this manifest. Objects for which `managed` is false
    /// are neither written nor removed.
    pub fn diff(&self, objects: &[ParsedObject<'_>], managed: impl Fn(&str) -> bool) -> Diff {
        let mut diff = Diff::default();
        let mut present = std::collections::HashSet::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            present.insert(o.id());
            if !managed(o.object_type()) {
                diff.skipped += 1;
                continue;
            }
            let hash = if self.canonical { o.hash } else { o.text_hash() };
            match self.entries.get(o.id()) {
                Some(&h) if h == hash && h != UNKNOWN_HASH => diff.unchanged += 1,
                Some(_) => diff.to_write.push(i),
                None => {
                    diff.to_write.push(i);
                    diff.added += 1;
                }
            }
        }
        diff.removed = self.entries.keys().filter(|id| !present.contains(id.as_str()) && managed(object_type_of(id))).cloned().collect();
        diff.removed.sort();
        diff
    }

    /// The manifest after a run: the bundle's managed objects, plus the unmanaged objects the
    /// previous manifest had (they were left as they are).
    pub fn after(&self, objects: &[ParsedObject<'_>], managed: impl Fn(&str) -> bool) -> Manifest {
        let mut entries = HashMap::with_capacity(objects.len());
        for o in objects {
            if managed(o.object_type()) {
                entries.insert(o.id().to_string(), o.hash);
            }
        }
        for (id, h) in &self.entries {
            if !managed(object_type_of(id)) {
                // Hashes of another scheme are unknown in this one: the object is rewritten
                // (or removed) the next time it is managed.
                entries.insert(id.clone(), if self.canonical { *h } else { UNKNOWN_HASH });
            }
        }
        Manifest { entries, canonical: true }
    }

    /// Gzip-compressed text, one `hash id` line per object, sorted by id.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let mut ids: Vec<_> = self.entries.iter().collect();
        ids.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut text = String::with_capacity(ids.len() * 96 + 32);
        if self.canonical {
            text.push_str(CANONICAL_HEADER);
            text.push('\n');
        }
        for (id, h) in ids {
            text.push_str(&format!("{h:032x} {id}\n"));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes())?;
        gz.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).map_err(|e| format!("manifest is not readable: {e}"))?;
        let mut entries = HashMap::new();
        let canonical = text.lines().next() == Some(CANONICAL_HEADER);
        for (n, line) in text.lines().enumerate().skip(canonical as usize) {
            let (h, id) = line.split_once(' ').ok_or_else(|| format!("manifest line {} is malformed", n + 1))?;
            let h = u128::from_str_radix(h, 16).map_err(|_| format!("manifest line {} has a bad hash", n + 1))?;
            entries.insert(id.to_string(), h);
        }
        Ok(Manifest { entries, canonical })
    }

    /// Whether the hashes are canonical (false for manifests of exact-text hashes).
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }
}

impl FromIterator<(String, u128)> for Manifest {
    fn from_iter<I: IntoIterator<Item = (String, u128)>>(iter: I) -> Self {
        Manifest { entries: iter.into_iter().collect(), canonical: true }
    }
}

/// The STIX type of an id (`type--uuid`).
pub fn object_type_of(id: &str) -> &str {
    id.split_once("--").map(|(t, _)| t).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, fixtures::small_bundle, parse_bundle};

    #[test]
    fn diff_finds_new_changed_removed_and_nothing_on_rerun() {
        let a = small_bundle("2.0");
        let pa = parse_bundle(a.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let all = |_: &str| true;
        let first = Manifest::default().diff(&pa.objects, all);
        assert_eq!(first.to_write.len(), pa.objects.len());
        assert_eq!(first.added, pa.objects.len());

        let m = Manifest::default().after(&pa.objects, all);
        let m = Manifest::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(m.diff(&pa.objects, all), Diff { unchanged: pa.objects.len(), ..Diff::default() });

        // change one object, drop another
        let b = a
            .replace("Block execution of code", "Block the execution of code")
            .replace("x-future-thing--00000000-0000-4000-8000-000000000013", "x-future-thing--00000000-0000-4000-8000-000000000014");
        let pb = parse_bundle(b.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let d = m.diff(&pb.objects, all);
        assert_eq!(d.to_write.len(), 2, "{d:?}");
        assert_eq!(d.added, 1);
        assert_eq!(d.removed, ["x-future-thing--00000000-0000-4000-8000-000000000013"]);
    }

    #[test]
    fn unmanaged_types_are_left_alone() {
        let a = small_bundle("2.0");
        let pa = parse_bundle(a.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let m = Manifest::default().after(&pa.objects, |_| true);
        let no_rel = |t: &str| t != "relationship";
        let empty = Manifest::default();
        let d = empty.diff(&pa.objects, no_rel);
        assert_eq!(d.skipped, 3);
        // the relationships of the old manifest survive a run that skips them
        let after = m.after(&pa.objects[..1], no_rel);
        assert_eq!(after.ids().filter(|i| i.starts_with("relationship--")).count(), 3);
        assert!(m.diff(&pa.objects[..1], no_rel).removed.iter().all(|i| !i.starts_with("relationship--")));
    }

    #[test]
    fn unknown_hashes_force_a_rewrite() {
        let a = small_bundle("2.0");
        let pa = parse_bundle(a.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let mut m = Manifest::default().after(&pa.objects, |_| true);
        let mut pending = m.clone();
        pending.insert("x-other--00000000-0000-4000-8000-0000000000ff", 7);
        m.absorb_unknown(&pending);
        let d = m.diff(&pa.objects, |_| true);
        assert_eq!(d.removed, ["x-other--00000000-0000-4000-8000-0000000000ff"]);
        assert_eq!(d.to_write.len(), 0);

        // An interrupted run that had removed an object (absent from its manifest) may have
        // deleted it: a bundle that has it again rewrites it.
        let first = pa.objects[0].id().to_string();
        let mut m = Manifest::default().after(&pa.objects, |_| true);
        let pending: Manifest = Manifest::default().after(&pa.objects[1..], |_| true);
        m.absorb_unknown(&pending);
        let d = m.diff(&pa.objects, |_| true);
        assert_eq!(d.to_write, [0], "{first} is rewritten");
        assert!(Manifest::decode(b"junk").is_err());
    }

    #[test]
    fn reserialised_bundles_are_unchanged_and_old_manifests_are_read() {
        let a = small_bundle("2.1");
        let pa = parse_bundle(a.as_bytes(), Domain::EnterpriseAttack).unwrap();
        let all = |_: &str| true;
        let m = Manifest::decode(&Manifest::default().after(&pa.objects, all).encode().unwrap()).unwrap();
        assert!(m.is_canonical());
        // the same bundle pretty-printed with every object's keys in reverse order
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        let objects: Vec<String> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let members: Vec<String> = o
                    .as_object()
                    .unwrap()
                    .iter()
                    .rev()
                    .map(|(k, v)| format!("\n    {}: {}", serde_json::to_string(k).unwrap(), serde_json::to_string_pretty(v).unwrap()))
                    .collect();
                format!("{{{}\n  }}", members.join(","))
            })
            .collect();
        let b = format!("{{\n  \"objects\": [\n  {}\n  ],\n  \"id\": \"bundle--1\", \"type\": \"bundle\"\n}}", objects.join(",\n  "));
        let pb = parse_bundle(b.as_bytes(), Domain::EnterpriseAttack).unwrap();
        assert_ne!(pa.objects[0].raw, pb.objects[0].raw);
        assert_eq!(m.diff(&pb.objects, all), Diff { unchanged: pa.objects.len(), ..Diff::default() });

        // A manifest of exact-text hashes (no header) is compared by text: nothing to write,
        // and the manifest after the run is canonical.
        let legacy: String = pa.objects.iter().map(|o| format!("{:032x} {}\n", o.text_hash(), o.id())).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(legacy.as_bytes()).unwrap();
        let legacy = Manifest::decode(&gz.finish().unwrap()).unwrap();
        assert!(!legacy.is_canonical());
        assert_eq!(legacy.diff(&pa.objects, all), Diff { unchanged: pa.objects.len(), ..Diff::default() });
        let next = legacy.after(&pa.objects, all);
        assert!(next.is_canonical());
        assert_eq!(next.diff(&pb.objects, all).unchanged, pa.objects.len());
    }
}
