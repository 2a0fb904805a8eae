#!/usr/bin/env python3
"""Each clean demo charm differs from its buggy twin only at the planted bugs.

`examples/charms/demo-k8s`, `demo-machine` and `demo-snap` carry planted bugs;
`demo-k8s-clean`, `demo-machine-clean` and `demo-snap-clean` are the same charms with the
bugs fixed. Everything else must stay identical, so that a fix made in one copy is made in
both and `diff -r` shows only the fixes. Every differing hunk, in every file of the two
directories, must either

* lie within a planted-bug region on both sides, with the same bug id: in the buggy charm a
  marker comment `# PLANTED BUG-n: …` (or `# BUG-Mn: …`) and the statement right below it;
  in the clean charm a marker comment `# FIX BUG-n: …` and the statement right below it (a
  compound statement with its indented body). A side of the hunk that is empty (a pure
  insertion or deletion) needs no region on that side; or
* be listed in `examples/charms/twins-allowlist.toml` (twin, file, the exact lines removed
  and added, and a reason).

A failing hunk is printed in unified form with the reason. Usage:
    scripts/check_twins.py [CHARMS_DIR]     (default: examples/charms)
"""

import difflib
import os
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

PAIRS = [
    ("demo-k8s", "demo-k8s-clean"),
    ("demo-machine", "demo-machine-clean"),
    ("demo-snap", "demo-snap-clean"),
]
BUGGY_MARK = re.compile(r"^\s*#\s*(?:PLANTED\s+)?BUG-(\w+):")
CLEAN_MARK = re.compile(r"^\s*#\s*FIX\s+BUG-(\w+):")
SKIP = {"__pycache__", ".ruff_cache", ".pytest_cache"}


def indent(line):
    return len(line) - len(line.lstrip(" \t"))


def regions(lines, mark):
    """[(bug id, first, end)]: a marker comment and the statement below it (end exclusive)."""
    out = []
    for i, line in enumerate(lines):
        m = mark.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and lines[j].lstrip().startswith("#"):
            j += 1  # the rest of a multi-line marker comment
        if j < len(lines):
            base = indent(lines[j])
            j += 1
            while j < len(lines) and (not lines[j].strip() or indent(lines[j]) > base):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1  # trailing blank lines are not part of the statement
        out.append((m.group(1), i, j))
    return out


def region_of(regs, lo, hi):
    """The bug ids of the regions that contain lines [lo, hi)."""
    return {bug for bug, a, b in regs if a <= lo and hi <= b}


def files_of(root):
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP]
        for n in names:
            yield os.path.relpath(os.path.join(d, n), root)


def read(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read().split("\n")


def show(buggy, clean, rel, a, b, i1, i2, j1, j2):
    head = f"--- {buggy}/{rel}\n+++ {clean}/{rel}\n@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"
    body = [f"-{x}" for x in a[i1:i2]] + [f"+{x}" for x in b[j1:j2]]
    return "\n".join([head, *body])


def main(argv):
    charms = argv[0] if argv else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "charms")
    with open(os.path.join(charms, "twins-allowlist.toml"), "rb") as f:
        allow = tomllib.load(f).get("allow", [])
    used = set()
    failures = []
    hunks = 0
    for buggy, clean in PAIRS:
        rels = sorted(set(files_of(os.path.join(charms, buggy))) |
                      set(files_of(os.path.join(charms, clean))))
        for rel in rels:
            a = read(os.path.join(charms, buggy, rel))
            b = read(os.path.join(charms, clean, rel))
            if a is None or b is None:
                failures.append(f"{rel}: only in {buggy if b is None else clean}")
                continue
            if a == b:
                continue
            ra, rb = regions(a, BUGGY_MARK), regions(b, CLEAN_MARK)
            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            for tag, i1, i2, j1, j2 in sm.get_opcodes():
                if tag == "equal":
                    continue
                hunks += 1
                removed, added = a[i1:i2], b[j1:j2]
                hit = [k for k, e in enumerate(allow)
                       if e.get("twin") == clean and e.get("file") == rel
                       and e.get("removed", "").split("\n")[:-1] == removed
                       and e.get("added", "").split("\n")[:-1] == added]
                if hit:
                    used.update(hit)
                    continue
                ids_a = region_of(ra, i1, i2) if i2 > i1 else None
                ids_b = region_of(rb, j1, j2) if j2 > j1 else None
                why = None
                if ids_a is not None and not ids_a:
                    why = f"the {buggy} side is outside every planted-bug region"
                elif ids_b is not None and not ids_b:
                    why = f"the {clean} side is outside every FIX region"
                elif ids_a is not None and ids_b is not None and not ids_a & ids_b:
                    why = f"planted {sorted(ids_a)} but fixed {sorted(ids_b)}"
                if why:
                    failures.append(f"{why}; not in the allowlist either:\n"
                                    + show(buggy, clean, rel, a, b, i1, i2, j1, j2))
    for k, e in enumerate(allow):
        if k not in used:
            failures.append(f"allowlist entry {e.get('twin')}/{e.get('file')} matches no hunk "
                            "(stale: remove it)")
    for f in failures:
        print("check-twins: " + f)
    if failures:
        print(f"check-twins: FAIL ({len(failures)} problem(s)); a change to one twin belongs in "
              "both, unless it is a planted bug or its fix", file=sys.stderr)
        return 1
    print(f"check-twins: ok ({hunks} differing hunk(s), all at planted bugs or allowlisted)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
