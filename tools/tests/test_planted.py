from pathlib import Path

import pytest

from conftest import ROOT
from tgtsim import planted
from tgtsim.errors import UsageError
from tgtsim.results import Results
from tgtsim.sanitizers import Report

DIFF = "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"


def write(d: Path, name: str, head: str) -> Path:
    p = d / name
    p.write_text(head + "\n" + DIFF)
    return p


def test_discover_reads_expectation(tmp_path: Path) -> None:
    write(tmp_path, "01-uaf.patch", "Planted bug: a use-after-free.\nExpect: kasan use-after-free\n")
    write(tmp_path, "02-lock.patch", "Planted bug: inversion.\nExpect: lockdep possible circular\n")
    write(tmp_path, "notes.patch", "not a planted bug\n")
    bugs = planted.discover(tmp_path)
    assert [(b.name, b.kind, b.text) for b in bugs] == [
        ("01-uaf", "kasan", "use-after-free"), ("02-lock", "lockdep", "possible circular")]
    assert bugs[0].description == "Planted bug: a use-after-free."


def test_discover_needs_expect_line(tmp_path: Path) -> None:
    write(tmp_path, "01-x.patch", "Planted bug without expectation\n")
    with pytest.raises(UsageError, match="no 'Expect: KIND TEXT' line"):
        planted.discover(tmp_path)


def test_select(tmp_path: Path) -> None:
    write(tmp_path, "01-uaf.patch", "x\nExpect: kasan use-after-free\n")
    write(tmp_path, "02-lock.patch", "x\nExpect: lockdep circular\n")
    bugs = planted.discover(tmp_path)
    assert [b.name for b in planted.select(bugs, ["02"])] == ["02-lock"]
    assert [b.name for b in planted.select(bugs, [])] == ["01-uaf", "02-lock"]
    with pytest.raises(UsageError, match="not found"):
        planted.select(bugs, ["09"])


def _res(*reports: Report) -> Results:
    r = Results()
    r.sanitizer = list(reports)
    return r


def _rep(kind: str, title: str) -> Report:
    return Report(kind=kind, title=title, lines=[title], line_no=1)


def test_verdicts() -> None:
    bug = planted.Bug("01-uaf", Path("x"), "d", "kasan", "use-after-free")
    uaf = _rep("kasan", "BUG: KASAN: slab-use-after-free in scsi_host_put_command+0x1/0x2")
    oob = _rep("kasan", "BUG: KASAN: slab-out-of-bounds in f+0x1/0x2")
    warn = _rep("warn", "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2")
    assert planted.verdict(bug, _res(warn, uaf)).status == planted.CAUGHT
    assert planted.verdict(bug, _res(oob, warn)).status == planted.WRONG
    assert planted.verdict(bug, _res()).status == planted.MISSED
    assert planted.verdict(bug, None).status == planted.STILLBORN
    assert planted.verdict(bug, None, applied=False).status == planted.STALE


def test_the_project_bugs_apply_format() -> None:
    """The four planted bugs of kunit/selftest-bugs/, each with the expected kind."""
    bugs = planted.discover(ROOT / "kunit" / "selftest-bugs")
    assert sorted(b.kind for b in bugs) == ["atomic-sleep", "kasan", "kmemleak", "lockdep"]
    for b in bugs:
        text = b.path.read_text()
        assert "\ndiff --git a/drivers/scsi/" in text
        assert b.description.startswith("Planted bug: ")
