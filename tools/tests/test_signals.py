"""Ctrl-C and SIGTERM at any moment of a whole `tgtsim coverage` (started by
its launcher tools/bin/tgtsim, as make and users start it: prepare, the
up-to-date build, the selftest build, the KUnit and selftest boots of a
fake kernel, the real gcov/lcov/genhtml steps of the coverage profile,
the reports): tgtsim exits within 5 s with 130 or 143, leaves no process
behind, and out/latest still points to a complete run.

Every child tgtsim is started with SIGINT and SIGTERM at their defaults
(`defaults()`), whatever the pytest process inherited: a background job
(`make check &`, nohup, some CI runners) starts with SIGINT ignored, and
tgtsim, like any Unix program, then keeps ignoring it (test below).

TGTSIM_STRESS_RUNS sets the number of interrupted runs: 20 by default,
100 in `make check` and CI (tools/run_checks.py sets it)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import pytest

from conftest import DATA, TOOLS, eventually
from test_coverage import gcov_project
from test_selftests import fake_selftests
from tgtsim import build, coverage, profiles
from tgtsim.paths import Paths

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("gcc", "gcov", "lcov", "genhtml")),
    reason="needs gcc and lcov (tgtsim deps --install)")

RUNS = int(os.environ.get("TGTSIM_STRESS_RUNS", "20"))
MARK = "TGTSIM_STRESS_MARK"
COUNT_LINE = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped$")


def defaults(ignore_int: bool = False) -> Callable[[], None]:
    """preexec_fn: SIGINT and SIGTERM at their defaults in the child (or
    SIGINT ignored, as a background job gets it)."""
    def fn() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN if ignore_int else signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return fn


# the KUnit boot starts a helper (as UML does), runs the gcov program (which
# writes its .gcda at exit, as UML does) and prints its KTAP with pauses;
# the selftest boot prints the selftests' KTAP
KERNEL = f"""#!/bin/sh
case "$*" in
*init=*)
  sleep 0.2
  cat {DATA / 'selftests_pass.log'} ;;
*)
  sleep 300 >/dev/null 2>&1 &
  helper=$!
  head -n 20 {DATA / 'pass.log'}
  sleep 0.2
  ./prog
  tail -n +21 {DATA / 'pass.log'}
  kill $helper ;;
esac
"""


def stress_project(project: Paths, kunit_dir: Path, tmp_path: Path, quiet) -> dict[str, str]:
    """A prepared project whose coverage build is up to date; returns the
    environment of tgtsim runs in it."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    kb = gcov_project(project, tmp_path, quiet)
    fake_selftests(project.root)
    (kb / "linux").write_text(KERNEL)
    (kb / "linux").chmod(0o755)
    (kb / "build.log").write_text("CC drivers/scsi/scsi.o\n")
    # the build is up to date: `tgtsim all` runs prepare and build, which do nothing
    env = {k: v for k, v in os.environ.items() if k not in ("KCFLAGS", "TGTSIM_DEBUG")}
    opts = build.ccache_options(True) + coverage.make_options(project)
    build.write_stamp(kb, build.inputs_digest(
        project.linux, profiles.fragments(project.profiles, "coverage"), opts))
    env.update(TGTSIM_ROOT=str(project.root), TGTSIM_KUNIT_DIR=str(kunit_dir),
               PYTHONPATH=str(TOOLS), CI="true", TGTSIM_PYTHON=sys.executable)
    return env


def start(project: Paths, env: dict[str, str], mark: str,
          ignore_int: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [str(TOOLS / "bin/tgtsim"), "--build-dir", str(project.build), "--out",
         str(project.out), "-j", "1", "coverage", "--no-deps"],
        cwd=project.root, env=dict(env, **{MARK: mark}), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=defaults(ignore_int))


def marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (every descendant of
    one tgtsim run, whatever its process group or session)."""
    needle = f"{MARK}={mark}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except OSError:
            continue
        out.append(int(d.name))
    return out


def ps(pid: int) -> str:
    try:
        return f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid}: gone"


def complete(out: Path) -> Optional[str]:
    """The run out/latest points to if it is complete (all reports written
    and readable, coverage collected), else None."""
    d = (out / "latest").resolve()
    try:
        data = json.loads((d / "results.json").read_text())
        summary = (d / "summary.txt").read_text().splitlines()
        junit = (d / "junit.xml").read_text()
    except (OSError, ValueError):
        return None
    ok = (data.get("run_id") == d.name and data.get("exit_code") == 0
          and "lines" in data.get("coverage", {}) and bool(summary)
          and COUNT_LINE.match(summary[-1]) is not None and junit.rstrip().endswith("</testsuites>")
          and (d / "coverage/cobertura.xml").is_file())
    return d.name if ok else None


def clone_project(project: Paths, n: int) -> Paths:
    """Another scratch checkout like the `project` fixture's (its own
    build/ and out/: the gcov program writes its .gcda by absolute path)."""
    root = project.root.parent / f"proj{n}"
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns("build", "out"))
    return Paths.make(root, root / "build", root / "out")


def interrupt_runs(project: Paths, env: dict[str, str], runs: int,
                   rng: random.Random) -> dict[str, float]:
    """`runs` runs of `tgtsim coverage`, each sent SIGINT or SIGTERM at a
    random moment of it; every check of the module docstring after each."""
    # a complete first run: out/latest, and how long a whole run takes
    t0 = time.monotonic()
    p = start(project, env, f"first-{uuid.uuid4()}")
    _out, err = p.communicate(timeout=120)
    whole = time.monotonic() - t0
    assert p.returncode == 0, err
    assert "build: coverage is up to date" in err and "coverage: patch lines" in err
    latest = complete(project.out)
    assert latest is not None
    stats = {"runs": 0.0, "interrupted": 0.0, "finished first": 0.0, "whole run": whole,
             "slowest exit": 0.0}
    for i in range(runs):
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0, whole)
        mark = f"{uuid.uuid4()}"
        p = start(project, env, mark)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(sig)
        t_sig = time.monotonic()
        try:
            _out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            left = [ps(pid) for pid in marked(mark)]
            os.kill(p.pid, signal.SIGUSR1)      # faulthandler: where its threads are
            time.sleep(1)
            os.killpg(p.pid, signal.SIGKILL)
            _out, err = p.communicate()
            raise AssertionError(f"{project.root.name} run {i}: no exit 5 s after "
                                 f"{sig.name} at {delay:.2f} s; processes: {left}\n"
                                 f"{err[-6000:]}") from None
        stats["slowest exit"] = max(stats["slowest exit"], time.monotonic() - t_sig)
        stats["runs"] += 1
        where = f"{project.root.name} run {i}: {sig.name} at {delay:.2f} s of {whole:.2f} s"
        assert "Traceback" not in err and "Exception ignored" not in err, f"{where}\n{err}"
        # the shell's convention: 128 + N, whether tgtsim caught the signal or
        # died of it while the launcher (sh, perl) started, before any child
        if p.returncode in (128 + sig, -sig):
            stats["interrupted"] += 1
            if p.returncode > 0:
                word = "terminated" if sig == signal.SIGTERM else "interrupted"
                assert err.rstrip().endswith(f"tgtsim: {word}"), f"{where}\n{err}"
        else:
            assert p.returncode == 0, f"{where}: exit {p.returncode}\n{err}"
            stats["finished first"] += 1
        assert eventually(lambda: not marked(mark), 2.0), \
            f"{where}: processes left: {marked(mark)}"
        now = complete(project.out)
        assert now is not None, f"{where}: out/latest is not a complete run"
        if p.returncode != 0:
            assert now >= latest, where
        latest = now
    return stats


def test_stress_signals_at_random_moments(project: Paths, kunit_dir: Path, tmp_path: Path,
                                          quiet, monkeypatch) -> None:
    """RUNS interrupted runs, TGTSIM_STRESS_JOBS (default 3) checkouts at
    once: the runs overlap, which moves the moments around even more."""
    from concurrent.futures import ThreadPoolExecutor
    monkeypatch.delenv("KCFLAGS", raising=False)
    jobs = max(1, int(os.environ.get("TGTSIM_STRESS_JOBS", "3")))
    projects = [project] + [clone_project(project, n) for n in range(1, jobs)]
    envs = [stress_project(p, kunit_dir, tmp_path / f"mk{n}", quiet)
            for n, p in enumerate(projects)]
    seed = int(os.environ.get("TGTSIM_STRESS_SEED", "0")) or random.randrange(1, 2**31)
    sys.stderr.write(f"\nstress: seed {seed} (TGTSIM_STRESS_SEED={seed} repeats it)\n")
    share = [RUNS // jobs + (1 if n < RUNS % jobs else 0) for n in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(interrupt_runs, p, e, k, random.Random(seed + n))
                   for n, (p, e, k) in enumerate(zip(projects, envs, share))]
        results = [f.result() for f in futures]
    total = {k: sum(r[k] for r in results) for k in ("runs", "interrupted", "finished first")}
    sys.stderr.write(f"stress: {int(total['runs'])} runs in {jobs} checkouts, whole run "
                     + "/".join(f"{r['whole run']:.1f}" for r in results) + " s, "
                     f"{int(total['interrupted'])} interrupted, {int(total['finished first'])} "
                     "finished before the signal, slowest exit after the signal "
                     f"{max(r['slowest exit'] for r in results):.2f} s\n")
    assert total["runs"] == RUNS
    assert total["interrupted"] >= RUNS // 2


def test_inherited_ignored_sigint_is_kept_sigterm_still_works(
        project: Paths, kunit_dir: Path, tmp_path: Path, quiet, monkeypatch) -> None:
    """A background job: SIGINT stays ignored (the Unix convention), the
    run goes on; SIGTERM ends it (143) and kills its children."""
    monkeypatch.delenv("KCFLAGS", raising=False)
    env = stress_project(project, kunit_dir, tmp_path, quiet)
    kb = project.kbuild("coverage")
    started = tmp_path / "kernel-started"
    body = KERNEL.replace("*)\n  sleep 300", f"*)\n  touch {started}\n  sleep 300")
    body = body.replace("  kill $helper ;;", "  sleep 300 ;;")
    (kb / "linux").write_text(body)
    opts = build.ccache_options(True) + coverage.make_options(project)
    build.write_stamp(kb, build.inputs_digest(
        project.linux, profiles.fragments(project.profiles, "coverage"), opts))
    mark = f"{uuid.uuid4()}"
    p = start(project, env, mark, ignore_int=True)
    try:
        assert eventually(started.exists, 30)
        p.send_signal(signal.SIGINT)
        time.sleep(1.5)
        assert p.poll() is None, "an inherited ignored SIGINT stopped tgtsim"
        assert marked(mark)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert time.monotonic() - t0 < 5
    assert p.returncode == 143 and err.rstrip().endswith("tgtsim: terminated"), err
    assert eventually(lambda: not marked(mark), 2.0)
