#!/usr/bin/env python3
"""Checks the technique-suggestion data: the labelled alerts and the rule table.

Usage: python3 tests/data/suggest/check.py [--verbose]

  tests/data/suggest/labelled.jsonl   labelled alerts, one JSON object a line:
      {"id": "L001", "platform": "windows", "text": "...",
       "observables": [{"type": "command_line", "value": "..."}], "expected": ["T1059.001"]}
  data/suggest/rules.yaml             the rule table (its header documents the fields)

Checks:
  - every line of labelled.jsonl is an object with exactly those fields and types; ids unique;
    observable types from the known vocabulary; expected IDs well formed and not repeated;
  - every rule has its fields with the right types, a unique kebab-case id, a weight in
    [0, 1], applies_to from the known vocabulary, at least one example and counter-example;
  - every pattern is usable by the Rust `regex` crate as far as a static check can tell (no
    look-around, no backreferences, no inline flags, no nested or set-operation classes, only
    escapes the crate accepts, lower case), compiles with Python's `re`, matches each of its
    examples and none of its counter-examples, case-insensitively;
  - every technique ID of both files is a live (neither revoked nor deprecated) technique of
    enterprise ATT&CK 18.1, read in place from ../shared/attack-data (or $ATTACK_DATA_DIR).

Then prints a summary and exits 0, or lists every problem and exits 1.

Only the standard library is needed. PyYAML is used when installed; otherwise the rule
table is read by a small parser of the regular layout rules.yaml keeps (and, when PyYAML is
installed, both readings must agree, so the layout stays readable without it).
"""

import collections
import gzip
import json
import os
import re
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LABELLED = HERE / "labelled.jsonl"
RULES = ROOT / "data" / "suggest" / "rules.yaml"
BUNDLE_NAME = "enterprise-attack-18.1.json.gz"

OBSERVABLE_TYPES = {
    "command_line", "process", "parent_process", "file", "registry", "domain", "url", "ip",
    "hash", "user_agent", "email", "user", "host", "cloud_api",
}
APPLIES_TO = OBSERVABLE_TYPES | {"text"}
TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
ALERT_ID = re.compile(r"^L\d{3,}$")
RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
RULE_FIELDS = ("id", "technique", "pattern", "applies_to", "weight", "rationale", "examples",
               "counter_examples")

errors = []


def error(msg):
    errors.append(msg)


# ----------------------------------------------------------------------------- ATT&CK

def bundle_path():
    env = os.environ.get("ATTACK_DATA_DIR")
    candidates = [Path(env) / BUNDLE_NAME] if env else []
    candidates.append(ROOT.parent / "shared" / "attack-data" / BUNDLE_NAME)
    for path in candidates:
        if path.is_file():
            return path
    sys.exit("check.py: %s not found (looked in %s); set ATTACK_DATA_DIR"
             % (BUNDLE_NAME, ", ".join(str(p.parent) for p in candidates)))


def live_techniques():
    """ATT&CK ID -> name of every attack-pattern that is neither revoked nor deprecated."""
    with gzip.open(bundle_path(), "rt", encoding="utf-8") as f:
        bundle = json.load(f)
    live = {}
    for obj in bundle.get("objects", []):
        if obj.get("type") != "attack-pattern" or obj.get("revoked") or obj.get("x_mitre_deprecated"):
            continue
        for ref in obj.get("external_references", []):
            if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
                live[ref["external_id"]] = obj.get("name", "")
    if not live:
        sys.exit("check.py: no techniques in the bundle")
    return live


# ----------------------------------------------------------------------------- labelled alerts

def load_alerts():
    alerts = []
    seen = set()
    with open(LABELLED, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = "labelled.jsonl:%d" % n
            if not line.strip():
                error("%s: empty line" % where)
                continue
            try:
                a = json.loads(line)
            except json.JSONDecodeError as e:
                error("%s: invalid JSON: %s" % (where, e))
                continue
            if not isinstance(a, dict):
                error("%s: not an object" % where)
                continue
            keys = set(a)
            want = {"id", "platform", "text", "observables", "expected"}
            if keys != want:
                error("%s: fields %s, expected %s" % (where, sorted(keys), sorted(want)))
                continue
            where = "alert %s" % a["id"]
            if not isinstance(a["id"], str) or not ALERT_ID.match(a["id"]):
                error("%s: bad id" % where)
            elif a["id"] in seen:
                error("%s: duplicate id" % where)
            seen.add(a["id"])
            if not isinstance(a["platform"], str) or not re.match(r"^[a-z]+$", a["platform"]):
                error("%s: bad platform %r" % (where, a["platform"]))
            if not isinstance(a["text"], str):
                error("%s: text is not a string" % where)
            obs = a["observables"]
            if not isinstance(obs, list):
                error("%s: observables is not a list" % where)
                obs = []
            for o in obs:
                if not (isinstance(o, dict) and set(o) == {"type", "value"}
                        and isinstance(o["type"], str) and isinstance(o["value"], str) and o["value"]):
                    error("%s: bad observable %r" % (where, o))
                elif o["type"] not in OBSERVABLE_TYPES:
                    error("%s: unknown observable type %r" % (where, o["type"]))
            if not a["text"].strip() and not obs:
                error("%s: neither text nor observables" % where)
            exp = a["expected"]
            if not isinstance(exp, list) or not all(isinstance(t, str) for t in exp):
                error("%s: expected is not a list of strings" % where)
                exp = []
            for t in exp:
                if not TECHNIQUE_ID.match(t):
                    error("%s: malformed technique %r" % (where, t))
            if len(set(exp)) != len(exp):
                error("%s: repeated technique in expected" % where)
            alerts.append(a)
    return alerts


# ----------------------------------------------------------------------------- rule table

def parse_rules_subset(text):
    """Reads the regular layout of rules.yaml without a YAML library."""

    def scalar(raw, where):
        raw = raw.strip()
        if raw.startswith("'"):
            if not raw.endswith("'") or len(raw) < 2:
                raise ValueError("%s: unterminated quoted string" % where)
            body = raw[1:-1]
            if "'" in body.replace("''", ""):
                raise ValueError("%s: stray quote" % where)
            return body.replace("''", "'")
        if re.match(r"^-?\d+(\.\d+)?$", raw):
            return float(raw) if "." in raw else int(raw)
        if re.match(r"^[A-Za-z0-9_.-]+$", raw):
            return raw
        raise ValueError("%s: value outside the supported subset: %r" % (where, raw))

    doc = {}
    rules = None
    rule = None
    list_key = None
    for n, line in enumerate(text.splitlines(), 1):
        where = "rules.yaml:%d" % n
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" ") and not line.startswith("-"):
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError("%s: expected 'key: value'" % where)
            if key == "rules" and not value.strip():
                rules = doc["rules"] = []
            else:
                doc[key] = scalar(value, where)
            rule = list_key = None
            continue
        if rules is None:
            raise ValueError("%s: list item outside 'rules:'" % where)
        m = re.match(r"^- (\w+):(.*)$", line)
        if m:
            rule = {}
            rules.append(rule)
            rule[m.group(1)] = scalar(m.group(2), where)
            list_key = None
            continue
        m = re.match(r"^  - (.*)$", line)
        if m:
            if rule is None or list_key is None:
                raise ValueError("%s: list item without a list key" % where)
            rule[list_key].append(scalar(m.group(1), where))
            continue
        m = re.match(r"^  (\w+):(.*)$", line)
        if m and rule is not None:
            key, value = m.group(1), m.group(2).strip()
            if key in rule:
                raise ValueError("%s: repeated key %s" % (where, key))
            if not value:
                rule[key] = []
                list_key = key
            elif value.startswith("["):
                if not value.endswith("]"):
                    raise ValueError("%s: unterminated flow list" % where)
                inner = value[1:-1].strip()
                rule[key] = [scalar(v, where) for v in inner.split(",")] if inner else []
                list_key = None
            else:
                rule[key] = scalar(value, where)
                list_key = None
            continue
        raise ValueError("%s: line outside the supported layout" % where)
    return doc


def load_rules():
    text = RULES.read_text(encoding="utf-8")
    try:
        subset = parse_rules_subset(text)
    except ValueError as e:
        error(str(e))
        subset = None
    try:
        import yaml  # optional
    except ImportError:
        yaml = None
    if yaml is not None:
        doc = yaml.safe_load(text)
        if subset is not None and subset != doc:
            error("rules.yaml: the layout-only reader and PyYAML disagree; keep the simple layout "
                  "described in the file's header")
    else:
        doc = subset
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        error("rules.yaml: expected a mapping with a 'rules' list")
        return []
    return doc["rules"]


# Escapes the Rust regex crate accepts (a conservative subset): classes, assertions, control
# characters, hex, and escaped metacharacters.
ESCAPES_OK = set("dDsSwWbBntrfv") | set("\\.+*?()|[]{}^$-#&~")


def rust_compat_problems(p):
    """Static checks for syntax Python's re accepts but the Rust regex crate does not (or
    treats differently)."""
    problems = []
    for bad in ("(?=", "(?!", "(?<=", "(?<!", "(?P=", "(?<", "(?P<", "(?#"):
        if bad in p:
            problems.append("uses %s" % bad)
    if re.search(r"\(\?[a-zA-Z-]+[:)]", p):
        problems.append("uses an inline flag group")
    i, in_class, class_start = 0, False, 0
    literal = []
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 >= len(p):
                problems.append("ends with a backslash")
                break
            e = p[i + 1]
            if e.isdigit():
                problems.append("backreference or octal escape \\%s" % e)
            elif e == "x":
                if not re.match(r"[0-9a-fA-F]{2}", p[i + 2:i + 4]):
                    problems.append("malformed \\x escape")
                i += 2
            elif e not in ESCAPES_OK:
                problems.append("escape \\%s is not accepted by the Rust regex crate" % e)
            elif in_class and e in "bB":
                problems.append("\\%s inside a class (an error in Rust, a backspace in Python)" % e)
            i += 2
            continue
        if in_class:
            if c == "[":
                problems.append("unescaped [ inside a class (a nested class in Rust)")
            elif c == "]" and i > class_start:
                in_class = False
            elif p[i:i + 2] in ("&&", "--", "~~"):
                problems.append("%s inside a class (a set operation in Rust)" % p[i:i + 2])
            literal.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            class_start = i + 1
            if p[i + 1:i + 2] == "^":
                class_start += 1
            if p[class_start:class_start + 1] == "]":  # a literal ] first in the class
                class_start += 1
            i += 1
            continue
        if c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", p[i:])
            if not m:
                problems.append("{ that is not a counted repetition (escape it as \\{)")
                i += 1
                continue
            if m.group(3) and int(m.group(3)) < int(m.group(1)):
                problems.append("repetition {n,m} with m < n")
            i += len(m.group(0))
            continue
        if c == "}":
            problems.append("unescaped } (escape it as \\})")
        literal.append(c)
        i += 1
    if in_class:
        problems.append("unterminated class")
    if any(ch.isupper() for ch in "".join(literal)):
        problems.append("upper-case letters (patterns are lower case; the engine ignores case)")
    return problems


def check_rules(rules, live):
    compiled = []
    seen = set()
    for k, r in enumerate(rules, 1):
        where = "rule #%d" % k
        if not isinstance(r, dict):
            error("%s: not a mapping" % where)
            continue
        if isinstance(r.get("id"), str):
            where = "rule %s" % r["id"]
        missing = [f for f in RULE_FIELDS if f not in r]
        extra = [f for f in r if f not in RULE_FIELDS]
        if missing or extra:
            error("%s: missing fields %s, unknown fields %s" % (where, missing, extra))
            continue
        rid, tech, pattern = r["id"], r["technique"], r["pattern"]
        if not isinstance(rid, str) or not RULE_ID.match(rid):
            error("%s: id is not kebab-case" % where)
        elif rid in seen:
            error("%s: duplicate id" % where)
        seen.add(rid)
        if not isinstance(tech, str) or not TECHNIQUE_ID.match(tech):
            error("%s: malformed technique %r" % (where, tech))
        elif tech not in live:
            error("%s: technique %s is not a live enterprise ATT&CK 18.1 technique" % (where, tech))
        w = r["weight"]
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
            error("%s: weight %r is not a number in [0, 1]" % (where, w))
        at = r["applies_to"]
        if not isinstance(at, list) or not at or not all(isinstance(x, str) for x in at):
            error("%s: applies_to is not a non-empty list" % where)
        else:
            unknown = sorted(set(at) - APPLIES_TO)
            if unknown:
                error("%s: applies_to has unknown entries %s" % (where, unknown))
            if len(set(at)) != len(at):
                error("%s: applies_to repeats an entry" % where)
        if not isinstance(r["rationale"], str) or not r["rationale"].strip() or "\n" in r["rationale"]:
            error("%s: rationale must be one non-empty line" % where)
        for field in ("examples", "counter_examples"):
            v = r[field]
            if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
                error("%s: %s must be a non-empty list of strings" % (where, field))
                r[field] = []
        if not isinstance(pattern, str) or not pattern:
            error("%s: empty pattern" % where)
            continue
        for problem in rust_compat_problems(pattern):
            error("%s: pattern %s" % (where, problem))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                rx = re.compile(pattern, re.IGNORECASE)
        except (re.error, FutureWarning, DeprecationWarning) as e:
            error("%s: pattern does not compile: %s" % (where, e))
            continue
        for ex in r["examples"]:
            if not rx.search(ex):
                error("%s: does not match its example %r" % (where, ex))
        for ex in r["counter_examples"]:
            if rx.search(ex):
                error("%s: matches its counter-example %r" % (where, ex))
        compiled.append((r, rx))
    return compiled


def rule_hits(alert, compiled):
    """(rule, where) for every rule matching the alert's text or one of its observables."""
    hits = []
    for r, rx in compiled:
        at = set(r["applies_to"]) if isinstance(r["applies_to"], list) else set()
        if "text" in at and alert["text"] and rx.search(alert["text"]):
            hits.append((r, "text"))
            continue
        for o in alert["observables"]:
            if o["type"] in at and rx.search(o["value"]):
                hits.append((r, o["type"]))
                break
    return hits


def main():
    verbose = "--verbose" in sys.argv[1:]
    live = live_techniques()
    alerts = load_alerts()
    for a in alerts:
        for t in a["expected"] if isinstance(a["expected"], list) else []:
            if TECHNIQUE_ID.match(t) and t not in live:
                error("alert %s: technique %s is not a live enterprise ATT&CK 18.1 technique" % (a["id"], t))
    rules = load_rules()
    compiled = check_rules(rules, live)

    if errors:
        for e in errors:
            print("ERROR:", e)
        print("check.py: %d problem(s)" % len(errors))
        return 1

    platforms = collections.Counter(a["platform"] for a in alerts)
    expected = collections.Counter(t for a in alerts for t in a["expected"])
    obs_only = sum(1 for a in alerts if len(a["text"].strip()) <= 16)
    benign = sum(1 for a in alerts if not a["expected"])
    matched = useful = 0
    fired = collections.Counter()
    for a in alerts:
        hits = rule_hits(a, compiled)
        fired.update(r["id"] for r, _ in hits)
        if hits:
            matched += 1
        if any(r["technique"] in a["expected"] for r, _ in hits):
            useful += 1
        if verbose:
            print("%s %-9s expected=%s rules=%s" % (a["id"], a["platform"], ",".join(a["expected"]) or "-",
                                                   ",".join("%s:%s" % (r["id"], r["technique"]) for r, _ in hits) or "-"))

    print("labelled alerts:                 %d" % len(alerts))
    print("  per platform:                  %s" % ", ".join("%s %d" % kv for kv in sorted(platforms.items(), key=lambda kv: (-kv[1], kv[0]))))
    print("  observables only (text <= 16 chars): %d" % obs_only)
    print("  with no expected technique:    %d" % benign)
    print("  distinct expected techniques:  %d" % len(expected))
    print("rules:                           %d (techniques: %d)" % (len(rules), len({r["technique"] for r in rules})))
    print("alerts matched by >= 1 rule:     %d of %d" % (matched, len(alerts)))
    print("  ... by a rule whose technique is expected: %d" % useful)
    print("rules that match no alert:       %d" % sum(1 for r in rules if not fired[r["id"]]))
    print("check.py: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
