//! Small hand-written ATT&CK bundles for tests: real shapes, a handful of objects.

const ID_TACTIC_EXEC: &str = "x-mitre-tactic--00000000-0000-4000-8000-000000000001";
const ID_TACTIC_PERSIST: &str = "x-mitre-tactic--00000000-0000-4000-8000-000000000002";

/// A bundle of ten objects: two tactics, a matrix, T1059 with sub-technique T1059.001,
/// a revoked T1000 (revoked by T1059), a deprecated T1001, mitigation M1038, two relationships,
/// and an object of a type ATT&CK does not define. `spec` is "2.0" or "2.1".
pub fn small_bundle(spec: &str) -> String {
    bundle_with(spec, &[])
}

/// The same as [`small_bundle`] with an x-mitre-collection object carrying `version`.
pub fn small_bundle_with_collection(version: &str) -> String {
    let collection = format!(
        r#"{{"type": "x-mitre-collection", "id": "x-mitre-collection--1f5f1533-f617-4ca8-9ab4-6a02367fa019", "name": "Enterprise ATT&CK", "x_mitre_version": "{version}", "x_mitre_contents": []}}"#
    );
    bundle_with("2.1", &[collection])
}

/// A bundle of the small fixture plus `extra` objects (JSON texts).
pub fn bundle_with(spec: &str, extra: &[String]) -> String {
    let spec_field = if spec == "2.1" { r#", "spec_version": "2.1""# } else { "" };
    let technique = |id: &str, attack_id: &str, name: &str, desc: &str, phases: &[&str], sub: bool, extra: &str| {
        let phases: Vec<String> = phases.iter().map(|p| format!(r#"{{"kill_chain_name": "mitre-attack", "phase_name": "{p}"}}"#)).collect();
        let url = attack_id.replace('.', "/");
        format!(
            r#"{{"type": "attack-pattern", "id": "{id}"{spec_field}, "created": "2020-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "{name}", "description": "{desc}", "kill_chain_phases": [{phases}], "external_references": [{{"source_name": "mitre-attack", "external_id": "{attack_id}", "url": "https://attack.mitre.org/techniques/{url}"}}], "x_mitre_platforms": ["Windows", "Linux"], "x_mitre_domains": ["enterprise-attack"], "x_mitre_is_subtechnique": {sub}{extra}}}"#,
            phases = phases.join(", ")
        )
    };
    let mut objects = vec![
        format!(
            r#"{{"type": "x-mitre-tactic", "id": "{ID_TACTIC_EXEC}"{spec_field}, "name": "Execution", "description": "The adversary is trying to run malicious code.", "x_mitre_shortname": "execution", "external_references": [{{"source_name": "mitre-attack", "external_id": "TA0002", "url": "https://attack.mitre.org/tactics/TA0002"}}], "x_mitre_domains": ["enterprise-attack"], "modified": "2024-01-01T00:00:00.000Z"}}"#
        ),
        format!(
            r#"{{"type": "x-mitre-tactic", "id": "{ID_TACTIC_PERSIST}"{spec_field}, "name": "Persistence", "description": "The adversary is trying to maintain their foothold.", "x_mitre_shortname": "persistence", "external_references": [{{"source_name": "mitre-attack", "external_id": "TA0003", "url": "https://attack.mitre.org/tactics/TA0003"}}], "x_mitre_domains": ["enterprise-attack"], "modified": "2024-01-01T00:00:00.000Z"}}"#
        ),
        format!(
            r#"{{"type": "x-mitre-matrix", "id": "x-mitre-matrix--00000000-0000-4000-8000-000000000003"{spec_field}, "name": "Enterprise ATT&CK", "tactic_refs": ["{ID_TACTIC_EXEC}", "{ID_TACTIC_PERSIST}"], "external_references": [{{"source_name": "mitre-attack", "external_id": "enterprise-attack"}}], "x_mitre_domains": ["enterprise-attack"]}}"#
        ),
        technique(
            "attack-pattern--00000000-0000-4000-8000-000000000004",
            "T1059",
            "Command and Scripting Interpreter",
            "Adversaries may abuse command and script interpreters to execute commands.",
            &["execution"],
            false,
            "",
        ),
        technique(
            "attack-pattern--00000000-0000-4000-8000-000000000005",
            "T1059.001",
            "PowerShell",
            "PowerShell is powerful.\\nAdversaries may abuse PowerShell commands and scripts for execution.",
            &["execution"],
            true,
            r#", "x_mitre_future_field": {"nested": [1, 2, 3]}"#,
        ),
        technique(
            "attack-pattern--00000000-0000-4000-8000-000000000006",
            "T1000",
            "Old Technique",
            "Replaced.",
            &["execution", "persistence"],
            false,
            r#", "revoked": true"#,
        ),
        technique(
            "attack-pattern--00000000-0000-4000-8000-000000000007",
            "T1001",
            "Deprecated Technique",
            "No longer maintained.",
            &["persistence"],
            false,
            r#", "x_mitre_deprecated": true"#,
        ),
        format!(
            r#"{{"type": "course-of-action", "id": "course-of-action--00000000-0000-4000-8000-000000000009"{spec_field}, "name": "Execution Prevention", "description": "Block execution of code on a system.", "modified": "2024-01-01T00:00:00.000Z", "external_references": [{{"source_name": "mitre-attack", "external_id": "M1038"}}], "x_mitre_domains": ["enterprise-attack"]}}"#
        ),
        format!(
            r#"{{"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000010"{spec_field}, "relationship_type": "subtechnique-of", "source_ref": "attack-pattern--00000000-0000-4000-8000-000000000005", "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000004"}}"#
        ),
        format!(
            r#"{{"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000011"{spec_field}, "relationship_type": "mitigates", "source_ref": "course-of-action--00000000-0000-4000-8000-000000000009", "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000005", "description": "Use application control."}}"#
        ),
        format!(
            r#"{{"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000012"{spec_field}, "relationship_type": "revoked-by", "source_ref": "attack-pattern--00000000-0000-4000-8000-000000000006", "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000004"}}"#
        ),
        format!(r#"{{"type": "x-future-thing", "id": "x-future-thing--00000000-0000-4000-8000-000000000013"{spec_field}, "whatever": {{"a": [null, true]}}}}"#),
    ];
    objects.extend(extra.iter().cloned());
    let spec_top = if spec == "2.1" { "" } else { r#", "spec_version": "2.0""# };
    format!("{{\"type\": \"bundle\", \"id\": \"bundle--00000000-0000-4000-8000-000000000000\"{spec_top}, \"objects\": [\n  {}\n]}}", objects.join(",\n  "))
}
