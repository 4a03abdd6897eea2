#!/usr/bin/env python3
"""Round trip of ATT&CK Navigator layer files through MITRE's mitreattack-python.

Usage: layer_roundtrip.py LAYER.json...

Each file is loaded with `mitreattack.navlayers.Layer().from_dict(...)`. The loader does not
raise on a bad layer: it prints what it disliked and `to_dict()` returns None. So a layer
passes only when the loader prints nothing and `to_dict()` returns a dict equal in substance
to the file: equal once the values the library leaves out by design are left out of the file
too (an empty description, sorting 0, empty top-level lists). Exits 1 naming every failure.
"""
import contextlib
import io
import json
import sys

from mitreattack.navlayers import Layer


def substance(layer):
    """The layer without what mitreattack-python drops when it writes a layer back."""
    out = {}
    for key, value in layer.items():
        if key == "description" and value == "":
            continue
        if key == "sorting" and value == 0:
            continue
        if isinstance(value, list) and not value:
            continue
        out[key] = value
    return out


def differences(want, got, path="$"):
    """Paths at which two JSON values differ."""
    if isinstance(want, dict) and isinstance(got, dict):
        found = []
        for key in sorted(set(want) | set(got)):
            if key not in got:
                found.append(f"{path}.{key}: dropped by the library")
            elif key not in want:
                found.append(f"{path}.{key}: added by the library ({got[key]!r})")
            else:
                found.extend(differences(want[key], got[key], f"{path}.{key}"))
        return found
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: {len(want)} items written, {len(got)} read back"]
        found = []
        for i, (w, g) in enumerate(zip(want, got)):
            found.extend(differences(w, g, f"{path}[{i}]"))
        return found
    if want != got or type(want) is not type(got):
        return [f"{path}: {want!r} written, {got!r} read back"]
    return []


def check(path):
    with open(path, encoding="utf-8") as f:
        written = json.load(f)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        layer = Layer()
        layer.from_dict(written)
        read_back = layer.to_dict()
    problems = []
    if printed.getvalue().strip():
        problems.append("the loader complained: " + printed.getvalue().strip()[:2000])
    if read_back is None:
        problems.append("to_dict() returned None: mitreattack-python refused the layer")
    else:
        problems.extend(differences(substance(written), read_back)[:20])
    return problems


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        problems = check(path)
        if problems:
            failed += 1
            print(f"FAIL {path}")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"ok   {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
