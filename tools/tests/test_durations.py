"""Per-case durations from the consoles themselves: printk's time on the
KUnit boot (printk.time=1), the guest clock that init.sh prints around each
selftest; JUnit `time` and results.json `time` carry them."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tgtsim import analysis, console, report, selftests
from tgtsim.results import Case, Results
from tgtsim.uml import KUNIT_ARGS, BootResult

KUNIT = """\
Linux version 6.12.117 (tgtsim)
[    0.100000] KTAP version 1
[    0.100000] 1..2
[    0.200000]     KTAP version 1
[    0.200000]     # Subtest: suite_a
[    0.200000]     1..2
[    0.700000]     ok 1 case_one
[    1.000000]     # case_two: a log line
[    1.900000]     ok 2 case_two
[    1.900000] # suite_a: pass:2 fail:0 skip:0 total:2
[    1.900000] ok 1 suite_a
[    2.000000]     KTAP version 1
[    2.000000]     # Subtest: suite_b
[    2.000000]     1..1
[    2.000000]         KTAP version 1
[    2.000000]         # Subtest: param_case
[    2.500000]         ok 1 p1
[    3.250000]         not ok 2 p2
[    3.250000]     # param_case: pass:1 fail:1 skip:0 total:2
[    3.250000]     not ok 1 param_case
[    3.250000] not ok 2 suite_b
"""


def test_printk_time_is_on_and_stripped() -> None:
    assert "printk.time=1" in KUNIT_ARGS
    lines, times = console.split_times(["Checking ...OK", "[   12.500000] BUG: KASAN: x"])
    assert lines == ["Checking ...OK", "BUG: KASAN: x"] and times == [None, 12.5]


def test_kunit_case_durations(kunit_dir: Path) -> None:
    boot = BootResult(args=[], lines=KUNIT.splitlines(), returncode=0, duration=4.0)
    res = analysis.analyse(boot, None, kunit_dir, False)
    times = {f"{c.suite}.{c.name}": c.time for c in res.cases}
    assert times == {"suite_a.case_one": 0.5, "suite_a.case_two": 1.2,
                     "suite_b.param_case/p1": 0.5, "suite_b.param_case/p2": 0.75}


def test_no_printk_time_no_durations(kunit_dir: Path) -> None:
    lines = [ln.split("] ", 1)[-1] for ln in KUNIT.splitlines()]
    res = analysis.analyse(BootResult(args=[], lines=lines, returncode=0, duration=1.0),
                           None, kunit_dir, False)
    assert {c.time for c in res.cases} == {None}


SELFTESTS = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: 001_x
    # tgtsim-time: 100.000000
    #  RUN           global.first ...
    #            OK  global.first
    # tgtsim-time: 100.250000
    ok 1 global.first
    # tgtsim-time: 100.250000
    #  RUN           global.second ...
    # tgtsim-time: 103.000000
    not ok 2 global.second
"""


def test_selftest_durations() -> None:
    assert selftests.test_times(SELFTESTS.splitlines()) == {
        ("001_x", "global.first"): 0.25, ("001_x", "global.second"): 2.75}


def test_junit_time_attributes() -> None:
    res = Results(cases=[Case("s", "a", "passed", time=0.5), Case("s", "b", "passed"),
                         Case("t", "c", "failed", "boom", time=2.0)], suites=["s", "t"])
    root = etree.fromstring(report.junit_xml(res))
    cases = {tc.get("name"): tc.get("time") for tc in root.iter("testcase")}
    assert cases == {"a": "0.500", "b": "0.000", "c": "2.000"}
    assert [ts.get("time") for ts in root.iter("testsuite")] == ["0.500", "2.000"]
    assert root.get("time") == "2.500"
