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
    """`tgtsim` of run_checks: each shard runs its cells (their counts from
    `counts`, by profile), the merge adds them up into out/merged."""

    def __init__(self, counts: dict[str, tuple[int, int, int]], rcs: dict[str, int]) -> None:
        self.counts, self.rcs = counts, rcs
        self.calls: list[tuple[str, ...]] = []
        self.cells: list[dict] = []

    def __call__(self, checks: run_checks.Checks, *argv: str) -> int:
        args = list(argv)
        if args[0] == "--out":
            args = args[2:]
        self.calls.append(tuple(args))
        if args[0] == "shard":
            index, total = int(args[2]), int(args[4])
            profiles = [g.split("-")[0] for g in args[args.index("--cells") + 1].split(",")]
            mine = [p for k, p in enumerate(profiles) if k % total == index - 1]
            for p in mine:
                self.cells.append({"profile": p, "exit_code": int(self.counts[p][1] > 0),
                                   "counts": self.counts[p]})
            return int(any(self.counts[p][1] for p in mine))
        if args[0] == "merge":
            out = Path(args[args.index("--out-dir") + 1])
            out.mkdir(parents=True)
            tot = [sum(c["counts"][k] for c in self.cells) for k in range(3)]
            (out / "results.json").write_text(json.dumps(
                {"counts": {"passed": tot[0], "failed": tot[1], "skipped": tot[2]},
                 "cells": self.cells}))
            return int(tot[1] > 0)
        return self.rcs.get(args[0], 0)


def fake(monkeypatch, parts: FakeParts, mypy_rc: int = 0) -> list[list[str]]:
    called: list[list[str]] = []

    def call(cmd: list[str], **kw: object) -> int:       # pytest and mypy
        called.append(cmd)
        return mypy_rc if "mypy" in cmd else 0

    def ci(self: run_checks.Checks, static: bool) -> None:
        self.parts.append(("ci", 3, 0, 0, "static" if static else "gitlab-ci-local"))
    monkeypatch.setattr(run_checks.Checks, "tgtsim", lambda self, *a: parts(self, *a))
    monkeypatch.setattr(run_checks.Checks, "ci", ci)
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
    assert parts.calls[1] == ("lint", "--no-build")
    parts.calls.pop(1)
    # the project's own run: 2 shards of the cells in sequence, then the merge
    assert parts.calls[1] == ("shard", "--index", "1", "--total", "2", "--cells",
                              "coverage-*,debug-*", "--no-deps", "--timeout", "900")
    assert parts.calls[2][:3] == ("shard", "--index", "2")
    assert parts.calls[3][0] == "merge" and parts.calls[3][-4:-2] == \
        ("--expect", "coverage-*,debug-*")
    # the debug cells failed: the planted-bug proof checks the port itself
    assert parts.calls[4] == ("planted-bugs", "01", "--no-selftests")
    assert "mypy:    1 passed, 0 failed, 0 skipped (type check of tools/)" in out
    assert "kernel:  18 passed, 2 failed, 0 skipped (cells coverage-*,debug-*: 2 shards, " \
        "merged)" in out
    assert "lint:    1 passed, 0 failed, 0 skipped (checkpatch --strict of the series; every " \
        "mutant and planted bug applies to the port)" in out
    assert out[-1] == "check: 29 passed, 2 failed, 1 skipped"


def test_a_clean_debug_run_spares_the_port_check(monkeypatch, capsys, tmp_path: Path) -> None:
    parts = FakeParts({"kunit": (10, 0, 0), "debug": (9, 0, 0)}, {})
    fake(monkeypatch, parts)
    assert run_checks.main(argv(tmp_path, "--no-deps", "--debug", "--profile", "kunit",
                                "--shards", "1")) == 0
    assert [c[0] for c in parts.calls] == ["prepare", "lint", "shard", "merge", "planted-bugs"]
    assert parts.calls[-1] == ("planted-bugs", "01", "--no-selftests", "--port-checked")
    assert capsys.readouterr().out.splitlines()[-1] == "check: 30 passed, 0 failed, 1 skipped"


def test_a_failed_prepare_is_one_failure_with_its_exit_code(monkeypatch, capsys,
                                                           tmp_path: Path) -> None:
    parts = FakeParts({}, {"deps": 0, "prepare": 3})
    fake(monkeypatch, parts)
    assert run_checks.main(argv(tmp_path)) == 3
    assert [c[0] for c in parts.calls] == ["deps", "prepare"]
    out = capsys.readouterr().out.splitlines()
    assert "kernel:  0 passed, 1 failed, 0 skipped (cells coverage-*: 2 shards, merged)" in out
    assert out[-1] == "check: 6 passed, 1 failed, 1 skipped"


def test_no_kernel_runs_pytest_mypy_and_the_static_ci_checks(monkeypatch, capsys,
                                                             tmp_path: Path) -> None:
    parts = FakeParts({}, {})
    called = fake(monkeypatch, parts, mypy_rc=1)
    assert run_checks.main(argv(tmp_path, "--no-kernel")) == 1
    assert parts.calls == []
    assert [c[2] for c in called] == ["pytest", "mypy"]
    out = capsys.readouterr().out.splitlines()
    assert "ci:      3 passed, 0 failed, 0 skipped (static)" in out
    assert out[-1] == "check: 8 passed, 1 failed, 1 skipped"


def test_closing_counts() -> None:
    assert run_checks.closing_counts("x\nci: 3 passed, 1 failed, 2 skipped\n", 1) == (3, 1, 2)
    assert run_checks.closing_counts("Traceback ...\n", 1) == (0, 1, 0)


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
        # unknown options are for `tgtsim shard`; without a kernel part there is none
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
    assert out[-1] == "check: 27 passed, 0 failed, 2 skipped"   # + ci 3, lint 1


def test_bad_pytest_runs(tmp_path: Path) -> None:
    cp = subprocess.run([sys.executable, str(TOOLS / "run_checks.py"), "--no-kernel",
                         "--no-deps", "--pytest-runs", "0"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 2 and "--pytest-runs must be >= 1" in cp.stderr


def test_a_stale_break_fails_the_lint_part(monkeypatch, capsys, tmp_path: Path) -> None:
    parts = FakeParts({"kunit": (10, 0, 0)}, {"lint": 1})
    fake(monkeypatch, parts)
    assert run_checks.main(argv(tmp_path, "--no-deps", "--profile", "kunit",
                                "--shards", "1")) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("lint:    0 passed, 1 failed, 0 skipped") for ln in out)
    assert out[-1] == "check: 19 passed, 1 failed, 1 skipped"


@pytest.mark.parametrize("rc", [0, 1])
def test_a_skipped_check_bisect_check_counts_as_skipped(monkeypatch, capsys, tmp_path: Path,
                                                        rc: int) -> None:
    """check-bisect --shared-ccache skips its cold-step ratio: the part and
    the closing line say skipped, never passed; a failed run with no failed
    check is one failure."""
    parts = FakeParts({"coverage": (10, 0, 0)}, {"check-bisect": rc})
    fake(monkeypatch, parts)
    cb = tmp_path / "b" / "check-bisect"
    cb.mkdir(parents=True)
    (cb / "check-bisect.json").write_text(json.dumps({"checks": [
        {"name": "found", "passed": True, "detail": ""},
        {"name": "tree", "passed": True, "detail": ""},
        {"name": "ratio", "passed": None, "skipped": True, "detail": "not cold"}]}))
    assert run_checks.main(argv(tmp_path, "--no-deps", "--bisect", "--shards", "1")) == rc
    out = capsys.readouterr().out.splitlines()
    assert [c[0] for c in parts.calls][-1] == "check-bisect"
    want = "2 passed, 0 failed, 1 skipped" if rc == 0 else "2 passed, 1 failed, 1 skipped"
    assert f"bisect:  {want} (check-bisect: tgtsim bisect finds a planted regression)" in out
    # pytest 5/0/1, mypy 1, lint 1, kernel 10, ci 3, bisect
    total = (22, 0, 2) if rc == 0 else (22, 1, 2)
    assert out[-1] == "check: %d passed, %d failed, %d skipped" % total
