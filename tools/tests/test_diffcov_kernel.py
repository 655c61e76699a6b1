"""Diff coverage with the real kernel (slow, opt-in: `-m slow`; `make check
CHECK_SLOW=1`): a small history on top of the prepared
tree's base, one commit adding a function the suites call (from
scsi_normalize_sense()), one adding a function nothing calls, the series
and the overlay on top; `tgtsim coverage --diff-base BASE --fail-under 100`
must fail (exit 1) naming exactly the second function's lines.

It builds the coverage profile once, in build/diffcov-test/ of this
checkout ($TGTSIM_DIFFCOV_DIR): cold the first time (the gcov objects
embed their absolute path, so ccache only helps from the second run on),
then only what the history changes. The gate checks after that reuse the
run's tracefile (`--tracefile`), no second build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GIT_ENV, ROOT, TOOLS, git

pytestmark = [pytest.mark.slow, pytest.mark.uml]

CALLED = """
static unsigned long tgtsim_diffcov_calls;

/* tgtsim's diff-coverage test: a function the suites call */
static noinline void tgtsim_diffcov_called(void)
{
	tgtsim_diffcov_calls++;
}
"""
NEVER = """
/* tgtsim's diff-coverage test: a function nothing calls */
int tgtsim_diffcov_never(int x);
int tgtsim_diffcov_never(int x)
{
	if (x > 1)
		return x * 3;
	return 0;
}
"""
ANCHOR = "bool scsi_normalize_sense(const u8 *sense_buffer, int sb_len,"
FILE = "drivers/scsi/scsi_common.c"


def tgtsim(build: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(TOOLS), CI="true")
    env.pop("TGTSIM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tgtsim", "--build-dir", str(build / "build"),
                           "--out", str(build / "out"), *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SUBJECTS = ["scsi: diffcov test: a function the suites call",
            "scsi: diffcov test: a function nothing calls"]
# fixed dates: the same history every time, so that a second run finds its
# tree prepared and its kernel built
DATES = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def history_text(base_text: str) -> tuple[str, str]:
    """FILE after the first and after the second commit."""
    assert ANCHOR in base_text
    head, rest = base_text.split(ANCHOR, 1)
    # the call: the first statement of scsi_normalize_sense()
    sig, body = rest.split("{\n", 1)
    first = head + CALLED.lstrip("\n") + "\n" + ANCHOR + sig + "{\n\ttgtsim_diffcov_called();\n" + body
    return first, first + NEVER


def make_history(linux: Path, src: Path) -> tuple[str, range, range]:
    """src = build/linux's base + the two commits (kept when it is already
    that); returns the base commit and the line ranges of the called and the
    never-called function."""
    state = json.loads((linux / ".git/tgtsim-state.json").read_text())
    base = state["base_commit"]
    first, second = history_text(git(linux, "show", f"{base}:{FILE}") + "\n")
    try:
        same = (git(src, "rev-parse", "HEAD~2") == base
                and git(src, "log", "-2", "--format=%s").splitlines() == SUBJECTS[::-1]
                and git(src, "show", f"HEAD:{FILE}") + "\n" == second)
    except (subprocess.CalledProcessError, OSError):
        same = False
    if not same:
        if src.exists():
            shutil.rmtree(src)
        env = dict(os.environ, **GIT_ENV, **DATES)
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(linux), str(src)],
                       check=True, env=env)
        git(src, "checkout", "-q", "-B", "user", base)
        for text, subject in ((first, SUBJECTS[0]), (second, SUBJECTS[1])):
            (src / FILE).write_text(text)
            subprocess.run(["git", "-C", str(src), "commit", "-qam", subject], check=True,
                           env=env)
    lines = second.splitlines()
    return base, span(lines, "static noinline void tgtsim_diffcov_called(void)"), \
        span(lines, "int tgtsim_diffcov_never(int x)")


def span(lines: list[str], definition: str) -> range:
    """The lines of the function whose definition line is `definition`."""
    i = next(n for n, ln in enumerate(lines, 1) if ln == definition)
    j = next(n for n, ln in enumerate(lines, 1) if n > i and ln == "}")
    return range(i, j + 1)


def test_diff_coverage_of_a_history(quiet) -> None:
    linux = ROOT / "build/linux"
    if not (linux / ".git/tgtsim-state.json").is_file():
        pytest.skip("build/linux is not prepared (tgtsim prepare)")
    work = Path(os.environ.get("TGTSIM_DIFFCOV_DIR", ROOT / "build/diffcov-test"))
    work.mkdir(parents=True, exist_ok=True)
    base, _called, never = make_history(linux, work / "src")
    cp = tgtsim(work, "coverage", "--no-deps", "--kernel-src", str(work / "src"),
                "--diff-base", base, "--fail-under", "100")
    sys.stderr.write(cp.stderr[-3000:])
    assert cp.returncode == 1, cp.stdout[-3000:] + cp.stderr[-3000:]
    run = (work / "out/latest").resolve()
    data = json.loads((run / "results.json").read_text())
    assert data["counts"]["failed"] >= 1 and not data.get("crash"), data.get("crash")
    (entry,) = data["coverage"]["diff"]
    unc = entry["uncovered_lines"]
    # the diff is the history plus the series: in the history's file exactly
    # the never-called function's executable lines are uncovered, elsewhere
    # exactly what the series itself leaves (none when its gate passes)
    mine = [u for u in unc if u.startswith(f"{FILE}:")]
    assert [u for u in unc if u not in mine] == data["coverage"]["uncovered_lines"]
    nums = [int(u.rsplit(":", 1)[1]) for u in mine]
    assert set(nums) <= set(never) and len(nums) >= 3, (nums, never)
    by_file = {f["path"]: f for f in entry["files"]}
    f = by_file[FILE]
    assert f["lines"] - f["lines_hit"] == len(nums)       # the called lines are all hit
    # the gate names them
    gate = {g["name"]: g for g in data["coverage"]["gate"]}
    assert not gate["diff-lines"]["passed"]
    assert all(u in gate["diff-lines"]["message"] for u in mine)
    summary = (run / "summary.txt").read_text()
    assert "    FAIL diff-lines: changed lines" in summary
    # diff-cover's reports agree, from the Cobertura file
    js = json.loads((run / "coverage/diff.json").read_text())
    assert js["src_stats"][FILE]["violation_lines"] == nums
    md = (run / "coverage/diff.md").read_text()
    assert "tgtsim_diffcov_never" in md or f"{FILE.replace('.', '&#46;')}" in md
    # the same gate on the recorded tracefile, no build: exit 1, and a bad
    # REF is one message and exit 2
    info = run / "coverage/coverage.info"
    cp = tgtsim(work, "coverage", "--tracefile", str(info), "--kernel-src", str(work / "src"),
                "--diff-base", base, "--fail-under", "100")
    assert cp.returncode == 1 and mine[0] in cp.stdout, cp.stderr
    cp = tgtsim(work, "coverage", "--tracefile", str(info), "--kernel-src", str(work / "src"),
                "--diff-base", "no-such-ref", "--fail-under", "100")
    assert cp.returncode == 2 and "Traceback" not in cp.stderr
    assert cp.stderr.strip().splitlines() == [
        f"tgtsim: error: --diff-base no-such-ref: no such commit in {work / 'src'}"]
