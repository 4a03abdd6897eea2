#!/usr/bin/env bash
# Checks that what the documentation names still exists (README.md and docs/*.md):
#   - every `make TARGET` in inline code or a fenced code block is a target of the Makefile
#     (a line `TARGET:` at the start of a line);
#   - every `mitre SUB` / `./target/debug/mitre SUB` in inline code or a code block is a
#     subcommand of the CLI: the variants of the clap `Subcommand` enum `Command` in
#     cli/src/main.rs, kebab-cased as clap does (BenchReport -> bench-report), or their
#     #[command(name = "...")] / alias; `mitre a|b|c` checks each of a, b, c; a second word is
#     checked against the nested subcommand enum (e.g. `mitre principal put`);
#   - every relative path in inline code, code blocks and Markdown links exists in the repo
#     (file or folder). A token counts as a path when it is made only of [A-Za-z0-9_./~-] and
#     either ends in a known extension or contains a `/` and starts with `..` or with an
#     existing top-level entry (so API routes like `statistics/tactics` and MIME types are
#     not paths). Inline code that starts with an HTTP method names a route and is skipped.
#     Paths may be relative to the repo root, or for files under docs/ relative to docs/.
#     Generated paths (target/, .local/, .tools/, .aws-sam/) and the ALLOW list are skipped;
#     ../shared/... is outside the repo and checked only when ../shared exists.
# Prints `docs-check: FILE: missing path|make target|mitre subcommand X` for each miss and
# exits 1; otherwise prints how many references it checked.
# Usage: infra/docs-check.sh   (from anywhere; it works from the repository root)
# DOCS_CHECK_VERBOSE=1 also lists every reference it checked.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Paths the docs may name that are produced by running something, not kept in the repo.
ALLOW=(
  "fuzz/artifacts"   # written by cargo-fuzz when a target crashes
  "out.json"         # the output file of the `aws lambda invoke` example
)

exec python3 - "${ALLOW[@]}" <<'PYEOF'
import fnmatch
import glob
import os
import re
import sys

ALLOW = set(a.rstrip("/") for a in sys.argv[1:])
GENERATED_PREFIXES = ("target/", ".local/", ".tools/", ".aws-sam/")
GENERATED_EXACT = {"target", ".local", ".tools", ".aws-sam"}
EXTENSIONS = (".rs", ".sh", ".yaml", ".yml", ".json", ".jsonl", ".toml", ".md", ".py", ".png", ".lock")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PATH_TOKEN = re.compile(r"^[A-Za-z0-9_.-][A-Za-z0-9_./~-]*$")
TOP_LEVEL = set(os.listdir("."))
SHARED_OUTSIDE = os.path.isdir("../shared")
VERBOSE = os.environ.get("DOCS_CHECK_VERBOSE") == "1"

docs = ["README.md"] + sorted(glob.glob("docs/*.md"))
if not os.path.isfile("README.md"):
    sys.exit("docs-check: no README.md at the repository root")


# ---- Makefile targets -------------------------------------------------------------------
def make_targets():
    targets = set()
    with open("Makefile") as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*:(?!=)", line)
            if m:
                targets.update(m.group(1).split())
    return targets


# ---- CLI subcommands (clap derive) ------------------------------------------------------
def kebab(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", s)
    return s.lower()


STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
RUST_NOISE = re.compile(r'\bb?r(#*)"[\s\S]*?"\1|"(?:[^"\\]|\\.)*"|//[^\n]*|/\*[\s\S]*?\*/')


def without_comments(text):
    """Rust source with comments blanked; string literals kept (attributes need them)."""
    return RUST_NOISE.sub(lambda m: " " if m.group(0).startswith("/") else m.group(0), text)


def walk(text, start, stop_at_comma=False):
    """From text[start], the index of the bracket closing depth 0 (or of a depth-0 comma)."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == '"':
            m = STRING.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth < 0:
                return i
        elif c == "," and depth == 0 and stop_at_comma:
            return i
        i += 1
    return len(text)


def parse_enums(path):
    """Every enum of a Rust file: name -> [{names, nested, flatten}] per variant."""
    with open(path) as f:
        text = without_comments(f.read())
    enums = {}
    for m in re.finditer(r"\benum\s+([A-Za-z0-9_]+)[^{;]*\{", text):
        body_start = m.end()
        body_end = walk(text, body_start)
        body = text[body_start:body_end]
        variants = []
        i = 0
        while i < len(body):
            end = walk(body, i, stop_at_comma=True)
            segment = body[i:end]
            i = end + 1
            attrs = []
            rest = segment.lstrip()
            while rest.startswith("#["):
                close = walk(rest, 2) + 1  # index after the attribute's `]`
                attrs.append(rest[:close])
                rest = rest[close:].lstrip()
            vm = re.match(r"([A-Z][A-Za-z0-9_]*)", rest)
            if not vm:
                continue
            joined = " ".join(attrs)
            explicit = re.findall(r'\bname\s*=\s*"([^"]+)"', joined)
            names = explicit[:1] or [kebab(vm.group(1))]
            names += re.findall(r'\b(?:visible_)?alias\s*=\s*"([^"]+)"', joined)
            for group in re.findall(r"\b(?:visible_)?aliases\s*=\s*\[([^\]]*)\]", joined):
                names += re.findall(r'"([^"]+)"', group)
            inner = rest[vm.end():]
            sub = re.search(r"#\[command\(\s*subcommand\s*\)\]\s*(?:pub\s+)?[a-z_][A-Za-z0-9_]*\s*:\s*([A-Za-z0-9_]+)", inner)
            flat = re.match(r"\s*\(\s*(?:[A-Za-z0-9_]+::)*([A-Za-z0-9_]+)\s*\)", inner)
            variants.append({
                "names": names,
                "nested": sub.group(1) if sub else None,
                "flatten": flat.group(1) if flat and re.search(r"#\[command\([^\]]*\bflatten\b", joined) else None,
            })
        enums[m.group(1)] = variants
    return enums


def cli_commands():
    enums = parse_enums("cli/src/main.rs")
    if "Command" not in enums or not enums["Command"]:
        sys.exit("docs-check: cannot find the clap `enum Command` in cli/src/main.rs")

    def names_of(enum, seen=()):
        out = {}
        for v in enums.get(enum, []):
            if v["flatten"] and v["flatten"] in enums and v["flatten"] not in seen:
                out.update(names_of(v["flatten"], seen + (enum,)))  # #[command(flatten)]
                continue
            nested = set(names_of(v["nested"], seen + (enum,))) if v["nested"] in enums else None
            for n in v["names"]:
                out[n] = nested
        return out

    return names_of("Command")


# ---- Markdown scanning ------------------------------------------------------------------
def split_markdown(text):
    """(code-block lines, inline code spans, link targets) of a Markdown text."""
    blocks, prose = [], []
    fence = None
    for line in text.splitlines():
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                blocks.append(line)
            continue
        prose.append(line)
    prose_text = "\n".join(prose)
    spans = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", prose_text)
    without_code = re.sub(r"`[^`\n]*`", "", prose_text)
    links = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", without_code)
    return blocks, spans, links


def tokens(s):
    """Whitespace-separated words without surrounding quotes, brackets and punctuation."""
    out = []
    for t in s.split():
        t = t.strip("'\"()[],;:")
        while t.endswith(".") and not t.endswith(".."):
            t = t[:-1]  # a sentence's full stop, not part of the path
        if t:
            out.append(t)
    return out


def make_refs(s):
    refs = []
    words = s.split()
    for i, w in enumerate(words):
        if w != "make":
            continue
        for nxt in words[i + 1:]:
            if "=" in nxt or nxt.startswith("-"):
                continue
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.*-]*)", nxt)
            if m:
                refs.append(m.group(1).rstrip("."))
            break
    return refs


def mitre_refs(s):
    refs = []
    words = s.split()
    for i, w in enumerate(words):
        if not re.fullmatch(r"(?:\.?/)?(?:target/[a-z]+/)?mitre", w):
            continue
        rest = words[i + 1:i + 4]
        while rest and rest[0] == "--":
            rest.pop(0)
        if not rest:
            continue
        first = rest[0].rstrip(".,;:)")
        if not re.fullmatch(r"[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*", first):
            continue
        second = rest[1].rstrip(".,;:)") if len(rest) > 1 else ""
        if not re.fullmatch(r"[a-z][a-z0-9-]*", second or "-"):
            second = ""
        for sub in first.split("|"):
            refs.append((sub, second))
    return refs


def looks_like_path(t):
    if not PATH_TOKEN.match(t) or t.startswith("http"):
        return False
    if re.fullmatch(r"[0-9.]+", t):
        return False
    if t.lower().endswith(EXTENSIONS):
        return True
    if "/" in t:
        first = t.split("/", 1)[0]
        return first == ".." or first in TOP_LEVEL or first in GENERATED_EXACT
    return False


def path_status(doc, p):
    """'ok', 'skip' or 'missing'."""
    p = p.split("#", 1)[0].split("?", 1)[0]
    if not p:
        return "skip"
    norm = p.rstrip("/")
    if norm.startswith("./"):
        norm = norm[2:]
    if norm in ALLOW or any(norm.startswith(a + "/") for a in ALLOW):
        return "skip"
    if norm in GENERATED_EXACT or norm.startswith(GENERATED_PREFIXES):
        return "skip"
    bases = ["."]
    if os.path.dirname(doc):
        bases.insert(0, os.path.dirname(doc))
    for base in bases:
        full = os.path.normpath(os.path.join(base, norm))
        if full.startswith(".." + os.sep) or full == "..":
            if full.startswith(os.path.join("..", "shared")) and not SHARED_OUTSIDE:
                return "skip"
        rel = os.path.relpath(full, ".")
        if rel in ALLOW or rel.startswith(GENERATED_PREFIXES):
            return "skip"
        if os.path.exists(full):
            return "ok"
    return "missing"


targets = make_targets()
commands = cli_commands()
checked = 0
problems = []

for doc in docs:
    with open(doc) as f:
        text = f.read()
    blocks, spans, links = split_markdown(text)
    code_texts = spans + blocks
    seen = set()

    def report(kind, ref, ok):
        global checked
        key = (kind, ref)
        if key in seen:
            return
        seen.add(key)
        checked += 1
        if VERBOSE:
            print(f"docs-check: {doc}: {'ok' if ok else 'MISSING'} {kind} {ref}")
        if not ok:
            problems.append(f"docs-check: {doc}: missing {kind} {ref}")

    for s in code_texts:
        for t in make_refs(s):
            # `make bench-*` names a family: some target must match it.
            report("make target", t, t in targets or ("*" in t and any(fnmatch.fnmatchcase(x, t) for x in targets)))
        for sub, second in mitre_refs(s):
            if sub not in commands:
                report("mitre subcommand", sub, False)
                continue
            report("mitre subcommand", sub, True)
            nested = commands[sub]
            if nested is not None and second:
                report("mitre subcommand", f"{sub} {second}", second in nested)

    # inline code that starts with an HTTP method is a route (`GET openapi.json`), not a path
    path_sources = [s for s in spans if s.split()[:1] and s.split()[0] not in HTTP_METHODS] + blocks
    for s in path_sources:
        for t in tokens(s):
            if looks_like_path(t):
                st = path_status(doc, t)
                if st != "skip":
                    report("path", t, st == "ok")
    for target in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        st = path_status(doc, target)
        if st != "skip":
            report("path", target.split("#", 1)[0], st == "ok")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"docs-check: {checked} references checked, all present")
PYEOF
