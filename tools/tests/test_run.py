import time
from pathlib import Path

import pytest

from conftest import DATA, gone, latest_run
from tgtsim import report, run
from tgtsim.errors import InfraError, Status, UsageError
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.uml import BootOptions as RunOptions
from tgtsim.uml import Uml


def run_profile(paths: Paths, profile: str, opts: RunOptions, progress: Progress) -> int:
    """The exit code of the run."""
    return run.run_profile(paths, profile, opts, progress).exit_code()


def fake_linux(kb: Path, body: str) -> Path:
    kb.mkdir(parents=True, exist_ok=True)
    exe = kb / "linux"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    (kb / "build.log").write_text("CC drivers/scsi/scsi.o\n")
    return exe


@pytest.fixture
def paths(run_paths: Paths) -> Paths:
    return run_paths


def test_args(quiet) -> None:
    a = Uml(Path("linux"), quiet).kunit_args(RunOptions(filter_glob="scsi*", seed=7,
                                                        kernel_args=["foo=1"]))
    assert a[:4] == ["mem=1G", "console=tty", "kunit_shutdown=halt", "kunit.enable=1"]
    assert "kunit.filter_glob=scsi*" in a and "tgt_kunit.seed=7" in a and a[-1] == "foo=1"


def test_passing_boot(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'pass.log'}\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 0
    latest = latest_run(paths.out)
    assert (latest / "console.log").read_text() == (DATA / "pass.log").read_text()
    assert (latest / "ktap.log").read_text().startswith("KTAP version 1")
    assert (latest / "build.log").is_file()
    assert capsys.readouterr().out.splitlines()[-1] == "5 passed, 0 failed, 0 skipped"


def test_failing_boot_exit_1(paths: Paths, quiet) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'fail.log'}\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 1


def test_panic_exit_3(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'panic.log'}\nexit 1\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 3
    out = capsys.readouterr().out
    assert "CRASH kernel crash" in out


def test_hang_is_killed_with_children(paths: Paths, quiet, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    fake_linux(paths.kbuild("kunit"),
               f"head -n 12 {DATA / 'pass.log'}\n"
               f"sleep 300 &\necho $! > {pidfile}\nwait\n")
    t0 = time.monotonic()
    rc = run_profile(paths, "kunit", RunOptions(idle_timeout=1.5, timeout=20), quiet)
    assert rc == 3
    assert time.monotonic() - t0 < 15
    res, _ = report.load(latest_run(paths.out))
    assert res.crash is not None and res.crash.reason.startswith("kernel hang: no console output")
    assert gone(int(pidfile.read_text()))


def test_total_timeout(paths: Paths, quiet) -> None:
    fake_linux(paths.kbuild("kunit"), "while :; do echo tick; sleep 0.1; done\n")
    rc = run_profile(paths, "kunit", RunOptions(idle_timeout=10, timeout=1.5), quiet)
    assert rc == 3
    res, _ = report.load(latest_run(paths.out))
    assert res.crash is not None and "timeout" in res.crash.reason


def test_not_built(paths: Paths, quiet) -> None:
    with pytest.raises(InfraError, match="tgtsim build kunit"):
        run_profile(paths, "kunit", RunOptions(), quiet)


def test_unknown_profile(paths: Paths, quiet) -> None:
    with pytest.raises(UsageError, match="known profiles: kunit"):
        run_profile(paths, "nope", RunOptions(), quiet)


def test_failed_run_keeps_previous(paths: Paths, quiet) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'pass.log'}\n")
    run_profile(paths, "kunit", RunOptions(), quiet)
    first = latest_run(paths.out)
    d = run.record_failure(paths, "kunit", "build", "compile error", "a.c:1:1: error: x", quiet)
    assert latest_run(paths.out) == d.resolve()
    assert (first / "junit.xml").is_file()
    res, info = report.load(d)
    assert res.crash is not None and res.crash.where == "build"
    assert info.failed_step == "build"
    assert res.status == Status.BUILD_FAILURE


def test_reanalyze(paths: Paths, quiet) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'param.log'}\n")
    run_profile(paths, "kunit", RunOptions(), quiet)
    latest = latest_run(paths.out)
    (latest / "junit.xml").unlink()
    assert run.reanalyze(paths, latest, quiet).exit_code() == 1
    assert (latest / "junit.xml").is_file()


def test_crash_prints_console_tail(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'panic.log'}\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 3
    cap = capsys.readouterr()
    assert cap.err.startswith("tgtsim: error: kernel crash: BUG: kernel NULL pointer")
    assert "Kernel panic - not syncing" in cap.err
    assert cap.out.splitlines()[-1] == "1 passed, 2 failed, 0 skipped"


def test_oops_then_clean_exit_is_a_crash(paths: Paths, quiet, capsys) -> None:
    """An oops the kernel survives (every case passed, exit 0) is still exit 3."""
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'oops.log'}\nexit 0\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 3
    cap = capsys.readouterr()
    assert cap.err.startswith("tgtsim: error: kernel crash: Oops: general protection fault")
    assert "RIP: 0033:scsi_host_put_command" in cap.err
    res, _ = report.load(latest_run(paths.out))
    assert res.passed == 5 and res.crash is not None


def test_exit_mid_ktap_is_a_crash_with_tail(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"head -n 14 {DATA / 'pass.log'}\nexit 0\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 3
    cap = capsys.readouterr()
    assert cap.err.startswith("tgtsim: error: truncated or malformed KTAP output")
    assert "    ok 2 scsi_lib_test_any_sense" in cap.err   # the tail of the console
    assert "CRASH truncated" in cap.out


def test_exit_with_orphan_holding_the_console(paths: Paths, quiet, tmp_path: Path,
                                              monkeypatch) -> None:
    """The kernel exits but a helper it left keeps the console pipe open: the
    run ends EXIT_GRACE seconds later (not at the idle timeout) and the
    helper is killed."""
    from tgtsim import procs
    monkeypatch.setattr(procs, "EXIT_GRACE", 1.0)
    pidfile = tmp_path / "orphan.pid"
    fake_linux(paths.kbuild("kunit"),
               f"cat {DATA / 'pass.log'}\n(sleep 300 & echo $! > {pidfile}; wait) &\n"
               f"while [ ! -s {pidfile} ]; do sleep 0.05; done\nexit 0\n")
    t0 = time.monotonic()
    assert run_profile(paths, "kunit", RunOptions(idle_timeout=60, timeout=120), quiet) == 0
    assert time.monotonic() - t0 < 15
    assert gone(int(pidfile.read_text()))


def test_hang_prints_tail_within_timeout(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"head -n 12 {DATA / 'pass.log'}\nsleep 300\n")
    t0 = time.monotonic()
    assert run_profile(paths, "kunit", RunOptions(idle_timeout=1.0, timeout=30), quiet) == 3
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err
    assert err.startswith("tgtsim: error: kernel hang: no console output for 1 s (killed)")
    assert "# Subtest: scsi_lib_test" in err


def test_debug_kernel_without_leak_scan_fails(paths: Paths, quiet, capsys) -> None:
    """A kmemleak kernel whose run has no end-of-run scan (suite
    tgt_kmemleak) fails, unless --filter left the suite out on purpose."""
    kb = paths.kbuild("kunit")
    fake_linux(kb, f"cat {DATA / 'pass.log'}\n")
    (kb / ".config").write_text("CONFIG_KUNIT=y\nCONFIG_DEBUG_KMEMLEAK=y\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 1
    out = capsys.readouterr().out
    assert "SANITIZER kmemleak: no end-of-run kmemleak scan: the tgt_kmemleak suite did " \
           "not run (after the tests)" in out
    assert out.splitlines()[-1] == "5 passed, 1 failed, 0 skipped"
    res, info = report.load(latest_run(paths.out))
    assert info.expect_kmemleak is True and res.sanitizer[0].kind == "kmemleak"
    assert run.reanalyze(paths, latest_run(paths.out), quiet).exit_code() == 1
    assert run_profile(paths, "kunit", RunOptions(filter_glob="scsi*"), quiet) == 0
    (kb / ".config").write_text("CONFIG_KUNIT=y\n")
    assert run_profile(paths, "kunit", RunOptions(), quiet) == 0
