import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TOOLS
from tgtsim import cli

LAUNCHER = TOOLS / "bin" / "tgtsim"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run([str(LAUNCHER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=e, cwd=ROOT)


@pytest.mark.parametrize("args", [["--bogus"], ["nosuchcmd"], ["build"], ["run", "--timeout", "x"],
                                  ["run", "--timeout", "-1"], ["-j", "0", "deps"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    cp = run(*args)
    assert cp.returncode == 2, cp.stderr
    assert "Traceback" not in cp.stderr and "error" in cp.stderr


def test_unknown_profile(tmp_path: Path) -> None:
    cp = run("--build-dir", str(tmp_path), "build", "nosuchprofile")
    assert cp.returncode == 2
    assert cp.stderr.strip().splitlines()[0].startswith("tgtsim: error: unknown profile 'nosuchprofile'")
    assert "kunit" in cp.stderr and "Traceback" not in cp.stderr


def test_bad_kernel_src(tmp_path: Path) -> None:
    cp = run("--build-dir", str(tmp_path / "b"), "prepare", env={"KERNEL_SRC": str(tmp_path / "x")})
    assert cp.returncode == 2
    assert cp.stderr.count("\n") == 1 and "KERNEL_SRC" in cp.stderr


def test_help_has_example(capsys) -> None:
    for sub in ("deps", "prepare", "refresh-patches", "build", "run", "report", "all", "check"):
        with pytest.raises(SystemExit) as e:
            cli.build_parser().parse_args([sub, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "example: " in out and "tgtsim " + sub.split()[0] in out, sub
        assert "exit codes:" in out


def test_global_option_after_subcommand(monkeypatch) -> None:
    p = cli.build_parser()
    a = p.parse_args(["-v", "run"])
    assert a.verbose is True
    a = p.parse_args(["run", "-v", "--out", "o"])
    assert a.verbose is True and a.out == "o"


def test_report_without_runs(tmp_path: Path) -> None:
    cp = run("--out", str(tmp_path / "out"), "report")
    assert cp.returncode == 2 and "no run yet" in cp.stderr


def test_internal_error_no_traceback(monkeypatch, capsys) -> None:
    def boom(args):
        raise ValueError("bad")
    monkeypatch.setattr(cli, "dispatch", boom)
    monkeypatch.delenv("TGTSIM_DEBUG", raising=False)
    assert cli.main(["deps"]) == 3
    assert "internal error: ValueError: bad" in capsys.readouterr().err


def test_keyboard_interrupt(monkeypatch, capsys) -> None:
    def stop(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "dispatch", stop)
    assert cli.main(["deps"]) == 130


def test_pytest_counts(tmp_path: Path) -> None:
    f = tmp_path / "j.xml"
    f.write_text('<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" '
                 'skipped="2"/></testsuites>')
    assert cli.pytest_counts(f) == (6, 2, 2)
    assert cli.pytest_counts(tmp_path / "none.xml") == (0, 1, 0)


def test_all_build_failure_is_reported(project, quiet, monkeypatch, tmp_path: Path) -> None:
    from tgtsim import build, report
    from tgtsim.errors import BuildError

    def fail(*a, **k):
        raise BuildError("build of profile 'kunit' failed", detail="x.c:1:1: error: boom")
    monkeypatch.setattr(build, "build", fail)
    args = cli.parse(["all", "--no-deps"])
    with pytest.raises(BuildError) as e:
        cli.cmd_all(project, args, quiet)
    assert "reports:" in e.value.message
    res, meta = report.load(report.latest(project.out))
    assert meta["failed_step"] == "build" and res.failed == 1
    assert "x.c:1:1: error: boom" in (project.out / "junit.xml").read_text()


def test_bisect_codes() -> None:
    from tgtsim.errors import BuildError, InfraError, UsageError
    assert cli.bisect_code(0, None) == 0
    assert cli.bisect_code(1, None) == 1          # a case failed
    assert cli.bisect_code(3, None) == 1          # the kernel crashed or hung
    assert cli.bisect_code(None, BuildError("does not build")) == 125
    assert cli.bisect_code(None, BuildError("patch 0003 does not apply")) == 125
    assert cli.bisect_code(None, UsageError("bad option")) == 128
    assert cli.bisect_code(None, InfraError("no gcc")) == 128


def test_bisect_step_outside_a_git_tree_aborts_the_bisection(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERNEL_SRC", raising=False)
    rc = cli.main(["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "b"),
                   "bisect-step"])
    assert rc == 128


def test_check_debug_adds_its_counts_to_the_closing_line(monkeypatch, capsys,
                                                        tmp_path: Path) -> None:
    from tgtsim import prepare
    monkeypatch.setattr(prepare, "prepare", lambda *a, **k: None)
    monkeypatch.setattr(cli.subprocess, "call", lambda *a, **k: 0)
    monkeypatch.setattr(cli, "pytest_counts", lambda junit: (5, 0, 1))
    profiles: list[str] = []
    runs = iter([(0, (10, 0, 0)), (1, (8, 2, 0))])

    def counted(paths, job):
        return next(runs)
    monkeypatch.setattr(cli, "_counted_run", counted)
    monkeypatch.setattr(cli, "cmd_planted", lambda paths, args, progress, check_port:
                        profiles.append(f"{','.join(args.bugs)} {check_port}") or 0)
    rc = cli.main(["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "b"),
                   "check", "--no-deps", "--debug"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    # the debug run failed: the planted-bug proof checks the port itself
    assert profiles == [f"{cli.CHECK_PLANTED_BUG} True"]
    assert "debug:   8 passed, 2 failed, 0 skipped (debug profile: KUnit, selftests, sanitizers)" \
        in out
    assert out[-1] == "check: 24 passed, 2 failed, 1 skipped"
