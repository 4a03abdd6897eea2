#!/usr/bin/env python3
"""Round trip of ATT&CK Navigator layer files through MITRE's mitreattack-python.

Usage: layer_roundtrip.py [--bundle BUNDLE.json[.gz] --excel LAYER.json ...] LAYER.json...

Each file is loaded with `mitreattack.navlayers.Layer().from_dict(...)`. The loader does not
raise on a bad layer: it prints what it disliked and `to_dict()` returns None. So a layer
passes only when the loader prints nothing and `to_dict()` returns a dict equal in substance
to the file: equal once the values the library leaves out by design are left out of the file
too (an empty description, sorting 0, empty top-level lists).

Each layer named with --excel is also exported with the library's `ToExcel` over the STIX
bundle given with --bundle, and the workbook read back with openpyxl: it must hold a sheet named
as the layer (Excel forbids some characters in sheet titles, which the library passes on).
Exits 1 naming every failure.
"""
import argparse
import gzip
import os
import tempfile
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


def excel(path, bundle):
    """Problems of exporting the layer at `path` to Excel over the plain JSON `bundle`."""
    import warnings

    import openpyxl
    from mitreattack.navlayers import ToExcel

    with open(path, encoding="utf-8") as f:
        written = json.load(f)
    layer = Layer()
    layer.from_dict(written)
    out = os.path.join(tempfile.mkdtemp(prefix="layer-excel-"), "layer.xlsx")
    domain = written["domain"].replace("-attack", "")
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            ToExcel(domain=domain, source="local", resource=bundle).to_xlsx(layerInit=layer, filepath=out)
    except Exception as e:  # the exporter's refusal is the failure reported
        return [f"ToExcel refused the layer: {type(e).__name__}: {e}"]
    titles = openpyxl.load_workbook(out, read_only=True).sheetnames
    if written["name"] not in titles:
        return [f"no sheet named {written['name']!r} in the workbook (sheets: {titles})"]
    return []


def plain_bundle(path):
    """The bundle as a plain JSON file (the exporter reads no gzip)."""
    if not path.endswith(".gz"):
        return path
    out = os.path.join(tempfile.mkdtemp(prefix="layer-bundle-"), "bundle.json")
    with gzip.open(path, "rb") as src, open(out, "wb") as dst:
        dst.write(src.read())
    return out


def main(argv):
    parser = argparse.ArgumentParser(usage=__doc__.strip().splitlines()[2])
    parser.add_argument("--bundle")
    parser.add_argument("--excel", action="append", default=[])
    parser.add_argument("layers", nargs="*")
    args = parser.parse_args(argv)
    paths = args.layers + [p for p in args.excel if p not in args.layers]
    if not paths or (args.excel and not args.bundle):
        parser.print_usage(sys.stderr)
        return 2
    bundle = plain_bundle(args.bundle) if args.excel else None
    failed = 0
    for path in paths:
        problems = check(path)
        if path in args.excel:
            problems.extend(excel(path, bundle))
        if problems:
            failed += 1
            print(f"FAIL {path}")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"ok   {path}" + (" (and its Excel export)" if path in args.excel else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
