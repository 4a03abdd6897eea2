//! Generates one test function per rule of data/suggest/rules.yaml (tests/rules.rs includes
//! them), so that a new rule gets its own named test without anyone writing it.
use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let rules = manifest.join("../../data/suggest/rules.yaml");
    println!("cargo:rerun-if-changed={}", rules.display());
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(&rules).unwrap_or_default();
    let mut out = String::new();
    for line in text.lines() {
        // the table's regular layout: "- id: 'kebab-case-id'"
        let Some(rest) = line.strip_prefix("- id:") else { continue };
        let id = rest.trim().trim_matches('\'').trim_matches('"');
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            continue;
        }
        let name = id.replace('-', "_");
        writeln!(out, "#[test]\nfn rule_{name}() {{\n    check_rule({id:?});\n}}").unwrap();
    }
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("rule_tests.rs");
    std::fs::write(dest, out).expect("write rule_tests.rs");
}
