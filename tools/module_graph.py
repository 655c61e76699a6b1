#!/usr/bin/env python3
"""The module graph of tools/tgtsim, read from the code (ast): which module
imports which, each module in the stage it belongs to. Stages flow one way,

    base -> prepare -> build -> boot -> analyse -> report -> coverage -> commands

and a module may import modules of its own stage or an earlier one only;
no import cycle. `check()` lists what breaks that (tests/test_module_graph.py
runs it); `tools/module_graph.py --write` puts the graph (Mermaid) and the
list of modules into tools/README.md, `--check` fails if that is stale.

example: tools/module_graph.py --write
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Optional, Sequence

TOOLS = Path(__file__).resolve().parent
PACKAGE = TOOLS / "tgtsim"
DOC = TOOLS / "README.md"
BEGIN = "<!-- module-graph:begin (tools/module_graph.py --write) -->"
END = "<!-- module-graph:end -->"

# stage -> (what it does, its modules), in the order the stages flow
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("base", "exit codes and statuses, paths, child processes, progress, git, profiles, "
     "packages, the test matrix", ("__init__", "errors", "paths", "procs", "progress",
                                   "gitutil", "profiles", "deps", "matrix")),
    ("prepare", "build/linux: the base, the series, the overlay; the series' lines; "
     "what a run tested", ("kernel_source", "series", "overlay", "prepare", "refresh",
                           "patchlines", "provenance")),
    ("build", "the UML kernel of a profile; the selftest programs",
     ("build", "selftest_build")),
    ("boot", "the UML boots: command lines, watchdog, consoles",
     ("uml", "boots")),
    ("analyse", "consoles into results: KTAP by the tree's kunit_parser, crashes, "
     "sanitizer reports", ("console", "ktap", "sanitizers", "results", "kunit_results",
                           "selftests", "analysis")),
    ("report", "summary.txt, results.json, junit.xml, out/latest; the HTML pages: a run's "
     "page with its chunk traces drawn, out/index.html", ("report", "chunktrace", "svg",
                                                          "page", "runindex")),
    ("coverage", "the run's tracefile (from gcov's JSON), lcov HTML, Cobertura, patch-line "
     "coverage and its gate", ("gcovjson", "lcovinfo", "covgate", "diffcov", "cobertura",
                               "coverage")),
    ("commands", "the run's pipeline and the commands", ("run", "repeat", "mutants", "planted",
                                                         "lint", "bisect", "bisect_check",
                                                         "shard", "merge", "benchfig", "bench",
                                                         "cli",
                                                         "__main__")),
)


def modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py"))


def imports(module: str) -> list[str]:
    """The tgtsim modules `module` imports (at any level of its code)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(), f"{module}.py")
    found: list[str] = []

    def add(name: str) -> None:
        if name != module and name not in found:
            found.append(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tgtsim."):
                    add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "tgtsim":
                for alias in node.names:
                    add(alias.name if (PACKAGE / f"{alias.name}.py").is_file() else "__init__")
            elif node.module.startswith("tgtsim."):
                add(node.module.split(".")[1])
    return found


def graph() -> dict[str, list[str]]:
    return {m: imports(m) for m in modules()}


def stage_of(module: str) -> Optional[int]:
    return next((i for i, (_n, _w, mods) in enumerate(STAGES) if module in mods), None)


def cycles(g: dict[str, list[str]]) -> list[list[str]]:
    """Each import cycle once, as the path that closes it."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}      # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in g.get(m, []):
            if state.get(n) == 1:
                loop = path[path.index(n):] + [n]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append(loop)
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    return found


def check(g: dict[str, list[str]]) -> list[str]:
    """What breaks the rules: a module in no stage, a stage importing a
    later stage, an import cycle."""
    problems = []
    for m, deps in sorted(g.items()):
        mine = stage_of(m)
        if mine is None:
            problems.append(f"{m}: in no stage (add it to STAGES of tools/module_graph.py)")
            continue
        for d in deps:
            theirs = stage_of(d)
            if theirs is not None and theirs > mine:
                problems.append(f"{m} ({STAGES[mine][0]}) imports {d}, of the later stage "
                                f"{STAGES[theirs][0]}")
    for loop in cycles(g):
        problems.append("import cycle: " + " -> ".join(loop))
    return problems


def mermaid(g: dict[str, list[str]]) -> str:
    """The graph; imports of the base stage (every stage uses it) are left
    out of the arrows."""
    out = ["```mermaid", "flowchart TD"]
    for name, _what, mods in STAGES:
        present = [m for m in mods if m in g and m != "__init__"]
        out.append(f"  subgraph {name}")
        out += [f"    {m.strip('_')}[{m}]" for m in present]
        out.append("  end")
    for m in sorted(g):
        for d in g[m]:
            if stage_of(d) != 0 and stage_of(m) != 0:
                out.append(f"  {m.strip('_')} --> {d.strip('_')}")
    out.append("```")
    return "\n".join(out)


def text(g: dict[str, list[str]]) -> str:
    """The doc's section: the graph and, per stage, its modules and imports."""
    out = [BEGIN, "", "Generated by `tools/module_graph.py --write` from the imports; the "
           "arrows leave out the base stage, which every stage uses.", "", mermaid(g), "",
           "| stage | module | imports (tgtsim) |", "| --- | --- | --- |"]
    for name, what, mods in STAGES:
        for i, m in enumerate(x for x in mods if x in g):
            stage = f"**{name}**: {what}" if i == 0 else ""
            out.append(f"| {stage} | `{m}` | {', '.join(g[m]) or '-'} |")
    out += ["", END]
    return "\n".join(out)


def updated(doc: str, section: str) -> str:
    if BEGIN not in doc or END not in doc:
        raise ValueError(f"{DOC}: the markers {BEGIN} ... {END} are missing")
    return doc[:doc.index(BEGIN)] + section + doc[doc.index(END) + len(END):]


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help=f"update the graph in {DOC.name}")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 if the rules are broken or {DOC.name} is stale")
    args = p.parse_args(list(argv))
    g = graph()
    problems = check(g)
    for line in problems:
        print(f"module_graph: {line}", file=sys.stderr)
    try:
        doc = DOC.read_text()
        new = updated(doc, text(g))
    except (OSError, ValueError) as e:
        print(f"module_graph: error: {e}", file=sys.stderr)
        return 2
    if args.write and new != doc:
        DOC.write_text(new)
    elif args.check and new != doc:
        print(f"module_graph: {DOC} is stale: run tools/module_graph.py --write",
              file=sys.stderr)
        return 1
    elif not args.write and not args.check:
        print(text(g))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
