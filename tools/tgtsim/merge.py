"""`tgtsim merge DIR...`: the runs of matrix cells (from shards, possibly
of several runners) as one result: summary.txt, results.json and junit.xml
(a <testsuite> per cell, so that names never collide) and one coverage
report made from the cells' lcov tracefiles (`lcov -a`, nothing re-run):
the patch-line report, the gate, lcov HTML and Cobertura (written from the
merged tracefile, as a single run writes it). Everything is a regular
file in the output directory (default out/merged/), ready for upload.

The runs are found below the DIRs (their results.json); a cell found twice
counts once (the newest run). Runs of different kernels or series are not
merged (exit 2).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lxml import etree

from tgtsim import cobertura, coverage, covgate, lcovinfo, matrix, report
from tgtsim.errors import EXIT_USAGE, InfraError, UsageError
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.results import Case, Crash, Results

SUITE = "tgtsim.merge"          # the merge's own cases: a cell that is missing


@dataclass
class CellRun:
    id: str
    run: Path
    data: dict[str, Any]
    results: Results

    @property
    def provenance(self) -> dict[str, Any]:
        return self.data.get("provenance") or {}


def find_runs(dirs: list[Path]) -> list[CellRun]:
    """The runs of matrix cells below `dirs` (newest run of each cell)."""
    seen: set[Path] = set()
    by_cell: dict[str, CellRun] = {}
    for d in dirs:
        if not d.exists():
            raise UsageError(f"merge: {d}: no such directory")
        files = sorted(d.rglob("results.json"))
        for f in files:
            real = f.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            cell = (data.get("provenance") or {}).get("cell")
            if not cell:
                continue
            old = by_cell.get(cell)
            if old is None or (data.get("started") or 0) > (old.data.get("started") or 0):
                by_cell[cell] = CellRun(cell, real.parent, data, Results.from_dict(data))
    return list(by_cell.values())


def same_kernel(runs: list[CellRun]) -> dict[str, Any]:
    """The provenance the runs share; runs of different kernels, series or
    tgtsim are a usage error."""
    keys = ("kernel_commit", "kernel_base", "series_hash", "tgtsim_commit")
    first = runs[0].provenance
    for r in runs[1:]:
        for k in keys:
            if r.provenance.get(k) != first.get(k):
                raise UsageError(f"merge: cell {r.id} tested another {k} "
                                 f"({r.provenance.get(k)}) than cell {runs[0].id} "
                                 f"({first.get(k)}): runs of one kernel only")
    profiles = sorted({str(r.provenance.get("profile") or r.data.get("profile", ""))
                       for r in runs})
    prov = {k: first.get(k) for k in keys}
    return {"kernel_commit": prov["kernel_commit"], "kernel_base": prov["kernel_base"],
            "series_hash": prov["series_hash"], "profile": "+".join(profiles), "cell": None,
            "seed": None, "tgtsim_commit": prov["tgtsim_commit"]}


# -- coverage ------------------------------------------------------------------

def normalized_tracefile(run: CellRun, tree: Path, dest: Path) -> Optional[Path]:
    """The cell's tracefile with its source paths moved from the tree it was
    captured in to `tree` (runners need not share a checkout path)."""
    info = run.run / coverage.SUBDIR / "coverage.info"
    if not info.is_file():
        return None
    old = (run.data.get("coverage") or {}).get("tree")
    text = info.read_text(errors="backslashreplace")
    if old and os.path.normpath(old) != os.path.normpath(str(tree)):
        text = text.replace(f"SF:{os.path.normpath(old)}/", f"SF:{tree}/")
    dest.write_text(text)
    return dest


def merge_coverage(paths: Paths, runs: list[CellRun], out: Path, gate: bool,
                   progress: Progress) -> Optional[dict[str, Any]]:
    """`lcov -a` of the cells' tracefiles, the reports and the gate; None
    when no cell has coverage."""
    cov_dir = out / coverage.SUBDIR
    work = cov_dir / "cells"
    work.mkdir(parents=True, exist_ok=True)
    infos = [t for r in runs if (t := normalized_tracefile(r, paths.linux,
                                                           work / f"{r.id}.info"))]
    if not infos:
        shutil.rmtree(cov_dir, ignore_errors=True)
        return None
    if not paths.linux.is_dir():
        raise InfraError(f"merge: the coverage reports need the prepared tree {paths.linux} "
                         "(run `tgtsim prepare` first)")
    log = cov_dir / "coverage.log"
    info = cov_dir / "coverage.info"
    cmd = [coverage._tool("lcov"), "-q", *coverage.LCOV_RC]
    for t in infos:
        cmd += ["-a", str(t)]
    with progress.step("merge: lcov -a"):
        coverage._run_tool(cmd + ["-o", str(info)], log, progress, "lcov -a")
    th = covgate.load_thresholds(coverage.thresholds_path(paths))
    rep, sim, entry = coverage.analyze(paths, info, th, gate)
    (cov_dir / "patch.txt").write_text(covgate.report_text(rep))
    (cov_dir / "sim_lld.txt").write_text(coverage.sim_lld_text(sim))
    scope = coverage.read_scope(paths)
    scoped = info
    if coverage.EVERYTHING not in scope:
        scoped = cov_dir / "scope.info"
        coverage.extract(info, paths.linux, scope, scoped, log, progress)
    coverage.genhtml(scoped, paths.linux, cov_dir / "html", log, progress)
    xml = cov_dir / "cobertura.xml"
    cobertura.write(scoped, paths.linux, xml, "tgtsim merge")
    entry["cells"] = [r.id for r in runs if (work / f"{r.id}.info").is_file()]
    entry["tree"] = str(paths.linux)
    return entry


# -- results -------------------------------------------------------------------

def junit(runs: list[CellRun], merged_cases: list[Case], prov: dict[str, Any]) -> bytes:
    """A <testsuite> per cell (its cases with their suite as classname, its
    provenance as properties), then the merge's own cases."""
    root = etree.Element("testsuites", name="tgtsim merge")
    groups: list[tuple[str, Results, dict[str, Any]]] = \
        [(r.id, r.results, r.provenance) for r in runs]
    if merged_cases:
        own = Results(cases=merged_cases, suites=sorted({c.suite for c in merged_cases}))
        groups.append(("merge", own, prov))
    for name, res, p in groups:
        sub = etree.fromstring(report.junit_xml(res))
        ts = etree.SubElement(root, "testsuite", name=name)
        report.add_properties(ts, p)
        n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        t = 0.0
        for tc in list(sub.iter("testcase")):
            ts.append(tc)
            n["tests"] += 1
            n["failures"] += len(tc.findall("failure"))
            n["errors"] += len(tc.findall("error"))
            n["skipped"] += len(tc.findall("skipped"))
            t += float(tc.get("time") or 0)
        for k, v in n.items():
            ts.set(k, str(v))
        ts.set("time", f"{t:.3f}")
    for k in ("tests", "failures", "errors", "skipped"):
        root.set(k, str(sum(int(ts.get(k, "0")) for ts in root.iter("testsuite"))))
    root.set("time", f"{sum(float(ts.get('time', '0')) for ts in root.iter('testsuite')):.3f}")
    etree.indent(root)
    return etree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def merged_results(runs: list[CellRun]) -> Results:
    res = Results()
    for r in runs:
        res.add(list(r.results.cases), list(r.results.suites), None)
        res.sanitizer.extend(r.results.sanitizer)
        res.allowed.extend(r.results.allowed)
        if r.results.crash is not None and res.crash is None:
            res.crash = Crash(reason=f"cell {r.id}: {r.results.crash.reason}",
                              tail=r.results.crash.tail, where=r.results.crash.where)
    return res


def merge(paths: Paths, dirs: list[Path], out: Path, progress: Progress, gate: bool = True,
          expect: Optional[list[str]] = None) -> int:
    runs = sorted(find_runs(dirs), key=lambda r: r.id)
    if not runs:
        raise UsageError("merge: no run of a matrix cell below "
                         + ", ".join(str(d) for d in dirs))
    prov = same_kernel(runs)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    res = merged_results(runs)
    own: list[Case] = []
    for cid in expect or []:
        if not any(r.id == cid for r in runs):
            own.append(Case(SUITE, f"cell {cid}", "failed",
                            f"no run of cell {cid} was found (a shard missing?)"))
    cov = merge_coverage(paths, runs, out, gate, progress)
    notes: list[str] = []
    if cov is not None:
        gate_res = Results()
        notes = coverage.apply(gate_res, cov)
        own += gate_res.cases
    res.add(own, sorted({c.suite for c in own}), None)
    data: dict[str, Any] = {"schema_version": report.SCHEMA_VERSION,
                            "run_id": f"merge-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                            "profile": prov["profile"], "started": time.time(),
                            "provenance": prov}
    if cov is not None:
        data["coverage"] = cov
    d = res.to_dict()
    d["suites"] = []
    for r in runs:
        d["suites"] += [{**s, "cell": r.id} for s in r.results.to_dict()["suites"]]
    d["suites"] += [{**s, "cell": "merge"} for s in
                    Results(cases=own, suites=sorted({c.suite for c in own})).to_dict()["suites"]]
    data.update(d)
    data["cells"] = [{"id": r.id, "run": str(r.run), "profile": r.data.get("profile", ""),
                      "counts": r.data.get("counts", {}), "exit_code": r.data.get("exit_code", 0),
                      "duration": r.data.get("duration"), "provenance": r.provenance}
                     for r in runs]
    data["exit_code"] = max([res.exit_code()] + [r.data.get("exit_code", 0) for r in runs
                                                 if r.data.get("exit_code", 0) != EXIT_USAGE])
    header = f"merged {len(runs)} cells: " + ", ".join(r.id for r in runs)
    text = report.summary_text(res, header=header, notes=notes)
    (out / "summary.txt").write_text(text)
    (out / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / "junit.xml").write_bytes(junit(runs, own, prov))
    sys.stdout.write(text)
    sys.stdout.write(f"reports: {out}\n")
    sys.stdout.flush()
    return int(data["exit_code"])


def default_expect(paths: Paths, matrix_file: Path, cells: str) -> list[str]:
    return [c.id for c in matrix.select(matrix.load(matrix_file, paths.profiles), cells)]
