import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, TOOLS, latest_run
from tgtsim import bisect, build, cli, report
from tgtsim.errors import BuildError, InfraError, Status, UsageError

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
    for sub in [c.name for c in cli.COMMANDS]:
        with pytest.raises(SystemExit) as e:
            cli.build_parser().parse_args([sub, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "example: " in out and "tgtsim " + sub in out, sub
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


def test_every_command_has_one_entry_of_the_table() -> None:
    names = [c.name for c in cli.COMMANDS]
    assert len(names) == len(set(names)) == len(cli.BY_NAME)
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices or []) == sorted(names)


def test_all_build_failure_is_reported(project, quiet, monkeypatch, tmp_path: Path) -> None:
    def fail(*a, **k):
        raise BuildError("build of profile 'kunit' failed", detail="x.c:1:1: error: boom")
    monkeypatch.setattr(build, "build", fail)
    args = cli.parse(["all", "--no-deps"])
    with pytest.raises(BuildError) as e:
        cli.cmd_all(project, args, quiet)
    assert "reports:" in e.value.message
    res, info = report.load(latest_run(project.out))
    assert info.failed_step == "build" and res.failed == 1
    assert res.status == Status.BUILD_FAILURE
    assert "x.c:1:1: error: boom" in (project.out / "junit.xml").read_text()


def test_bisect_codes() -> None:
    """Only the kernel's failures make a commit bad; a tree that does not
    build is skipped; the tool's failures abort."""
    assert bisect.code(Status.SUCCESS) == 0
    assert bisect.code(Status.TEST_FAILURE) == 1          # a case failed, a sanitizer
    assert bisect.code(Status.KERNEL_CRASH) == 1          # the kernel crashed or hung
    assert bisect.code(BuildError("does not build").status) == 125
    assert bisect.code(BuildError("patch 0003 does not apply").status) == 125
    assert bisect.code(UsageError("bad option").status) == 128
    assert bisect.code(InfraError("no gcc").status) == 128
    assert bisect.code(Status.TOOL_FAILURE) == 128        # lcov, selftest programs


def test_bisect_step_of_a_run_the_tool_failed_aborts(monkeypatch, tmp_path: Path,
                                                     fake_git_kernel: Path) -> None:
    from tgtsim import run
    from tgtsim.results import Crash, Results
    outcomes = iter([Results(crash=Crash(reason="selftests build failed", tail=[],
                                         where="selftests-build")),
                     Results(crash=Crash(reason="kernel crash: Oops", tail=[]))])
    monkeypatch.setattr(run, "main_job", lambda paths, opts, progress: next(outcomes))
    argv = ["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "b"), "bisect-step",
            "--kernel-src", str(fake_git_kernel)]
    assert cli.main(argv) == bisect.ABORT
    assert cli.main(argv) == bisect.BAD


def test_bisect_step_outside_a_git_tree_aborts_the_bisection(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERNEL_SRC", raising=False)
    rc = cli.main(["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "b"),
                   "bisect-step"])
    assert rc == 128
