#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""No user-facing message may name an internal symbol: no C string literal
in src/ (error messages, CLI output) may contain "fic__"."""
import pathlib
import re
import sys

LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')
root = pathlib.Path(__file__).resolve().parents[2] / "src"
hits = []
for path in sorted(root.rglob("*.[ch]")):
    for num, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line.lstrip().startswith("#include"):
            continue
        for lit in LITERAL.findall(line):
            if "fic__" in lit:
                hits.append(f"{path.relative_to(root.parent)}:{num}: {lit}")
if hits:
    print("string literals naming internal symbols:", *hits, sep="\n", file=sys.stderr)
    sys.exit(1)
print("no string literal in src/ names an internal symbol")
