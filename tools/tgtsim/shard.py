"""Cells of the matrix as runs: `tgtsim run --cell ID` runs one with the
built kernel of its profile, `tgtsim shard --index I --total T` builds the
profiles of its share of the matrix (matrix.shares: the same on every
runner) and runs each of its cells. Each cell is a run directory of its own
(results.json's provenance names the cell); a cell of a measured profile
keeps only its lcov tracefile: the reports and the gate come from
`tgtsim merge` of all cells.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from tgtsim import build, coverage, deps, matrix, prepare, report, run
from tgtsim.errors import EXIT_INFRA, BuildError
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.results import Results
from tgtsim.uml import BootOptions


def cell_options(cell: matrix.Cell, base: BootOptions) -> BootOptions:
    """The boot of a cell: its suites, programs, seed and arguments over
    `base` (timeouts, jobs)."""
    return replace(base, filter_glob=cell.kunit,
                   seed=cell.seed if cell.seed is not None else base.seed,
                   kernel_args=list(base.kernel_args) + list(cell.args),
                   selftests=cell.selftests is not None,
                   selftest_filter=cell.selftests or "")


def run_cell(paths: Paths, cell: matrix.Cell, base: BootOptions, progress: Progress,
             jobs: int) -> Results:
    """Boot the built kernel of the cell's profile; a measured profile's
    counters are zeroed first and captured after (the tracefile only)."""
    cov = coverage.for_profile(paths, cell.profile, progress,
                               coverage.Options(gate=False, html=False, cobertura=False,
                                                jobs=jobs))
    if cov is not None:
        cov.reset()
    progress.info(f"cell {cell.id}: {cell.profile} {cell.describe()}")
    return run.run_profile(paths, cell.profile, cell_options(cell, base), progress, cov,
                           cell=cell.id)


@dataclass
class ShardOptions:
    index: int
    total: int
    matrix_file: Path
    cells: str = ""                 # comma-separated globs of cell ids
    boot: BootOptions = field(default_factory=BootOptions)
    deps: bool = True
    use_ccache: bool = True
    kernel_src: Optional[str] = None
    kernel_ref: Optional[str] = None
    dry_run: bool = False


def manifest_path(out: Path, index: int, total: int) -> Path:
    return out / "shards" / f"shard-{index}-of-{total}.json"


def worst(codes: list[int]) -> int:
    """A shard's exit code: the tool's or a crash's (3) over a failure (1)."""
    if any(c >= 2 for c in codes):
        return max(c for c in codes if c >= 2)
    return 1 if any(codes) else 0


def _manifest(paths: Paths, opts: ShardOptions, entries: list[dict[str, Any]]) -> None:
    path = manifest_path(paths.out, opts.index, opts.total)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"index": opts.index, "total": opts.total,
                                "cells": entries}, indent=1) + "\n")


def run_shard(paths: Paths, opts: ShardOptions, progress: Progress) -> int:
    cells = matrix.select(matrix.load(opts.matrix_file, paths.profiles), opts.cells)
    mine = matrix.share(cells, opts.index, opts.total)
    est = sum(c.estimate for c in mine)
    sys.stdout.write(f"shard {opts.index}/{opts.total}: {len(mine)} of {len(cells)} cells, "
                     f"~{est:.0f} s: " + (", ".join(c.id for c in mine) or "none") + "\n")
    sys.stdout.flush()
    if opts.dry_run:
        return 0
    if not mine:        # an empty share still leaves its (empty) output for upload
        (paths.out / "runs").mkdir(parents=True, exist_ok=True)
        _manifest(paths, opts, [])
        return 0
    if opts.deps:
        deps.run_deps(True, progress)
    prepare.prepare(paths, progress, opts.kernel_src, opts.kernel_ref)
    broken: dict[str, str] = {}
    for profile in dict.fromkeys(c.profile for c in mine):
        if coverage.measures(profile):
            coverage.check_scope(paths)
        try:
            build.build(paths, profile, progress, opts.boot.jobs, opts.use_ccache,
                        make_options=coverage.build_options(paths, profile))
        except BuildError as e:
            broken[profile] = e.message
            progress.info(f"shard: {profile} does not build: {e.message}")
    entries: list[dict[str, Any]] = []
    codes: list[int] = []
    for cell in mine:
        if cell.profile in broken:
            d = run.record_failure(paths, cell.profile, "build", broken[cell.profile], "",
                                   progress, {"build.log": paths.kbuild(cell.profile)
                                              / "build.log"}, cell=cell.id, seed=cell.seed)
            code, counts = EXIT_INFRA, {"passed": 0, "failed": 1, "skipped": 0}
        else:
            res = run_cell(paths, cell, opts.boot, progress, opts.boot.jobs)
            d = report.latest(paths.out) or paths.out
            code = res.exit_code()
            counts = {"passed": res.passed, "failed": res.failed, "skipped": res.skipped}
        codes.append(code)
        entries.append({"id": cell.id, "run": str(d), "exit_code": code, "counts": counts})
    _manifest(paths, opts, entries)
    n = [sum(e["counts"][k] for e in entries) for k in ("passed", "failed", "skipped")]
    for entry in entries:
        c = entry["counts"]
        sys.stdout.write(f"cell {entry['id']}: {c['passed']} passed, {c['failed']} failed, "
                         f"{c['skipped']} skipped (exit {entry['exit_code']}; {entry['run']})\n")
    sys.stdout.write(f"shard {opts.index}/{opts.total}: {n[0]} passed, {n[1]} failed, "
                     f"{n[2]} skipped\n")
    sys.stdout.flush()
    return worst(codes)
