"""Regression bisection: the verdicts of bisect-step (each wrong verdict of
the old code has a test here) and `tgtsim bisect` driving `git bisect` with a
fake step on a scratch repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAKE_MAKEFILE, TOOLS, alive, eventually, git, gone
from tgtsim import bisect, build, cli, run
from tgtsim.errors import InfraError, Status
from tgtsim.paths import Paths
from tgtsim.results import FAILED, PASSED, Case, Crash, Results

# -- verdicts -----------------------------------------------------------------


def kernel_repo(tmp_path: Path, makefile: str) -> Path:
    repo = tmp_path / "linux"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "Makefile").write_text(makefile)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def step(tmp_path: Path, *args: str) -> int:
    return cli.main(["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "build"),
                     "bisect-step", *args])


def test_a_commit_that_is_not_6_12_is_skipped(tmp_path: Path) -> None:
    """Old code: a usage error, so `git bisect run` aborted (128)."""
    repo = kernel_repo(tmp_path, "VERSION = 5\nPATCHLEVEL = 10\n")
    assert step(tmp_path, "--kernel-src", str(repo)) == bisect.SKIP


def test_an_internal_error_aborts(tmp_path: Path, monkeypatch) -> None:
    """Old code: exit 3, which git bisect run counts as bad."""
    repo = kernel_repo(tmp_path, FAKE_MAKEFILE)

    def broken(*a: object, **k: object) -> Results:
        raise RuntimeError("a bug of tgtsim")
    monkeypatch.setattr(run, "main_job", broken)
    assert step(tmp_path, "--kernel-src", str(repo)) == bisect.ABORT


def test_a_usage_error_aborts(tmp_path: Path) -> None:
    """Old code: argparse's exit 2, which git bisect run counts as bad."""
    assert step(tmp_path, "--no-such-option") == bisect.ABORT
    assert step(tmp_path, "--kernel-src", str(tmp_path / "none")) == bisect.ABORT


def test_a_missing_python_package_aborts(tmp_path: Path) -> None:
    """Old code: __main__ exits 3 (bad) when a module of a Debian package
    is missing; here one is made to be missing."""
    code = ("import importlib.util, sys\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda m, *a: None if m == 'lxml' else real(m, *a)\n"
            "import runpy; sys.argv = ['tgtsim', 'bisect-step']\n"
            "runpy.run_module('tgtsim', run_name='__main__')\n")
    cp = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(TOOLS)),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert cp.returncode == bisect.ABORT, cp.stderr
    assert "python3-lxml" in cp.stderr


HOST_FAILURES = {
    "disk full": "drivers/scsi/scsi.c:1: fatal error: error writing to /tmp/cc.s: "
                 "No space left on device",
    "missing package": "/bin/sh: 1: flex: not found",
    "compiler killed": "gcc: fatal error: Killed signal terminated program cc1",
}


@pytest.mark.parametrize("line", HOST_FAILURES.values(), ids=HOST_FAILURES.keys())
def test_a_build_that_fails_for_the_host_aborts(tmp_path: Path, quiet, line: str) -> None:
    """Old code: a BuildError, so the commit was skipped (125) and the
    bisection went on as if the tree did not build."""
    root = tmp_path / "proj"
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/kunit.config").write_text("")
    paths = Paths.make(root, root / "build", root / "out")
    paths.kunit_tool.mkdir(parents=True)
    (paths.kunit_tool / "kunit.py").write_text("import sys\nsys.exit(0)\n")
    (paths.linux / "Makefile").write_text(f"all:\n\t@echo '{line}' >&2\n\t@exit 2\n")
    with pytest.raises(InfraError) as e:
        build.build(paths, "kunit", quiet, 1, use_ccache=False)
    assert bisect.error_code(e.value) == bisect.ABORT
    assert "the host's failure" in e.value.message


def test_a_compile_error_is_still_the_trees() -> None:
    assert build.host_failure(["drivers/scsi/scsi.c:12:5: error: 'x' undeclared",
                               "fatal error: linux/nope.h: No such file or directory"]) == ""


def results(*cases: Case, crash: Crash | None = None) -> Results:
    r = Results(cases=list(cases), suites=sorted({c.suite for c in cases}))
    r.crash = crash
    return r


def test_verdicts_of_runs() -> None:
    ok = Case("tgt_cmd_tags", "get", PASSED)
    fail = Case("tgt_cmd_tags", "get", FAILED, "EXPECTATION FAILED")
    gate = Case("tgtsim.coverage", "patch-lines", FAILED, "uncovered: scsi.c:12")
    assert bisect.verdict(results(ok)) == bisect.GOOD
    assert bisect.verdict(results(fail)) == bisect.BAD
    # old code: the gate's failure made the commit bad; it is no kernel failure
    assert bisect.verdict(results(ok, gate)) == bisect.GOOD
    assert bisect.verdict(results(fail, gate)) == bisect.BAD
    crash = Crash("kernel crash", [], "kernel")
    assert bisect.verdict(results(ok, crash=crash)) == bisect.BAD
    for where in ("selftests-build", "coverage"):      # the tool's failures
        assert bisect.verdict(results(ok, crash=Crash("x", [], where))) == bisect.ABORT
    assert bisect.verdict(results(crash=Crash("x", [], "build"))) == bisect.SKIP
    assert bisect.kernel_failures(results(fail, gate)) == \
        ["tgt_cmd_tags.get: EXPECTATION FAILED"]


def test_codes_by_status() -> None:
    assert bisect.code(Status.SUCCESS) == 0
    assert bisect.code(Status.TEST_FAILURE) == 1
    assert bisect.code(Status.KERNEL_CRASH) == 1
    assert bisect.code(Status.BUILD_FAILURE) == 125
    assert bisect.code(Status.TOOL_FAILURE) == 128
    assert bisect.code(Status.USAGE_ERROR) == 128


# -- the driver, with a fake step -------------------------------------------------

FAKE_STEP = r'''
import json, os, subprocess, sys, time
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
tree = os.environ["FAKE_TREE"]
commit = opt("--commit") or subprocess.run(["git", "-C", tree, "rev-parse", "BISECT_HEAD"],
                                           capture_output=True, text=True).stdout.strip()
what = subprocess.run(["git", "-C", tree, "show", f"{commit}:verdict"], capture_output=True,
                      text=True).stdout.strip()
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(f"{os.getpid()} {commit} {what}\n")
if what == "slow":
    time.sleep(300)
if what == "crash":
    os.kill(os.getpid(), 9)
code = {"good": 0, "bad": 1, "skip": 125}[what]
rec = opt("--record")
if rec:
    with open(rec, "a") as f:
        f.write(json.dumps({"commit": commit, "verdict": ["good", "bad"][code] if code < 2
                            else "skip", "code": code, "seconds": 0.1,
                            "failing": ["suite.case: EXPECTATION FAILED"] if code == 1 else [],
                            "phase": opt("--phase") or "bisect"}) + "\n")
sys.exit(code)
'''


def history(tmp_path: Path, verdicts: list[str]) -> tuple[Path, list[str]]:
    """A repository whose commit i has the file `verdict` = verdicts[i]."""
    repo = tmp_path / "tree"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for i, v in enumerate(verdicts):
        (repo / "verdict").write_text(v + "\n")
        (repo / "file").write_text(f"{i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"commit {i}: {v}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    return repo, shas


@pytest.fixture
def fake_step(tmp_path: Path, monkeypatch) -> Path:
    script = tmp_path / "fake_step.py"
    script.write_text(FAKE_STEP)
    log = tmp_path / "steps.log"
    monkeypatch.setenv("TGTSIM_BISECT_STEP", f"{sys.executable} {script}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


def bisect_cli(tmp_path: Path, repo: Path, good: str, bad: str) -> int:
    os.environ["FAKE_TREE"] = str(repo)
    return cli.main(["--out", str(tmp_path / "out"), "--build-dir", str(tmp_path / "build"),
                     "bisect", "--kernel", str(repo), "--good", good, "--bad", bad])


def unchanged(repo: Path) -> None:
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".git/BISECT_START").exists()
    assert not (repo / ".git/BISECT_HEAD").exists()


def bisect_json(tmp_path: Path) -> dict:
    (d,) = (tmp_path / "out/bisect").iterdir()
    return json.loads((d / "bisect.json").read_text())


def test_first_bad_commit_skipping_one(tmp_path: Path, fake_step: Path, capsys) -> None:
    verdicts = ["good"] * 9 + ["skip"] + ["good"] * 3 + ["bad"] * 7
    repo, shas = history(tmp_path, verdicts)
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 0
    first = shas[verdicts.index("bad")]
    out = capsys.readouterr().out
    assert f"first bad commit: {first} commit 13: bad" in out
    assert "FAIL suite.case: EXPECTATION FAILED" in out
    data = bisect_json(tmp_path)
    assert data["first_bad"]["commit"] == first
    assert [s["phase"] for s in data["steps"][:2]] == ["check", "check"]
    assert data["test_steps"] == len(data["steps"]) - 2 <= 6
    assert all(set(s) >= {"commit", "verdict", "seconds", "failing"} for s in data["steps"])
    tested = [line.split()[1] for line in fake_step.read_text().splitlines()]
    assert tested[:2] == [shas[0], shas[-1]]                  # GOOD and BAD first
    unchanged(repo)


def test_the_skipped_commit_is_skipped(tmp_path: Path, fake_step: Path) -> None:
    # the skip sits where git bisect looks first
    verdicts = ["good"] * 8 + ["skip"] + ["good"] * 4 + ["bad"] * 4
    repo, shas = history(tmp_path, verdicts)
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 0
    data = bisect_json(tmp_path)
    assert any(s["verdict"] == "skip" and s["commit"] == shas[8] for s in data["steps"])
    assert data["first_bad"]["commit"] == shas[13]
    unchanged(repo)


def test_good_that_fails_is_refused(tmp_path: Path, fake_step: Path, capsys) -> None:
    repo, shas = history(tmp_path, ["bad", "bad", "bad"])
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 2
    assert "GOOD" in capsys.readouterr().err and "does not pass" in \
        bisect_json(tmp_path)["message"]
    assert len(fake_step.read_text().splitlines()) == 1       # only GOOD was tested
    unchanged(repo)


def test_bad_that_passes_is_refused(tmp_path: Path, fake_step: Path) -> None:
    repo, shas = history(tmp_path, ["good", "good", "good"])
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 2
    assert "does not fail" in bisect_json(tmp_path)["message"]
    unchanged(repo)


def test_dirty_tree_bad_refs_and_order_are_refused(tmp_path: Path, fake_step: Path,
                                                   capsys) -> None:
    repo, shas = history(tmp_path, ["good", "bad"])
    (repo / "file").write_text("changed\n")
    assert bisect_cli(tmp_path, repo, shas[0], shas[1]) == 2
    assert "uncommitted changes" in capsys.readouterr().err
    git(repo, "checkout", "-q", "file")
    assert bisect_cli(tmp_path, repo, "nope", shas[1]) == 2
    assert bisect_cli(tmp_path, repo, shas[1], shas[0]) == 2
    assert cli.main(["--out", str(tmp_path / "out"), "bisect", "--good", "a", "--bad", "b",
                     "--kernel", str(tmp_path / "none")]) == 2
    assert not fake_step.exists()                             # nothing was tested
    assert git(repo, "status", "--porcelain") == ""


def test_only_skipped_commits_left(tmp_path: Path, fake_step: Path) -> None:
    repo, shas = history(tmp_path, ["good", "skip", "skip", "bad"])
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 1
    assert "only skipped commits" in bisect_json(tmp_path)["message"]
    unchanged(repo)


def test_a_crashed_step_aborts_and_leaves_the_tree(tmp_path: Path, fake_step: Path) -> None:
    repo, shas = history(tmp_path, ["good"] * 4 + ["crash"] + ["bad"] * 4)
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 3
    assert "aborted" in bisect_json(tmp_path)["message"]
    unchanged(repo)


def test_an_ongoing_bisection_is_refused(tmp_path: Path, fake_step: Path) -> None:
    repo, shas = history(tmp_path, ["good", "good", "bad"])
    git(repo, "bisect", "start", "--no-checkout", shas[-1], shas[0])
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 2
    assert (repo / ".git/BISECT_START").exists()              # the user's, left alone
    git(repo, "bisect", "reset")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_during_a_step(tmp_path: Path, fake_step: Path, sig: int,
                                   code: int) -> None:
    repo, shas = history(tmp_path, ["good"] * 4 + ["slow"] + ["bad"] * 4)
    env = dict(os.environ, PYTHONPATH=str(TOOLS), FAKE_TREE=str(repo))
    proc = subprocess.Popen([sys.executable, "-m", "tgtsim", "--out", str(tmp_path / "out"),
                             "bisect", "--kernel", str(repo), "--good", shas[0],
                             "--bad", shas[-1]], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def slow_started() -> bool:
        return fake_step.exists() and " slow" in fake_step.read_text()
    try:
        assert eventually(slow_started, 30)
        pid = int([ln for ln in fake_step.read_text().splitlines() if " slow" in ln][0]
                  .split()[0])
        assert alive(pid)
        t0 = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == code
        assert time.monotonic() - t0 < 15
    finally:
        if proc.poll() is None:
            proc.kill()
    assert gone(pid)
    unchanged(repo)
    assert bisect_json(tmp_path)["first_bad"] is None


def test_the_check_bisect_history_takes_at_most_7_steps(tmp_path: Path, fake_step: Path) -> None:
    """The layout of `tgtsim check-bisect`'s history (bisect_check), with the
    fake step: the broken commit is tested and skipped, the planted one is
    found in at most MAX_STEPS steps."""
    from tgtsim import bisect_check as bc
    verdicts = ["good"] + ["skip" if i == bc.BROKEN else "bad" if i >= bc.PLANTED else "good"
                           for i in range(1, bc.HISTORY + 1)]
    repo, shas = history(tmp_path, verdicts)
    assert bisect_cli(tmp_path, repo, shas[0], shas[-1]) == 0
    data = bisect_json(tmp_path)
    assert data["first_bad"]["commit"] == shas[bc.PLANTED]
    assert [s["verdict"] for s in data["steps"] if s["commit"] == shas[bc.BROKEN]] == ["skip"]
    assert data["test_steps"] <= bc.MAX_STEPS
    assert len(shas) - 1 == bc.HISTORY >= 32


def test_check_bisect_records_a_skipped_check_as_neither(capsys) -> None:
    """check-bisect.json: a skipped check is there, neither passed nor
    failed (make check counts it as skipped)."""
    from tgtsim import bisect_check as bc
    checks = bc.Checks()
    checks.add("found", True, "x")
    checks.add("tree", False, "y")
    checks.skip("ratio", "not cold")
    assert (checks.failed, checks.skipped) == (1, 1)
    assert checks.as_json() == [
        {"name": "found", "passed": True, "detail": "x"},
        {"name": "tree", "passed": False, "detail": "y"},
        {"name": "ratio", "passed": None, "skipped": True, "detail": "not cold"}]
    assert capsys.readouterr().out.splitlines()[-1] == "SKIP ratio: not cold"
