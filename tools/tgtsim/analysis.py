"""The analysis of a run's boots: each console is read once (ktap.py), the
KUnit results and the selftest results are merged (the KUnit boot's crash,
if any, stays the run's), and the sanitizer reports of both consoles are
failures of their own. The same for a fresh run and for `tgtsim report`,
which reads the consoles back from the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tgtsim import kunit_results, sanitizers, selftests
from tgtsim.boots import CONSOLE, SELFTEST_CONSOLE, SelftestInfo
from tgtsim.console import split_times
from tgtsim.errors import InfraError
from tgtsim.ktap import Ktap, parse
from tgtsim.results import Results
from tgtsim.uml import BootResult

KTAP_LOG = "ktap.log"


def analyse(kunit: BootResult, selftest: Optional[SelftestInfo], kunit_dir: Path,
            expect_kmemleak: bool, ktap_dir: Optional[Path] = None) -> Results:
    """The results of a run from its KUnit boot and its selftest side;
    with `ktap_dir`, the KTAP part of each console is written there
    (ktap.log, selftests.ktap)."""
    lines, times = split_times(kunit.lines)      # printk.time=1: each line's time
    parsed = parse(kunit_dir, lines)
    if ktap_dir is not None:
        _write(ktap_dir / KTAP_LOG, parsed, lines)
    res = kunit_results.analyse(lines, parsed, hang=kunit.hang,
                                returncode=kunit.returncode, expect_kmemleak=expect_kmemleak,
                                times=times)
    if selftest is None:
        return res
    if selftest.build_error is not None:
        selftests.add_build_error(res, selftest)
        return res
    st = parse(kunit_dir, selftest.lines)
    if ktap_dir is not None:
        _write(ktap_dir / selftests.KTAP, st, selftest.lines)
    res.add(*selftests.analyse(selftest.lines, st, selftest.programs,
                               hang=selftest.hang or "", returncode=selftest.returncode))
    found = sanitizers.scan(selftest.lines, st, log=SELFTEST_CONSOLE, origin="selftests")
    res.sanitizer.extend(found.reports)
    res.allowed.extend(found.allowed)
    return res


def read_console(path: Path) -> Optional[list[str]]:
    """The lines of a console log of a run directory (None if absent)."""
    try:
        return path.read_text(errors="backslashreplace").splitlines()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InfraError(f"cannot read {path}: {e.strerror or e}") from None


def reread(run_dir: Path, kunit: BootResult, selftest: Optional[SelftestInfo],
           kunit_dir: Path, expect_kmemleak: bool) -> Optional[Results]:
    """The results of a recorded run from its consoles (`kunit` and
    `selftest` as recorded, their lines read from run_dir); None if the
    run has no KUnit console."""
    lines = read_console(run_dir / CONSOLE)
    if lines is None:
        return None
    kunit.lines = lines
    if selftest is not None and selftest.build_error is None:
        st_lines = read_console(run_dir / SELFTEST_CONSOLE)
        if st_lines is None:
            selftest = None
        else:
            selftest.lines = st_lines
    return analyse(kunit, selftest, kunit_dir, expect_kmemleak)


def _write(path: Path, parsed: Ktap, lines: list[str]) -> None:
    """The KTAP part of a console; a full disk is an InfraError."""
    try:
        path.write_text(parsed.text(lines))
    except OSError as e:
        raise InfraError(f"cannot write {path}: {e.strerror or e}") from None
