#!/usr/bin/env python3
"""Write the "which case catches which break" table into kunit/README.md.

Usage: mktable.py RESULTS_DIR [README]

RESULTS_DIR holds one KTAP file per run, as written by run-mutants.sh:
port.ktap for the unmutated port and NN-name.ktap for the mutant
NN-name.patch of this directory. A case that passed on the port but failed
under a mutant, or was never reported because the kernel crashed or hung,
catches that mutant. The table replaces the text between the markers
<!-- mutant-table:begin --> and <!-- mutant-table:end --> of README.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "<!-- mutant-table:begin -->"
END = "<!-- mutant-table:end -->"
SUITES = ("tgt_cmd_refcount", "tgt_cmd_free_list", "tgt_cmd_tags",
          "tgt_cmd_offsets")
RESULT = re.compile(r"^(\s*)(ok|not ok) \d+ (.*?)(?:\s+#\s*(\w+).*)?$")
SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")


@dataclass
class Run:
    """Case-level results of one KTAP log: 'suite.case' -> passed."""

    cases: dict[str, bool] = field(default_factory=dict)
    # 'suite.case' -> descriptions of its failing parameters
    failed_params: dict[str, list[str]] = field(default_factory=dict)


def parse_ktap(text: str) -> Run:
    """Parse nested KTAP as printed by KUnit (4 spaces per level)."""
    run = Run()
    names: dict[int, str] = {}
    for line in text.splitlines():
        m = SUBTEST.match(line)
        if m:
            names[len(m.group(1)) // 4 + 1] = m.group(2)
            continue
        m = RESULT.match(line)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        passed = m.group(2) == "ok" or (m.group(4) or "").upper() == "SKIP"
        name = m.group(3).strip()
        if depth == 1 and names.get(1) in SUITES:
            run.cases[f"{names[1]}.{name}"] = passed
        elif depth == 2 and names.get(1) in SUITES and not passed:
            key = f"{names[1]}.{names.get(2, '?')}"
            run.failed_params.setdefault(key, []).append(name)
    return run


def describe(patch: Path) -> str:
    """First line of the patch file (text before the diff)."""
    for line in patch.read_text().splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return ""


def caught(base: Run, mutant: Run) -> list[str]:
    """Cases passing on the port that fail or vanish under the mutant."""
    return [case for case, ok in base.cases.items()
            if ok and not mutant.cases.get(case, False)]


def render(results: Path, mutants_dir: Path) -> str:
    base = parse_ktap((results / "port.ktap").read_text())
    total = len(base.cases)
    passing = sum(base.cases.values())
    out = [f"Unmutated port: {passing}/{total} cases pass.", ""]
    head = "| mutant | " + " | ".join(s.removeprefix("tgt_cmd_")
                                       for s in SUITES) + " |"
    out += [head, "|---" * (len(SUITES) + 1) + "|"]
    details: list[str] = []
    for patch in sorted(mutants_dir.glob("[0-9][0-9]-*.patch")):
        ktap = results / (patch.stem + ".ktap")
        if not ktap.exists():
            out.append(f"| {patch.stem} | " + " | ".join(
                "not run" for _ in SUITES) + " |")
            continue
        mut = parse_ktap(ktap.read_text())
        if not mut.cases:
            out.append(f"| {patch.stem} | " + " | ".join(
                "no KTAP (build or boot failed)" for _ in SUITES) + " |")
            continue
        red = caught(base, mut)
        cells = []
        for suite in SUITES:
            n = sum(1 for c in red if c.startswith(suite + "."))
            cells.append(f"**{n} red**" if n else "-")
        out.append(f"| {patch.stem} | " + " | ".join(cells) + " |")
        details.append(f"- **{patch.stem}**: {describe(patch)}")
        if not red:
            details.append("  - NOT CAUGHT")
        for case in red:
            note = "" if case in mut.cases else " (crash/hang: not reported)"
            params = mut.failed_params.get(case, [])
            shown = "; ".join(params[:3]) + (" ..." if len(params) > 3
                                              else "")
            extra = f" [{shown}]" if shown else ""
            details.append(f"  - `{case}`{note}{extra}")
    return "\n".join(out + ["", "Cases that catch each mutant:", ""] +
                     details) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    results = Path(argv[1])
    here = Path(__file__).resolve().parent
    readme = Path(argv[2]) if len(argv) == 3 else here.parent / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"{readme}: markers missing", file=sys.stderr)
        return 2
    table = render(results, here)
    start = text.index(BEGIN) + len(BEGIN)
    readme.write_text(text[:start] + "\n" + table + text[text.index(END):])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
