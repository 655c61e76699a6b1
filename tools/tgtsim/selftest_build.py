"""The selftest programs of selftests/: built on the host (make -C selftests
KSRC=build/linux O=build/selftests) and listed: tests.list gives each
program and its description, each program's `--list` its tests, so that
tests that never report in the boot are still named.

The programs are tgtsim's, not the kernel's: a program that does not
build is the tool's failure (Status.TOOL_FAILURE), reported with the run.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tgtsim.errors import InfraError
from tgtsim.paths import Paths
from tgtsim.procs import run_watched
from tgtsim.progress import Progress

BUILD_LOG = "selftests-build.log"
MAKE_TIMEOUT = 900.0


class SelftestBuildError(InfraError):
    """make -C selftests failed, or a program cannot list its tests."""


@dataclass
class Program:
    name: str
    description: str
    tests: list[str]


@dataclass
class Programs:
    """The built programs, or why they could not be built."""
    out_dir: Path
    programs: list[Program] = field(default_factory=list)
    error: Optional[SelftestBuildError] = None

    def selected(self, glob: str) -> list[Program]:
        return selected(self.programs, glob)


def selected(programs: list[Program], glob: str) -> list[Program]:
    return [p for p in programs if not glob or fnmatch.fnmatchcase(p.name, glob)]


def make(paths: Paths, log: Path, jobs: int, progress: Progress) -> Path:
    """make -C selftests KSRC=build/linux O=build/selftests."""
    out_dir = paths.build / "selftests"
    cmd = ["make", "-C", str(paths.root / "selftests"), f"-j{max(1, jobs)}",
           f"KSRC={paths.linux}", f"O={out_dir}"]
    progress.info("selftests: " + " ".join(cmd))
    # in a process group of its own, like every longer child: an interrupt
    # kills make and the compilers it started
    try:
        res = run_watched(cmd, log=log, timeout=MAKE_TIMEOUT)
    except InfraError as e:
        if isinstance(e, SelftestBuildError):
            raise
        raise SelftestBuildError(f"selftests build failed: {e.message}") from None
    if res.returncode != 0 or res.timed_out:
        lines = res.lines
        errors = [ln for ln in lines if re.search(r"error|Error|No such file|not found", ln)]
        why = "timed out" if res.timed_out else f"exit {res.returncode}"
        raise SelftestBuildError(f"selftests build failed (make -C selftests, {why})",
                                 detail="\n".join((errors or lines)[-40:]))
    return out_dir


def read_programs(out_dir: Path) -> list[Program]:
    """tests.list (name<TAB>description) and each program's --list."""
    listing = out_dir / "tests.list"
    try:
        rows = listing.read_text().splitlines()
    except OSError as e:
        raise SelftestBuildError(f"selftests build made no readable {listing}: "
                                 f"{e.strerror or e}") from None
    progs = []
    for row in rows:
        if not row.strip():
            continue
        name, _, desc = row.partition("\t")
        exe = out_dir / name
        try:
            cp = subprocess.run([str(exe), "--list"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SelftestBuildError(f"selftest {name}: cannot list its tests: {e}") from None
        if cp.returncode != 0:
            raise SelftestBuildError(f"selftest {name}: `{exe} --list` failed "
                                     f"(exit {cp.returncode})", detail=cp.stderr)
        progs.append(Program(name, desc.strip(), [t for t in cp.stdout.split() if t]))
    return progs


def build(paths: Paths, run_dir: Path, jobs: int, progress: Progress) -> Programs:
    """Build and list the programs; a failure is kept, not raised, so that
    the KUnit boot of the same run still happens and is reported."""
    out_dir = paths.build / "selftests"
    try:
        with progress.step("build selftests"):
            out_dir = make(paths, run_dir / BUILD_LOG, jobs, progress)
            return Programs(out_dir, read_programs(out_dir))
    except SelftestBuildError as e:
        return Programs(out_dir, error=e)
