"""tools/run_checks.py (make check, make test-tools): the parts it runs and
the closing count line, with fake parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOOLS

import run_checks


def test_pytest_counts(tmp_path: Path) -> None:
    f = tmp_path / "j.xml"
    f.write_text('<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" '
                 'skipped="2"/></testsuites>')
    assert run_checks.pytest_counts(f) == (6, 2, 2)
    f.write_text('<testsuite name="pytest" tests="3" failures="0" errors="0" skipped="1"/>')
    assert run_checks.pytest_counts(f) == (2, 0, 1)
    assert run_checks.pytest_counts(tmp_path / "none.xml") == (0, 1, 0)


class FakeParts:
    """`tgtsim` of run_checks: an `all` run writes out/latest with counts."""

    def __init__(self, counts: dict[str, tuple[int, int, int]], rcs: dict[str, int]) -> None:
        self.counts, self.rcs = counts, rcs
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, checks: run_checks.Checks, *argv: str) -> int:
        self.calls.append(argv)
        if argv[0] == "all":
            profile = argv[argv.index("--profile") + 1]
            d = checks.out / "runs" / profile
            d.mkdir(parents=True)
            n_pass, n_fail, n_skip = self.counts[profile]
            (d / "results.json").write_text(json.dumps(
                {"counts": {"passed": n_pass, "failed": n_fail, "skipped": n_skip}}))
            latest = checks.out / "latest"
            if latest.is_symlink():
                latest.unlink()
            latest.symlink_to(d)
            return 1 if n_fail else 0
        return self.rcs.get(argv[0], 0)


def fake(monkeypatch, parts: FakeParts, mypy_rc: int = 0) -> list[list[str]]:
    called: list[list[str]] = []

    def call(cmd: list[str], **kw: object) -> int:       # pytest and mypy
        called.append(cmd)
        return mypy_rc if "mypy" in cmd else 0
    monkeypatch.setattr(run_checks.Checks, "tgtsim", lambda self, *a: parts(self, *a))
    monkeypatch.setattr(run_checks.subprocess, "call", call)
    monkeypatch.setattr(run_checks, "pytest_counts", lambda junit: (5, 0, 1))
    return called


def argv(tmp_path: Path, *more: str) -> list[str]:
    return ["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "b"), *more]


def test_debug_adds_its_counts_to_the_closing_line(monkeypatch, capsys, tmp_path: Path) -> None:
    parts = FakeParts({"coverage": (10, 0, 0), "debug": (8, 2, 0)}, {})
    fake(monkeypatch, parts)
    rc = run_checks.main(argv(tmp_path, "--no-deps", "--debug", "--timeout", "900"))
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert parts.calls[0] == ("prepare",)
    assert parts.calls[1] == ("all", "--profile", "coverage", "--no-deps", "--timeout", "900")
    # the debug run failed: the planted-bug proof checks the port itself
    assert parts.calls[3] == ("planted-bugs", "01", "--no-selftests", "--timeout", "900")
    assert "mypy:    1 passed, 0 failed, 0 skipped (type check of tools/)" in out
    assert "debug:   8 passed, 2 failed, 0 skipped (debug profile: KUnit, selftests, sanitizers)" \
        in out
    assert out[-1] == "check: 25 passed, 2 failed, 1 skipped"


def test_a_clean_debug_run_spares_the_port_check(monkeypatch, capsys, tmp_path: Path) -> None:
    parts = FakeParts({"kunit": (10, 0, 0), "debug": (9, 0, 0)}, {})
    fake(monkeypatch, parts)
    assert run_checks.main(argv(tmp_path, "--no-deps", "--debug", "--profile", "kunit")) == 0
    assert parts.calls[-1] == ("planted-bugs", "01", "--no-selftests", "--port-checked")
    assert capsys.readouterr().out.splitlines()[-1] == "check: 26 passed, 0 failed, 1 skipped"


def test_a_failed_prepare_is_one_failure_with_its_exit_code(monkeypatch, capsys,
                                                           tmp_path: Path) -> None:
    parts = FakeParts({}, {"deps": 0, "prepare": 3})
    fake(monkeypatch, parts)
    assert run_checks.main(argv(tmp_path)) == 3
    assert [c[0] for c in parts.calls] == ["deps", "prepare"]
    out = capsys.readouterr().out.splitlines()
    assert "kernel:  0 passed, 1 failed, 0 skipped (coverage: KUnit and selftests)" in out
    assert out[-1] == "check: 6 passed, 1 failed, 1 skipped"


def test_no_kernel_runs_pytest_and_mypy(monkeypatch, capsys, tmp_path: Path) -> None:
    parts = FakeParts({}, {})
    called = fake(monkeypatch, parts, mypy_rc=1)
    assert run_checks.main(argv(tmp_path, "--no-kernel")) == 1
    assert parts.calls == []
    assert [c[2] for c in called] == ["pytest", "mypy"]
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "check: 5 passed, 1 failed, 1 skipped"


def test_help_has_an_example() -> None:
    cp = subprocess.run([sys.executable, str(TOOLS / "run_checks.py"), "--help"],
                        stdout=subprocess.PIPE, text=True)
    assert cp.returncode == 0 and "example: tools/run_checks.py" in cp.stdout


@pytest.mark.parametrize("bad", [["--jobs", "x"], ["--bogus-without-tgtsim"]])
def test_bad_options_exit_2(tmp_path: Path, bad: list[str]) -> None:
    cp = subprocess.run([sys.executable, str(TOOLS / "run_checks.py"), "--no-kernel",
                         *argv(tmp_path), *bad], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    if bad[0] == "--jobs":
        assert cp.returncode == 2 and "Traceback" not in cp.stderr
    else:
        # unknown options are for `tgtsim all`; without a kernel part there is none
        assert cp.returncode == 2 and "not for --no-kernel" in cp.stderr


def test_pytest_runs_and_the_uml_part(monkeypatch, capsys, tmp_path: Path) -> None:
    """--pytest-runs 3: two more pytest runs (part `flake`); the tests that
    boot the real kernel run after the main job built it (part `uml`), the
    slow ones with --slow; the first pytest leaves both out."""
    parts = FakeParts({"coverage": (10, 0, 0)}, {})
    called = fake(monkeypatch, parts)
    kernel = tmp_path / "b/kbuild/coverage/linux"
    kernel.parent.mkdir(parents=True)
    kernel.write_text("")
    assert run_checks.main(argv(tmp_path, "--no-deps", "--slow", "--pytest-runs", "3")) == 0
    pytests = [c for c in called if c[2] == "pytest"]
    markers = [c[c.index("-m", 3) + 1] for c in pytests]
    assert markers == ["not uml and not slow"] * 3 + ["uml"]
    out = capsys.readouterr().out.splitlines()
    assert "flake:   2 passed, 0 failed, 0 skipped (pytest tools/tests again, runs 2-3 of 3)" \
        in out
    assert ("uml:     5 passed, 0 failed, 1 skipped (tests booting the built kernel, slow "
            "ones too)") in out
    assert out[-1] == "check: 23 passed, 0 failed, 2 skipped"


def test_bad_pytest_runs(tmp_path: Path) -> None:
    cp = subprocess.run([sys.executable, str(TOOLS / "run_checks.py"), "--no-kernel",
                         "--no-deps", "--pytest-runs", "0"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 2 and "--pytest-runs must be >= 1" in cp.stderr
