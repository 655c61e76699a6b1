"""Regression bisection: `tgtsim bisect` drives `git bisect` in the user's
kernel tree, `tgtsim bisect-step` is one step of it (or of a user's own
`git bisect run`).

A step ends in a verdict for `git bisect run`: only the kernel's failures
make a commit bad (a failed case, a sanitizer report, a crash, a hang); a
commit that is not a Linux 6.12 tree, that the series does not apply to or
that does not build is skipped (125); the tool's failures (the selftest
programs do not build, gcov/lcov, a full disk, a missing package, an
internal error, a usage error) abort the bisection (128), since they say
nothing about the commit. The coverage gate says nothing about the kernel
either: it is left out of a step's verdict.

`tgtsim bisect` never checks anything out in the user's tree: it bisects
with `git bisect start --no-checkout` (git moves BISECT_HEAD, each step
builds that commit in a tree of its own, build/bisect/linux, whose build
directory and ccache later steps reuse), and always ends with `git bisect
reset`, so the tree stays on its ref with `git status` unchanged, after a
success, a failure, a crashed step, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from tgtsim.errors import (EXIT_INFRA, EXIT_USAGE, InfraError, Status, TgtsimError,
                           UsageError)
from tgtsim.gitutil import Git
from tgtsim.kernel_source import NotThisKernel
from tgtsim.results import CRASHED, FAILED, Results

GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128
WORDS = {GOOD: "good", BAD: "bad", SKIP: "skipped (125)",
         ABORT: "not testable: abort (128)"}
VERDICTS = {GOOD: "good", BAD: "bad", SKIP: "skip", ABORT: "abort"}
GATE_SUITE = "tgtsim.coverage"     # the coverage gate: not the kernel's verdict
# how long a step may take to clean up after SIGTERM before it is killed
STEP_GRACE = 60.0


def code(status: Status) -> int:
    """The `git bisect run` exit code of a step that ended in `status`."""
    if status == Status.SUCCESS:
        return GOOD
    if status.kernel_failure:          # failed cases, a sanitizer, a crash, a hang
        return BAD
    if status == Status.BUILD_FAILURE:
        return SKIP
    return ABORT


def error_code(e: TgtsimError) -> int:
    """The exit code of a step that stopped with `e`: a commit that is not a
    Linux 6.12 tree is skipped like one that does not build."""
    if isinstance(e, NotThisKernel):
        return SKIP
    return code(e.status)


def kernel_failures(res: Results) -> list[str]:
    """The kernel's failures of a run: failed cases (not the coverage
    gate's), sanitizer reports, the crash of a boot."""
    out = [f"{c.suite}.{c.name}: {c.message}" for c in res.cases
           if c.status in (FAILED, CRASHED) and c.suite != GATE_SUITE]
    out += [f"SANITIZER {r.name}" for r in res.sanitizer]
    if res.crash is not None and res.crash.status.kernel_failure:
        out.append(f"CRASH {res.crash.reason}")
    return out


def verdict(res: Results) -> int:
    """The step's exit code from its run's results."""
    if res.crash is not None and not res.crash.status.kernel_failure:
        return code(res.crash.status)       # the build's or the tool's failure
    return BAD if kernel_failures(res) else GOOD


def bisect_head(src: Path) -> Optional[str]:
    """BISECT_HEAD of a `git bisect start --no-checkout` bisection, if any."""
    return Git(src).resolve("BISECT_HEAD")


def tree(kernel_src: Optional[str], commit: Optional[str] = None) -> tuple[str, str]:
    """The tree being bisected (`kernel_src`, else the git tree of the
    current directory) and the commit to test: `commit`, else BISECT_HEAD
    (a bisection without checkout), else HEAD."""
    if kernel_src:
        src = kernel_src
    else:
        top = Git(Path.cwd()).run("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise UsageError("bisect-step: run it in the git tree being bisected, "
                             "or set KERNEL_SRC")
        src = top.stdout.strip()
    git = Git(Path(src))
    if not git.is_repo():
        raise UsageError(f"bisect-step: {src} is not a git tree")
    if commit:
        sha = git.resolve(commit)
        if sha is None:
            raise UsageError(f"bisect-step: {commit}: no such commit in {src}")
        return src, sha
    return src, bisect_head(Path(src)) or git.head()


@dataclass
class Step:
    """One step's record (a line of steps.jsonl, an entry of bisect.json)."""
    commit: str
    verdict: str                 # good, bad, skip, abort
    code: int
    seconds: float
    subject: str = ""
    failing: list[str] = field(default_factory=list)
    reason: str = ""             # why it was skipped or aborted
    run: Optional[str] = None    # its run directory
    phase: str = "bisect"        # "check" for the checks of GOOD and BAD


def record_step(path: Path, step: Step) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(step)) + "\n")


def read_steps(path: Path) -> list[Step]:
    out = []
    try:
        text = path.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        try:
            out.append(Step(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out


# -- the driver ----------------------------------------------------------------

@dataclass
class Options:
    tree: Path
    good: str
    bad: str
    out: Path                    # out/bisect/<id>
    step_cmd: list[str]          # the step command; the driver adds --commit, --record


@dataclass
class Outcome:
    exit_code: int
    first_bad: Optional[str] = None
    message: str = ""


def _original(git: Git) -> tuple[str, str]:
    """The tree's ref (branch or detached commit) and `git status`."""
    ref = git.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip() or git.head()
    return ref, git.out("status", "--porcelain", "--untracked-files=normal")


def check_tree(git: Git, good: str, bad: str) -> tuple[str, str]:
    """Refuse what cannot be bisected; return the GOOD and BAD commits."""
    if not git.is_repo():
        raise UsageError(f"bisect: {git.repo} is not a git tree (--kernel PATH or KERNEL_SRC)")
    if (git.git_dir() / "BISECT_START").exists():
        raise UsageError(f"bisect: a bisection is already under way in {git.repo} "
                         f"(git -C {git.repo} bisect reset ends it)")
    if git.out("status", "--porcelain", "--untracked-files=normal"):
        raise UsageError(f"bisect: {git.repo} has uncommitted changes; commit or stash "
                         "them first (the commits are tested, not the work tree)")
    shas = []
    for name, ref in (("GOOD", good), ("BAD", bad)):
        sha = git.resolve(ref)
        if sha is None:
            raise UsageError(f"bisect: {name}={ref}: no such commit in {git.repo}")
        shas.append(sha)
    if shas[0] == shas[1] or not git.ok("merge-base", "--is-ancestor", shas[0], shas[1]):
        raise UsageError(f"bisect: GOOD={good} is not an ancestor of BAD={bad}")
    return shas[0], shas[1]


class _Child:
    """A child process in a session of its own, its output line by line to
    `on_line`; on an interruption its whole session gets SIGTERM and
    STEP_GRACE seconds to clean up (a step kills its make and UML groups),
    then SIGKILL."""

    def __init__(self, cmd: Sequence[str], cwd: Path, env: dict[str, str],
                 on_line: Callable[[str], None]) -> None:
        try:
            self.proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, text=True,
                                         errors="backslashreplace", bufsize=1)
        except OSError as e:
            raise InfraError(f"cannot run {cmd[0]}: {e.strerror or e}") from None
        self.on_line = on_line
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.on_line(line.rstrip("\n"))

    def wait(self) -> int:
        try:
            while True:
                try:
                    rc = self.proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        except BaseException:
            self.stop()
            raise
        self.reader.join(timeout=5)
        return rc

    def stop(self) -> None:
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + STEP_GRACE
        while time.monotonic() < deadline:
            self.proc.poll()
            try:
                os.killpg(pgid, 0)           # anything left of the session?
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Driver:
    def __init__(self, opts: Options, say: Callable[[str], None]) -> None:
        self.opts = opts
        self.git = Git(opts.tree)
        self.say = say
        self.log_path = opts.out / "bisect.log"
        self.steps_path = opts.out / "steps.jsonl"
        self.started = time.time()
        self.data: dict[str, Any] = {}

    def log(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(line + "\n")

    def note(self, line: str) -> None:
        self.log(f"# {line}")
        self.say(line)

    def child(self, cmd: Sequence[str]) -> int:
        self.log("$ " + " ".join(cmd))
        env = dict(os.environ)
        return _Child(cmd, self.opts.tree, env, self.log).wait()

    def check(self, name: str, sha: str, want: int) -> Optional[Outcome]:
        """Test GOOD or BAD itself; an Outcome when it is not as given."""
        before = len(read_steps(self.steps_path))
        rc = self.child([*self.opts.step_cmd, "--commit", sha, "--record",
                         str(self.steps_path), "--phase", "check"])
        steps = read_steps(self.steps_path)
        step = steps[-1] if len(steps) > before else None
        got = rc if rc in (GOOD, BAD, SKIP) else ABORT
        self.note(f"check {name} {sha[:12]}: {VERDICTS[got]}"
                  + (f" ({step.seconds:.0f} s)" if step else ""))
        if got == want:
            return None
        why = (step.reason or "; ".join(step.failing[:3])) if step else f"step exit {rc}"
        if got == ABORT:
            return Outcome(EXIT_INFRA, message=f"bisect: the step at {name}={sha[:12]} "
                           f"failed (not the commit's failure): {why} (log: {self.log_path})")
        if name == "GOOD":
            return Outcome(EXIT_USAGE, message=f"bisect: GOOD {sha[:12]} does not pass "
                           f"({VERDICTS[got]}: {why}); choose a GOOD that passes")
        return Outcome(EXIT_USAGE, message=f"bisect: BAD {sha[:12]} does not fail "
                       f"({VERDICTS[got]}{': ' + why if why else ''}); choose a BAD that "
                       "fails (or a --filter that selects the failing case)")

    def run(self) -> Outcome:
        good, bad = check_tree(self.git, self.opts.good, self.opts.bad)
        ref, status = _original(self.git)
        self.opts.out.mkdir(parents=True, exist_ok=True)
        n = len(self.git.commits(f"{good}..{bad}"))
        self.data = {"tree": str(self.opts.tree), "good": good, "bad": bad,
                     "original_ref": ref, "commits": n, "step_command": self.opts.step_cmd}
        self.note(f"bisect: {self.opts.tree}: {n} commits from GOOD {good[:12]} to BAD "
                  f"{bad[:12]}; checking the two first")
        outcome = Outcome(EXIT_INFRA, message="bisect: interrupted")
        started = False
        try:
            for name, sha, want in (("GOOD", good, GOOD), ("BAD", bad, BAD)):
                bad_end = self.check(name, sha, want)
                if bad_end is not None:
                    outcome = bad_end
                    return outcome
            started = True
            self.git.run("bisect", "start", "--no-checkout", bad, good)
            rc = self.child(["git", "bisect", "run", *self.opts.step_cmd, "--record",
                             str(self.steps_path)])
            outcome = self.conclude(rc)
            return outcome
        finally:
            if started or (self.git.git_dir() / "BISECT_START").exists():
                self.git.run("bisect", "reset", check=False)
            self.restore(ref, status)
            self.write(outcome)

    def conclude(self, rc: int) -> Outcome:
        log = self.git.run("bisect", "log", check=False).stdout
        self.log(log.rstrip("\n"))
        text = self.log_path.read_text(errors="backslashreplace")
        m = re.findall(r"^([0-9a-f]{40}) is the first bad commit$", text, re.M)
        if rc == 0 and m:
            sha = m[-1]
            return Outcome(0, first_bad=sha)
        if "only 'skip'ped commits left" in text:
            cands = re.findall(r"^([0-9a-f]{40})$", text.split("only 'skip'ped commits left",
                                                               1)[1], re.M)
            return Outcome(1, message="bisect: only skipped commits are left; the first bad "
                           "commit is one of " + ", ".join(c[:12] for c in cands))
        steps = read_steps(self.steps_path)
        last = steps[-1] if steps else None
        why = last.reason if last and last.verdict == "abort" else f"git bisect run exit {rc}"
        return Outcome(EXIT_INFRA, message=f"bisect: aborted: {why} (log: {self.log_path})")

    def restore(self, ref: str, status: str) -> None:
        """The tree back on `ref` with `git status` as it was (a no-checkout
        bisection never moves it; this is the proof, and the repair)."""
        now_ref, now_status = _original(self.git)
        if now_ref != ref:
            target = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
            self.git.run("checkout", "-q", target, check=False)
            self.note(f"bisect: the tree was moved to {now_ref}; put back on {ref}")
        if now_status != status:
            self.note(f"bisect: warning: git status of {self.opts.tree} changed:\n{now_status}")

    def write(self, outcome: Outcome) -> None:
        steps = read_steps(self.steps_path)
        first: Optional[dict[str, Any]] = None
        if outcome.first_bad:
            sha = outcome.first_bad
            at = [s for s in steps if s.commit == sha]
            first = {"commit": sha, "subject": self.git.subject(sha),
                     "failing": at[-1].failing if at else [],
                     "run": at[-1].run if at else None}
        self.data.update({
            "exit_code": outcome.exit_code, "message": outcome.message, "first_bad": first,
            "steps": [asdict(s) for s in steps],
            "test_steps": sum(1 for s in steps if s.phase == "bisect"),
            "seconds": round(time.time() - self.started, 1)})
        tmp = self.opts.out / "bisect.json.tmp"
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.opts.out / "bisect.json")


def run(opts: Options, say: Callable[[str], None] = print) -> Outcome:
    """Bisect, write out/bisect/<id>/ and print the first bad commit."""
    driver = Driver(opts, say)
    outcome = driver.run()
    if outcome.first_bad:
        first = driver.data["first_bad"]
        lines = [f"first bad commit: {first['commit']} {first['subject']}"]
        lines += [f"    FAIL {f}" for f in first["failing"][:10]]
        lines.append(f"steps: {driver.data['test_steps']} (after the checks of GOOD and BAD), "
                     f"{driver.data['seconds']:.0f} s; reports: {opts.out}")
        sys.stdout.write("".join(ln + "\n" for ln in lines))
        sys.stdout.flush()
    elif outcome.message:
        sys.stdout.flush()
        sys.stderr.write(outcome.message + "\n")
    return outcome
