#!/usr/bin/env python3
"""Every `§` reference in the repository resolves to a heading of docs/juju-model.md.

Juju's rules, which the engine and the target implement, are numbered in docs/juju-model.md:
`L…` headings for the lifecycle, `B…` for the boundary (hook tools, Pebble, environment).
Code and docs cite them as `juju-model.md §L2.3` or `§B2.2`. This check fails when

* a `§L…`/`§B…` reference names no heading of docs/juju-model.md;
* a `§` is followed by a bare number (the old, ambiguous form, section sign then `2.3`);
* a file still names the old spec files (which are not in the repository);
* a format string `§L{}`/`§B{}` formats values (the string literals of a `fn section` in
  the same file) that name no heading.

A `§` followed by anything else (a quoted sign, a ruff setting) is not a reference.
Usage: scripts/check_model_refs.py [PATH...] (default: the directories below).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "docs", "juju-model.md")
DEFAULT = ["src", "tests", "docs", "README.md", "crates", "examples", "python", "fuzz",
           "benches", "scripts"]
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}
HEADING = re.compile(r"^#+\s+([LB]\d+(?:\.\d+)*)\.?\s")
REF = re.compile(r"§([LB]\d+(?:\.\d+)*)")
OLD_REF = re.compile(r"§\d")
FORMAT = re.compile(r"§([LB])\{\}")
# Spelt in pieces so that a rewrite of the old names leaves this file alone.
OLD_NAME = re.compile("juju-" + "(?:lifecycle|boundary)")
SECTION_FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?fn section\b")
SECTION_VALUE = re.compile(r'"(\d+(?:\.\d+)*)"')


def headings():
    ids = set()
    with open(MODEL, encoding="utf-8") as f:
        for line in f:
            m = HEADING.match(line)
            if m:
                ids.add(m.group(1))
    return ids


def build_dir(path):
    return os.path.exists(os.path.join(path, "CACHEDIR.TAG")) or os.path.exists(
        os.path.join(path, ".rustc_info.json"))


def files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
        for root, dirs, names in os.walk(p):
            dirs[:] = sorted(d for d in dirs
                             if d not in SKIP_DIRS and not build_dir(os.path.join(root, d)))
            for n in sorted(names):
                yield os.path.join(root, n)


def section_values(lines):
    """String literals returned by `fn section` (the values a `§L{}` formats)."""
    out = []
    for i, line in enumerate(lines):
        m = SECTION_FN.match(line)
        if not m:
            continue
        indent = m.group(1)
        for body in lines[i + 1:]:
            if body.rstrip() == indent + "}":
                break
            out += SECTION_VALUE.findall(body)
    return out


def main(argv):
    os.chdir(ROOT)
    ids = headings()
    me = os.path.realpath(__file__)
    errors = []
    for path in files(argv or [p for p in DEFAULT if os.path.exists(p)]):
        if os.path.realpath(path) == me:
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(lines, 1):
            where = f"{path}:{n}"
            if OLD_NAME.search(line):
                errors.append(f"{where}: names the old spec (use docs/juju-model.md): {line.strip()}")
            for m in REF.finditer(line):
                if m.group(1) not in ids:
                    errors.append(f"{where}: §{m.group(1)} is no heading of docs/juju-model.md")
            for m in OLD_REF.finditer(line):
                errors.append(f"{where}: old-style reference (§ and a bare number): {line.strip()}")
            for m in FORMAT.finditer(line):
                values = section_values(lines)
                if not values:
                    errors.append(f"{where}: §{m.group(1)}{{}} formats values no `fn section` here gives")
                for v in values:
                    if m.group(1) + v not in ids:
                        errors.append(f"{where}: §{m.group(1)}{{}} formats {v!r}: no heading "
                                      f"{m.group(1)}{v} in docs/juju-model.md")
    for e in sorted(set(errors)):
        print(e)
    if errors:
        print(f"check-model-refs: {len(set(errors))} problem(s); the rules are numbered in "
              "docs/juju-model.md (L… lifecycle, B… boundary)", file=sys.stderr)
        return 1
    print(f"check-model-refs: ok ({len(ids)} headings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
