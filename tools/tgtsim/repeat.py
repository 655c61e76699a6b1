"""`--repeat N`: boot the same kernel N times and report every case that did
not give the same result each time (the flake budget of the suites).

Each of the N runs is an ordinary run (its own out/runs/<id>/, out/latest
switched after each); then the cases of all N are compared: a case is
unstable when its status differs between runs or it is missing from some
(a crash or hang cut a boot short). With the coverage profile the patch
lines are compared too: a line executed in some runs only, or a branch
taken in some runs only, makes the coverage gate itself flaky.

The comparison goes to out/repeat/<UTC timestamp>-<profile>/ (stability.txt,
stability.json) and to stdout; exit 0 when every run passed and every case
is stable, 1 when a case or a patch line is unstable or a run failed,
3 when a run crashed (and no case was unstable).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from tgtsim import report
from tgtsim.errors import EXIT_INFRA, EXIT_TEST_FAILURE, InfraError
from tgtsim.progress import Progress
from tgtsim.results import PASSED, Results

SUBDIR = "repeat"
MAX_LINES = 30         # unstable patch lines shown in stability.txt


@dataclass
class RunSummary:
    run_id: str
    exit_code: int
    cases: dict[str, str]                  # "suite.case" -> status
    crash: Optional[str] = None
    crash_where: Optional[str] = None      # tgtsim.<where>, as junit.xml names it
    uncovered: Optional[list[str]] = None  # patch lines (coverage profile)
    partial: Optional[list[str]] = None    # patch lines with a branch not taken


def summarize(run_id: str, res: Results, cov: Optional[dict[str, Any]]) -> RunSummary:
    s = RunSummary(run_id=run_id, exit_code=res.exit_code(),
                   cases={f"{c.suite}.{c.name}": c.status for c in res.cases},
                   crash=res.crash.reason if res.crash else None,
                   crash_where=res.crash.where if res.crash else None)
    if cov and "uncovered_lines" in cov:
        s.uncovered = list(cov["uncovered_lines"])
        s.partial = [p.split(" ", 1)[0] for p in cov.get("partial_branches", [])]
    return s


@dataclass
class Stability:
    profile: str
    runs: list[RunSummary]
    unstable: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # case -> status -> runs
    unstable_lines: dict[str, list[int]] = field(default_factory=dict)   # line -> runs uncovered
    unstable_branches: dict[str, list[int]] = field(default_factory=dict)

    def exit_code(self) -> int:
        if self.unstable or self.unstable_lines or self.unstable_branches:
            return EXIT_TEST_FAILURE
        codes = [r.exit_code for r in self.runs]
        if any(c == EXIT_INFRA for c in codes):
            return EXIT_INFRA
        return max(codes, default=0)

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "runs": [r.__dict__ for r in self.runs],
                "cases": len(self.all_cases()), "unstable": self.unstable,
                "unstable_lines": self.unstable_lines,
                "unstable_branches": self.unstable_branches, "exit_code": self.exit_code()}

    def all_cases(self) -> list[str]:
        return sorted({c for r in self.runs for c in r.cases})


def compare(profile: str, runs: list[RunSummary]) -> Stability:
    st = Stability(profile=profile, runs=runs)
    # a crash, a hang or a tool failure in some runs only is unstable too
    # (junit.xml's testcase tgtsim.<where>)
    for where in sorted({r.crash_where for r in runs if r.crash_where}):
        by: dict[str, list[int]] = {}
        for i, r in enumerate(runs, 1):
            by.setdefault("crashed" if r.crash_where == where else "no crash", []).append(i)
        if len(by) > 1:
            st.unstable[f"tgtsim.{where}"] = by
    for case in st.all_cases():
        by_status: dict[str, list[int]] = {}
        for i, r in enumerate(runs, 1):
            by_status.setdefault(r.cases.get(case, "missing"), []).append(i)
        if len(by_status) > 1:
            st.unstable[case] = by_status
    measured = [(i, r) for i, r in enumerate(runs, 1) if r.uncovered is not None]
    if len(measured) > 1:
        for attr, out in (("uncovered", st.unstable_lines), ("partial", st.unstable_branches)):
            lines = {ln for _i, r in measured for ln in getattr(r, attr)}
            for ln in sorted(lines):
                seen = [i for i, r in measured if ln in getattr(r, attr)]
                if len(seen) < len(measured):
                    out[ln] = seen
    return st


def text(st: Stability) -> str:
    n = len(st.runs)
    out = [f"repeat: {n} runs of the {st.profile} profile, {len(st.all_cases())} cases"]
    for i, r in enumerate(st.runs, 1):
        passed = sum(1 for s in r.cases.values() if s == PASSED)
        out.append(f"  run {i}: {r.run_id}: exit {r.exit_code}, {passed}/{len(r.cases)} "
                   "cases passed" + (f", CRASH {r.crash}" if r.crash else ""))
    if st.unstable:
        out.append(f"UNSTABLE cases ({len(st.unstable)}):")
        for case, by in st.unstable.items():
            out.append(f"  {case}: " + "; ".join(f"{s} in runs {','.join(map(str, rs))}"
                                               for s, rs in sorted(by.items())))
    else:
        out.append(f"stable: every case gave the same result in all {n} runs")
    if any(r.uncovered is not None for r in st.runs):
        if st.unstable_lines or st.unstable_branches:
            out.append("UNSTABLE coverage (patch lines):")
            rows = [f"  {ln}: not executed in runs {','.join(map(str, rs))}"
                    for ln, rs in st.unstable_lines.items()]
            rows += [f"  {ln}: a branch not taken in runs {','.join(map(str, rs))}"
                     for ln, rs in st.unstable_branches.items()]
            out += rows[:MAX_LINES]
            if len(rows) > MAX_LINES:
                out.append(f"  ... {len(rows) - MAX_LINES} more in stability.json")
        else:
            out.append(f"stable: the same patch lines and branches executed in all {n} runs")
    return "\n".join(out) + "\n"


def write(out: Path, st: Stability) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        d = out / SUBDIR / f"{stamp}-{st.profile}"
        n = 1
        while d.exists():
            n += 1
            d = out / SUBDIR / f"{stamp}-{st.profile}-{n}"
        d.mkdir(parents=True)
        (d / "stability.txt").write_text(text(st))
        (d / "stability.json").write_text(json.dumps(st.to_dict(), indent=1) + "\n")
    except OSError as e:
        raise InfraError(f"cannot write to {out}: {e.strerror or e}") from None
    return d


def repeat(out: Path, profile: str, n: int, one_run: Callable[[], Results],
           progress: Progress) -> Stability:
    """`one_run()` n times (each writes its run directory and out/latest),
    then the comparison."""
    runs: list[RunSummary] = []
    for i in range(1, n + 1):
        with progress.step(f"repeat: run {i} of {n}"):
            res = one_run()
        latest = report.latest(out)
        run_id, cov = "?", None
        if latest is not None:
            run_id = latest.name
            cov = report.load(latest)[1].coverage
        runs.append(summarize(run_id, res, cov))
    st = compare(profile, runs)
    d = write(out, st)
    body = text(st)
    progress.info(f"repeat: {d}")
    sys.stdout.write(body)
    sys.stdout.flush()
    return st
