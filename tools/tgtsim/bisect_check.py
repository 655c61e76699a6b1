"""`tgtsim check-bisect` (make check-bisect): the proof that `tgtsim bisect`
finds a regression of the user's kernel.

A 6.12 git tree made from the Debian tarball (the base commit of
build/linux, cloned) gets a synthetic history of HISTORY commits: harmless
ones (comments in C files the UML build compiles, documentation), one that
does not build (BROKEN; the next one fixes it) and one planted regression in
the block layer, which the port uses and the series does not touch
(PLANTED: bio_add_hw_page() stops checking the bio's size against
max_sectors, so a target command's chunks grow past the queue's limit).
`tgtsim bisect` then runs with a ccache of its own, emptied first, so that
its first step is a cold build and the later ones show what reusing the
build directory and ccache saves. Checked, each a pass or a failure:

    the first bad commit is exactly the planted one
    the broken commit was tested and skipped
    at most MAX_STEPS test steps (after the checks of GOOD and BAD)
    each step after the first takes at most 1/4 of the first (cold) one
    the tree is on its ref with `git status` unchanged, no bisection left
    a second bisection, sent SIGTERM during a step, exits 143 and leaves
    the tree the same, and no process of it behind

The figures go to build/check-bisect/check-bisect.json and to stdout; the
last line is `check-bisect: N passed, N failed, N skipped`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim import kernel_source, prepare
from tgtsim.errors import InfraError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.procs import run_quiet, run_watched
from tgtsim.progress import Progress

HISTORY = 34           # commits on top of the base
BROKEN = 25            # does not build (the next commit fixes it)
PLANTED = 23           # the regression
MAX_STEPS = 7
MAX_RATIO = 0.25
# harmless commits: a comment appended to C files of the UML build that the
# series does not touch, or a line of documentation
HARMLESS_C = ("block/blk-core.c", "drivers/scsi/scsi_error.c", "block/blk-settings.c",
              "drivers/scsi/scsi_sysfs.c", "block/blk-timeout.c")
HARMLESS_DOC = "Documentation/block/index.rst"
BROKEN_FILE = "block/blk-settings.c"
PLANTED_FILE = "block/bio.c"
PLANTED_TEXT = ("\tif (len > max_size - bio->bi_iter.bi_size)\n"
                "\t\treturn 0;\n")
PLANTED_SUBJECT = "block: bio_add_hw_page: let the bio grow past max_sectors"
# the suite of the steps: the one whose chunking the planted regression
# breaks (a user bisects with the failing suite as filter too)
FILTER = "tgt_cmd_offsets"


@dataclass
class History:
    tree: Path
    good: str
    bad: str
    planted: str
    broken: str
    commits: list[str] = field(default_factory=list)


def kind(i: int) -> str:
    """What commit i (1..HISTORY) of the history is."""
    if i == BROKEN:
        return "broken"
    if i == BROKEN + 1:
        return "fix"
    if i == PLANTED:
        return "planted"
    return "doc" if i % 3 == 0 else "c"


def _commit(git: Git, path: str, subject: str) -> str:
    git.run("add", "--", path)     # not -A: no scan of the whole tree
    git.run("commit", "-q", "--no-verify", "-m", subject, stable=True)
    return git.head()


def make_history(paths: Paths, work: Path, progress: Progress) -> History:
    """work/linux: the tarball's tree (the base of build/linux, or unpacked)
    and HISTORY commits on top."""
    tree = work / "linux"
    if tree.exists():
        shutil.rmtree(tree)
    state = prepare.load_state(paths.linux) if Git(paths.linux).is_repo() else None
    with progress.step("check-bisect: the 6.12 tree"):
        if state is not None and state.base.startswith("tarball:"):
            run_quiet(["git", "clone", "-q", "--shared", "--no-checkout", str(paths.linux),
                       str(tree)])
            git = Git(tree)
            git.run("config", "gc.auto", "0")
            git.run("checkout", "-q", "-b", "main", state.base_commit)
        else:
            kernel_source.create(kernel_source.BaseSpec("tarball", paths.tarball), tree)
            git = Git(tree)
            git.run("checkout", "-q", "-b", "main")
    good = git.head()
    hist = History(tree=tree, good=good, bad="", planted="", broken="")
    with progress.step("check-bisect: the synthetic history"):
        for i in range(1, HISTORY + 1):
            k = kind(i)
            if k == "c":
                path = HARMLESS_C[i % len(HARMLESS_C)]
                f = tree / path
                with open(f, "a") as out:
                    out.write(f"/* tgtsim check-bisect: harmless commit {i} */\n")
                subject = f"{f.parent.name}: a comment in {f.name} ({i})"
            elif k == "doc":
                path = HARMLESS_DOC
                with open(tree / HARMLESS_DOC, "a") as out:
                    out.write(f"\n.. tgtsim check-bisect: harmless commit {i}\n")
                subject = f"Documentation: block: a note ({i})"
            elif k == "broken":
                path = BROKEN_FILE
                with open(tree / BROKEN_FILE, "a") as out:
                    out.write('#error "tgtsim check-bisect: a commit that does not build"\n')
                subject = "block: a commit that does not build"
            elif k == "fix":
                path = BROKEN_FILE
                f = tree / BROKEN_FILE
                f.write_text("".join(ln for ln in f.read_text().splitlines(True)
                                     if not ln.startswith("#error \"tgtsim check-bisect")))
                subject = "block: fix the build"
            else:
                path = PLANTED_FILE
                f = tree / PLANTED_FILE
                text = f.read_text()
                if text.count(PLANTED_TEXT) != 1:
                    raise InfraError(f"cannot plant the regression: {PLANTED_FILE} of the "
                                     "base has not the size check of bio_add_hw_page()")
                f.write_text(text.replace(PLANTED_TEXT, ""))
                subject = PLANTED_SUBJECT
            sha = _commit(git, path, subject)
            hist.commits.append(sha)
            if k == "broken":
                hist.broken = sha
            elif k == "planted":
                hist.planted = sha
    hist.bad = git.head()
    return hist


def tree_state(tree: Path) -> dict[str, Any]:
    git = Git(tree)
    return {"ref": git.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip(),
            "head": git.head(),
            "status": git.out("status", "--porcelain", "--untracked-files=normal"),
            "bisecting": sorted(p.name for p in git.git_dir().glob("BISECT_*"))}


def bisect_cmd(paths: Paths, work: Path, hist: History, jobs: int, profile: str,
               filter_glob: str) -> list[str]:
    return [sys.executable, "-m", "tgtsim", "--out", str(work / "out"), "--build-dir",
            str(work / "build"), "--jobs", str(jobs), "bisect", "--kernel", str(hist.tree),
            "--good", hist.good, "--bad", hist.bad, "--profile", profile,
            "--filter", filter_glob, "--no-selftests"]


def env_for(paths: Paths, work: Path, shared_ccache: bool = False) -> dict[str, str]:
    env = dict(os.environ, CI="true", PYTHONPATH=str(paths.root / "tools"))
    if not shared_ccache:
        env["CCACHE_DIR"] = str(work / "ccache")
    return env


def latest_bisect(work: Path) -> Optional[Path]:
    d = work / "out" / "bisect"
    runs = sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []
    return runs[-1] if runs else None


def leftovers(work: Path) -> list[str]:
    """Processes whose command line names the check's build directory."""
    mark = str(work / "build")
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if mark in cmd:
            out.append(f"{p.name} {cmd[:120]}")
    return out


class Checks:
    def __init__(self) -> None:
        self.items: list[tuple[str, bool, str]] = []
        self.skips: list[tuple[str, str]] = []

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.items.append((name, ok, detail))
        sys.stdout.write(f"{'PASS' if ok else 'FAIL'} {name}: {detail}\n")
        sys.stdout.flush()

    def skip(self, name: str, detail: str) -> None:
        self.skips.append((name, detail))
        sys.stdout.write(f"SKIP {name}: {detail}\n")
        sys.stdout.flush()

    @property
    def failed(self) -> int:
        return sum(1 for _n, ok, _d in self.items if not ok)

    @property
    def skipped(self) -> int:
        return len(self.skips)

    def as_json(self) -> list[dict[str, Any]]:
        """Every check, a skipped one with "passed": null and "skipped": true
        (make check counts it as skipped, not as passed)."""
        return ([{"name": nm, "passed": ok, "detail": dt} for nm, ok, dt in self.items]
                + [{"name": nm, "passed": None, "skipped": True, "detail": dt}
                   for nm, dt in self.skips])


def sigterm_run(paths: Paths, work: Path, hist: History, cmd: list[str], checks: Checks,
                progress: Progress, shared_ccache: bool = False) -> dict[str, Any]:
    """A second bisection, sent SIGTERM during its first step of `git bisect
    run` (after the checks of GOOD and BAD)."""
    before = tree_state(hist.tree)
    known = latest_bisect(work)
    log = work / "sigterm-run.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, env=env_for(paths, work, shared_ccache), stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    figures: dict[str, Any] = {}
    try:
        with progress.step("check-bisect: bisection interrupted by SIGTERM"):
            deadline = time.monotonic() + 1800
            steps: Optional[Path] = None
            while time.monotonic() < deadline and proc.poll() is None:
                d = latest_bisect(work)
                if d is not None and d != known and (d / "steps.jsonl").is_file() and \
                        len((d / "steps.jsonl").read_text().splitlines()) >= 2:
                    steps = d / "steps.jsonl"
                    break
                time.sleep(0.5)
            time.sleep(8)                   # into the first step: prepare, build
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=180)
            figures = {"exit_code": rc, "seconds_to_exit": round(time.monotonic() - sent, 1),
                       "steps_before": len(steps.read_text().splitlines()) if steps else 0}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    after = tree_state(hist.tree)
    time.sleep(1)
    left = leftovers(work)
    checks.add("SIGTERM during a step: exit 143", figures.get("exit_code") == 143,
               f"exit {figures.get('exit_code')} {figures.get('seconds_to_exit')} s after "
               f"SIGTERM (log: {log})")
    checks.add("SIGTERM: the tree on its ref, clean, no bisection left", after == before,
               f"{after['ref']} {after['head'][:12]}, status "
               f"{after['status'] or 'clean'}, {after['bisecting'] or 'no BISECT_* files'}")
    checks.add("SIGTERM: no process left", not left, "; ".join(left) or "none")
    figures["leftovers"] = left
    return figures


def history_of(work: Path) -> History:
    """The history an earlier check-bisect left in work/linux."""
    git = Git(work / "linux")
    subjects = git.out("log", "--format=%H %s", f"-{HISTORY + 1}").splitlines()
    if len(subjects) != HISTORY + 1:
        raise InfraError(f"no check-bisect history in {work / 'linux'}: run it once first")
    shas = [ln.split(" ", 1)[0] for ln in reversed(subjects)]
    return History(tree=work / "linux", good=shas[0], bad=shas[-1], planted=shas[PLANTED],
                   broken=shas[BROKEN], commits=shas[1:])


def run_sigterm_only(paths: Paths, progress: Progress, jobs: int, profile: str,
                     filter_glob: str) -> int:
    """Only the SIGTERM part, on the history and warm ccache of an earlier run."""
    work = paths.build / "check-bisect"
    hist = history_of(work)
    checks = Checks()
    figures = sigterm_run(paths, work, hist, bisect_cmd(paths, work, hist, jobs, profile,
                                                        filter_glob), checks, progress)
    (work / "check-bisect-sigterm.json").write_text(json.dumps(figures, indent=1) + "\n")
    sys.stdout.write(f"check-bisect: {len(checks.items) - checks.failed} passed, "
                     f"{checks.failed} failed, 0 skipped\n")
    return 1 if checks.failed else 0


def run(paths: Paths, progress: Progress, jobs: int, profile: str = "kunit",
        filter_glob: str = FILTER, sigterm: bool = True, reuse_history: bool = False,
        shared_ccache: bool = False) -> int:
    """`shared_ccache`: the user's ccache, not an empty one of its own: the
    first step is not cold, the ratio is reported but not checked (a quick
    functional run)."""
    work = paths.build / "check-bisect"
    for sub in ("ccache", "build", "out"):
        shutil.rmtree(work / sub, ignore_errors=True)
    (work / "ccache").mkdir(parents=True)
    prepare.prepare(paths, progress)          # the tarball's base, in build/linux
    started = time.monotonic()
    hist = history_of(work) if reuse_history else make_history(paths, work, progress)
    before = tree_state(hist.tree)
    cmd = bisect_cmd(paths, work, hist, jobs, profile, filter_glob)
    checks = Checks()
    with progress.step("check-bisect: tgtsim bisect (first step cold)"):
        res = run_watched(cmd, env=env_for(paths, work, shared_ccache), on_line=progress.output,
                          log=work / "bisect-run.log")
    d = latest_bisect(work)
    data = json.loads((d / "bisect.json").read_text()) if d and (d / "bisect.json").is_file() \
        else {}
    steps = data.get("steps", [])
    first = (data.get("first_bad") or {}).get("commit")
    checks.add("the first bad commit is the planted one", first == hist.planted,
               f"{(first or 'none')[:12]} (planted {hist.planted[:12]}; tgtsim bisect exit "
               f"{res.returncode}; log {work / 'bisect-run.log'})")
    skipped = [s for s in steps if s["commit"] == hist.broken]
    checks.add("the broken commit was skipped", bool(skipped) and
               all(s["verdict"] == "skip" for s in skipped),
               ", ".join(f"{s['commit'][:12]} {s['verdict']}" for s in skipped)
               or f"{hist.broken[:12]} not tested")
    n = data.get("test_steps", 0)
    checks.add(f"at most {MAX_STEPS} test steps", 0 < n <= MAX_STEPS,
               f"{n} steps after the checks of GOOD and BAD ({len(steps)} runs in all)")
    secs = [s["seconds"] for s in steps]
    ratios = [round(s / secs[0], 3) for s in secs[1:]] if secs and secs[0] else []
    timing = (f"first {secs[0] if secs else 0:.0f} s; then "
              + ", ".join(f"{s:.0f} s" for s in secs[1:]) + f"; max ratio "
              f"{max(ratios) if ratios else 0:.2f}")
    name = f"each step after the first at most {MAX_RATIO:g} of the first (cold)"
    if shared_ccache:
        checks.skip(name, "the first step was not cold (--shared-ccache): " + timing)
    else:
        checks.add(name, bool(ratios) and max(ratios) <= MAX_RATIO, timing)
    after = tree_state(hist.tree)
    checks.add("the tree is unchanged", after == before,
               f"{after['ref']} {after['head'][:12]}, status {after['status'] or 'clean'}, "
               f"{after['bisecting'] or 'no BISECT_* files'}")
    figures: dict[str, Any] = {
        "commits": HISTORY, "planted": hist.planted, "broken": hist.broken,
        "first_bad": first, "test_steps": n, "runs": len(steps), "seconds": secs,
        "ratios": ratios, "bisect_seconds": data.get("seconds"), "bisect": str(d)}
    if sigterm:
        figures["sigterm"] = sigterm_run(paths, work, hist, cmd, checks, progress,
                                         shared_ccache)
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    figures["checks"] = checks.as_json()
    figures["shared_ccache"] = shared_ccache
    (work / "check-bisect.json").write_text(json.dumps(figures, indent=1) + "\n")
    passed = len(checks.items) - checks.failed
    sys.stdout.write(f"figures: {work / 'check-bisect.json'}\n"
                     f"check-bisect: {passed} passed, {checks.failed} failed, "
                     f"{checks.skipped} skipped\n")
    return 1 if checks.failed else 0
