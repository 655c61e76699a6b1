from pathlib import Path

from conftest import analyse as analyze
from conftest import recorded as lines
from tgtsim.console import detect_crash
from tgtsim.errors import Status
from tgtsim.results import CRASHED, FAILED, PASSED, SKIPPED, Crash, Results


def test_passing_run(kunit_dir: Path) -> None:
    r = analyze(lines("pass.log"), kunit_dir)
    assert r.crash is None
    assert r.suites == ["scsi_lib_test", "scsi_proto"]
    assert (r.passed, r.failed, r.skipped) == (5, 0, 0)
    assert r.exit_code() == 0
    assert r.closing_line() == "5 passed, 0 failed, 0 skipped"


def test_failing_case_carries_assertion(kunit_dir: Path) -> None:
    r = analyze(lines("fail.log"), kunit_dir)
    assert r.crash is None and r.exit_code() == 1
    bad = [c for c in r.cases if c.status == FAILED]
    assert [c.name for c in bad] == ["tgt_get_fails_when_host_deleted"]
    assert "EXPECTATION FAILED at drivers/scsi/tgt_kunit/tgt_cmd_refcount_test.c:42" in bad[0].message
    assert any("Expected cmd == ((void *)0)" in ln for ln in bad[0].log)


def test_parameterized_cases_are_leaves(kunit_dir: Path) -> None:
    r = analyze(lines("param.log"), kunit_dir)
    names = [(c.name, c.status) for c in r.cases]
    assert names == [("tgt_split_limits/max_sectors=8", PASSED),
                     ("tgt_split_limits/max_sectors=16", FAILED),
                     ("tgt_split_limits/seg_boundary=4095", PASSED),
                     ("tgt_split_zero_length", PASSED)]
    assert "chunks == 4" in "\n".join(r.cases[1].log)


def test_skipped_case_has_reason(kunit_dir: Path) -> None:
    r = analyze(lines("skip.log"), kunit_dir)
    assert (r.passed, r.failed, r.skipped) == (1, 0, 1)
    sk = [c for c in r.cases if c.status == SKIPPED][0]
    assert sk.message == "no timer on this config"
    assert r.exit_code() == 0


def test_truncated_run_is_a_crash(kunit_dir: Path) -> None:
    r = analyze(lines("truncated.log"), kunit_dir)
    assert r.crash is not None and "truncated" in r.crash.reason
    assert r.exit_code() == 3
    assert r.passed == 2 and r.failed >= 1


def test_panic_is_a_crash_with_tail(kunit_dir: Path) -> None:
    r = analyze(lines("panic.log"), kunit_dir)
    assert r.crash is not None
    assert r.crash.reason.startswith("kernel crash: BUG: kernel NULL pointer")
    assert r.crash.tail[-1].startswith("Kernel panic")
    assert r.exit_code() == 3
    assert any(c.status == CRASHED for c in r.cases) or r.failed >= 1


def test_no_ktap_is_a_crash(kunit_dir: Path) -> None:
    r = analyze(lines("noktap.log"), kunit_dir)
    assert r.crash is not None and "no KTAP" in r.crash.reason
    assert r.exit_code() == 3


def test_hang_reason_wins(kunit_dir: Path) -> None:
    r = analyze(lines("pass.log")[:12], kunit_dir, hang="kernel hang: no console output for 5 s")
    assert r.crash is not None and r.crash.reason.startswith("kernel hang")


def test_nonzero_exit_is_a_crash(kunit_dir: Path) -> None:
    r = analyze(lines("pass.log"), kunit_dir, returncode=139)
    assert r.crash is not None and "139" in r.crash.reason


def test_detect_crash_ignores_plain_lines() -> None:
    assert detect_crash(["ok 1 foo", "# BUGS: none"]) is None
    assert detect_crash(["x", "Oops: 0000 [#1]"]) == "Oops: 0000 [#1]"


def test_roundtrip_dict(kunit_dir: Path) -> None:
    r = analyze(lines("param.log"), kunit_dir)
    r2 = Results.from_dict(r.to_dict())
    assert r2.closing_line() == r.closing_line()
    assert r2.suites == r.suites


def test_status_says_whose_failure(kunit_dir: Path) -> None:
    assert analyze(lines("pass.log"), kunit_dir).status == Status.SUCCESS
    assert analyze(lines("fail.log"), kunit_dir).status == Status.TEST_FAILURE
    assert analyze(lines("panic.log"), kunit_dir).status == Status.KERNEL_CRASH
    assert analyze(lines("pass.log")[:12], kunit_dir, hang="kernel hang").status == \
        Status.KERNEL_CRASH
    for where, status, code in (("selftests", Status.KERNEL_CRASH, 3),
                                ("build", Status.BUILD_FAILURE, 3),
                                ("prepare", Status.BUILD_FAILURE, 3),
                                ("selftests-build", Status.TOOL_FAILURE, 3),
                                ("coverage", Status.TOOL_FAILURE, 3)):
        r = Results(crash=Crash(reason="x", tail=[], where=where))
        assert (r.status, r.exit_code()) == (status, code)
    assert Status.TEST_FAILURE.kernel_failure and Status.KERNEL_CRASH.kernel_failure
    assert not Status.TOOL_FAILURE.kernel_failure and not Status.BUILD_FAILURE.kernel_failure


def test_add_keeps_the_first_crash() -> None:
    r = Results(crash=Crash(reason="kernel crash: Oops", tail=[]))
    r.add([], ["selftests.001"], Crash(reason="selftest boot hang", tail=[], where="selftests"))
    assert r.crash is not None and r.crash.where == "kernel"
    assert r.suites == ["selftests.001"]
