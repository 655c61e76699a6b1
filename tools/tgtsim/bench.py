"""`tgtsim bench` (`make bench`): what tgtsim costs and how fast the target
data path is, as ratios measured in one run, each figure over `reps`
repetitions (min/median/max), written to out/bench/<id>/: bench.json,
bench.md, bench.svg (gnuplot), the consoles and logs of what it ran.

Parts (all by default, `--parts` picks):

- kernel: builds the `bench` profile (kunit + CONFIG_SCSI_TGT_BENCH) and
  boots it with kunit.filter_glob=tgt_bench*: the data path, the stages of
  a 4 KiB command and get/put (kunit/tgt_bench_*.c; benchfig.py reads
  their records);
- make: a warm no-change `make` against the two boots it wraps, run bare
  (the same UML binary with the arguments results.json recorded, side by
  side, no tgtsim), alternately;
- incremental: `make` after a one-line change of the port's
  drivers/scsi/scsi_tgt_lib.c (in its patch; the last repetition puts
  the patch back as it was) against the kernel's own incremental make of
  that tree after touching the file;
- bisect: `tgtsim bisect-step` in a fresh build directory (a cold step)
  against the next step, one commit later, in the same directory, on a
  scratch clone of build/linux's base (build/bench/src; the first bench
  of a checkout makes it beside the kernel part's build). The build
  directory goes to /dev/shm when that is a tmpfs with room (`--scratch`
  picks another place), removed when the part ends, else to
  build/bench/bisect.

`--compare OLD.json` compares the medians with an earlier bench.json and
exits 1 when a figure is more than 20 % worse; `--against NEW.json`
compares two recorded files without measuring anything.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from tgtsim import analysis, benchfig, build, coverage, prepare, profiles, report, run
from tgtsim.errors import (EXIT_INFRA, EXIT_OK, EXIT_TEST_FAILURE, InfraError, TgtsimError,
                           UsageError)
from tgtsim.gitutil import Git, git_env
from tgtsim.paths import Paths
from tgtsim.procs import Background, run_watched
from tgtsim.progress import Progress
from tgtsim.uml import KERNEL, BootOptions, Uml

PROFILE = "bench"              # kunit/profiles/bench.config
PARTS = ("kernel", "make", "incremental", "bisect")
SUITE_GLOB = "tgt_bench*"
BENCH_SUBDIR = "bench"         # out/bench/<id>, build/bench/
PORT_FILE = "drivers/scsi/scsi_tgt_lib.c"
# the port's shortest suite (0.04 s; tgt_cmd_offsets takes 5.8 s): the steps'
# figures are the harness's and kbuild's, not a suite's own run time
BISECT_ARGS = ("--profile", "kunit", "--filter", "tgt_cmd_refcount", "--no-selftests")
STEP_TIMEOUT = 3600.0
SHM = Path("/dev/shm")
SCRATCH_PREFIX = "tgtsim-bench-"
# room the bisect part needs on a tmpfs: the clone's work tree (1.7 GB), a
# kunit build (0.1 GB) and the memory file of its UML boots (1 GiB), with margin
SCRATCH_NEED = 6 << 30
# variables of an outer make that must not reach the make we time
MAKE_ENV_DROP = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT",
                 "MAKE_TERMERR")


@dataclass
class Options:
    profile: str                      # the profile `make` builds (harness parts)
    reps: int = 3
    min_ms: int = 30
    parts: tuple[str, ...] = PARTS
    compare: Optional[Path] = None
    against: Optional[Path] = None
    jobs: int = 2
    use_ccache: bool = True
    timeout: float = 900.0
    scratch: Optional[Path] = None    # where the bisect part builds (None: /dev/shm or build/)


@dataclass
class Bench:
    """One bench run: its directory, figures and what went wrong."""
    paths: Paths
    opts: Options
    progress: Progress
    out: Path
    figs: benchfig.Figures = field(default_factory=benchfig.Figures)
    kernel: Optional[benchfig.KernelData] = None
    errors: list[str] = field(default_factory=list)
    failed: bool = False              # the kernel suite failed or a part could not run
    meta: dict[str, Any] = field(default_factory=dict)   # what the parts add to bench.json
    packing: Optional[Background] = None   # the scratch tree packed beside the first build


def new_dir(out: Path) -> Path:
    base = out / BENCH_SUBDIR
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for i in range(100):
        d = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            d.mkdir(parents=True)
            return d
        except FileExistsError:
            continue
        except OSError as e:
            raise InfraError(f"cannot create {d}: {e.strerror or e}") from None
    raise InfraError(f"cannot create a new directory in {base}")


def clean_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV_DROP}
    env.update(extra or {})
    return env


def timed(cmd: Sequence[str], log: Path, *, cwd: Optional[Path] = None,
          env: Optional[dict[str, str]] = None, timeout: float = STEP_TIMEOUT,
          stdin_pipe: bool = False) -> tuple[float, int]:
    """Run `cmd` with its output to `log`: wall seconds and exit code."""
    t0 = time.monotonic()
    res = run_watched(cmd, cwd=cwd, env=env, log=log, timeout=timeout, keep_lines=False,
                      stdin_pipe=stdin_pipe)
    took = time.monotonic() - t0
    if res.hung:
        raise InfraError(f"{' '.join(cmd[:3])} did not finish in {int(timeout)} s (log: {log})")
    return took, res.returncode if res.returncode is not None else -1


# -- the kernel part ---------------------------------------------------------------

def kernel_args(reps: int, min_ms: int) -> BootOptions:
    return BootOptions(filter_glob=SUITE_GLOB, kernel_args=[f"tgt_bench.reps={reps}",
                                                            f"tgt_bench.min_ms={min_ms}"])


def kernel_part(b: Bench) -> None:
    p = b.paths
    with b.progress.step("bench: build bench"):
        binary = build.build(p, PROFILE, b.progress, b.opts.jobs, b.opts.use_ccache)
    settle(b)
    opts = kernel_args(b.opts.reps, b.opts.min_ms)
    uml = Uml(binary, b.progress)
    with b.progress.step("bench: boot bench"):
        boot = uml.boot(uml.kunit_args(opts), b.out / "kernel-console.log", KERNEL,
                        b.opts.timeout, 300.0, stdin_pipe=True)
    res = analysis.analyse(boot, None, run.kunit_dir(p), False, ktap_dir=b.out)
    (b.out / "kernel-summary.txt").write_text(report.summary_text(res))
    if res.crash or res.failed or not res.passed:
        why = res.crash.reason if res.crash else \
            f"tgt_bench: {res.closing_line()}" if res.cases else "tgt_bench did not run"
        b.errors.append(f"kernel: {why} (see {b.out / 'kernel-console.log'})")
        b.failed = True
    records = benchfig.parse(boot.lines)
    b.kernel = benchfig.kernel_figures(records, b.figs)


# -- the harness parts -------------------------------------------------------------

def tgtsim_code(rc: int, log: Path) -> int:
    """The exit code of the tgtsim command a `make` ran: make itself exits 2
    when its recipe failed; its "Error N" line names the recipe's code."""
    if rc != 2:
        return rc
    try:
        tail = log.read_text(errors="replace").splitlines()[-5:]
    except OSError:
        return rc
    for line in reversed(tail):
        m = re.search(r"^make(?:\[\d+\])?: \*\*\* \[.*\] Error (\d+)$", line)
        if m:
            return int(m.group(1))
    return rc


def make_ok(rc: int, log: Path, what: str) -> None:
    """A `make` that ran its job: passed (0) or a test or the coverage gate
    failed (1: timed all the same); anything else is an error."""
    code = tgtsim_code(rc, log)
    if code not in (0, 1):
        raise InfraError(f"{what} failed (exit {code}, log {log})")


def make_cmd(paths: Paths, profile: str, jobs: int) -> list[str]:
    return ["make", "-C", str(paths.root), "--no-print-directory", f"PROFILE={profile}",
            f"OUT={paths.out}", f"BUILD={paths.build}", f"JOBS={jobs}"]


def bare_boots(paths: Paths, profile: str, out: Path, rep: int) -> float:
    """The two boots of the latest run, bare: the UML binary with the
    arguments results.json recorded, side by side, consoles to files."""
    latest = report.latest(paths.out)
    if latest is None:
        raise InfraError("no run in out/ to take the boot arguments from")
    _res, info = report.load(latest)
    binary = paths.kbuild(profile) / "linux"
    if info.profile != profile or not info.kernel_args:
        raise InfraError(f"{latest} is not a run of profile {profile} with its boot arguments")
    boots: list[tuple[list[str], bool]] = [(info.kernel_args, True)]
    if info.selftests is not None and info.selftests.kernel_args:
        boots.append((info.selftests.kernel_args, False))
    t0 = time.monotonic()
    jobs = []
    for i, (args, pipe) in enumerate(boots):
        log = out / f"bare-{rep}-{'kunit' if i == 0 else 'selftests'}.log"

        def one(args: list[str] = args, pipe: bool = pipe, log: Path = log) -> None:
            res = run_watched([str(binary), *args], cwd=binary.parent, log=log,
                              keep_lines=False, timeout=STEP_TIMEOUT, stdin_pipe=pipe)
            if res.hung or res.returncode != 0:
                raise InfraError(f"bare boot failed (exit {res.returncode}, log {log})")
        job = Background(one)
        job.start()
        jobs.append(job)
    for job in jobs:
        job.wait()
    return time.monotonic() - t0


OUTSIDE_MAKE = "outside the steps (start-up, deps, prepare, reports)"
OUTSIDE_STEP = "outside the steps (start-up, analysis, reports)"


def step_breakdown(steps: Sequence[dict[str, Any]], total: float,
                   outside: str = OUTSIDE_MAKE) -> list[tuple[str, float]]:
    """Where the time of a command went, from the steps its run recorded
    (name, start, seconds; steps that ran side by side overlap): each step,
    then the time inside no step (`outside`)."""
    spans = sorted((float(s["start"]), float(s["start"]) + float(s["seconds"]))
                   for s in steps if "start" in s and "seconds" in s)
    covered, end = 0.0, -math.inf
    for a, z in spans:
        if z > end:
            covered += z - max(a, end)
            end = z
    out = [(str(s["name"]), float(s["seconds"])) for s in steps]
    out.append((outside, max(0.0, total - covered)))
    return out


def built(steps: Sequence[dict[str, Any]], profile: str) -> bool:
    """Whether a run's recorded steps include building `profile`: a `make`
    that built was no warm no-change `make`."""
    return any(str(s.get("name")) == f"build {profile}" for s in steps)


def make_part(b: Bench) -> None:
    """Warm no-change `make` against the bare boots it wraps. A `make`
    that built the kernel (the tree changed since the last `make`) is not
    counted: it is run again, once."""
    p, prof = b.paths, b.opts.profile
    rep = tries = 0
    skipped = False
    while rep < b.opts.reps:
        before = report.latest(p.out)
        log = b.out / f"make-warm-{tries}.log"
        tries += 1
        with b.progress.step(f"bench: warm make {rep + 1}/{b.opts.reps}"):
            t_make, rc = timed(make_cmd(p, prof, b.opts.jobs), log, env=clean_env())
        make_ok(rc, log, "make")
        latest = report.latest(p.out)
        steps: list[dict[str, Any]] = []
        if latest is not None and latest != before:
            _res, info = report.load(latest)
            steps = list(info.steps or [])
        if built(steps, prof) and not skipped:
            skipped = True
            b.progress.info(f"bench: that `make` built {prof} (the tree changed since the last "
                            f"`make`): not a warm no-change `make`, not counted ({log.name})")
            continue
        for name, secs in step_breakdown(steps, t_make):
            b.figs.add(f"harness.make_warm.step.{_slug(name)}", f"warm `make`: {name}",
                       "s", "lower", "make_steps", secs)
        with b.progress.step(f"bench: bare boots {rep + 1}/{b.opts.reps}"):
            t_bare = bare_boots(p, prof, b.out, rep)
        b.figs.add("harness.make_warm.s", f"warm no-change `make` ({prof})", "s", "lower",
                   "harness", t_make)
        b.figs.add("harness.make_warm.bare_s", "the two boots it wraps, bare, side by side",
                   "s", "lower", "harness", t_bare)
        b.figs.add("harness.make_warm.ratio", "warm `make` / bare boots", "x", "lower",
                   "harness", t_make / t_bare)
        rep += 1


def _slug(name: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in name.split(" (")[0]).split())


def port_patch(paths: Paths) -> Path:
    """The patch of the series that adds PORT_FILE."""
    for name in paths.series.read_text().split():
        patch = paths.patches / name
        if patch.is_file() and f"+++ b/{PORT_FILE}\n" in patch.read_text():
            return patch
    raise InfraError(f"no patch of {paths.series} adds {PORT_FILE}")


def edit_patch(text: str, mark: str) -> str:
    """The patch with one comment line of PORT_FILE changed (the hunk's
    line counts unchanged): `mark` appended to its first "+ * " line
    after the file's header, or a mark of an earlier edit removed."""
    lines = text.split("\n")
    start = lines.index(f"+++ b/{PORT_FILE}")
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("diff --git"):
            break
        if lines[i].startswith("+ * ") or lines[i] == "+ *":
            base = lines[i].split(" [tgtsim bench ")[0]
            lines[i] = base + (f" [tgtsim bench {mark}]" if mark else "")
            return "\n".join(lines)
    raise InfraError(f"no comment line of {PORT_FILE} in its patch")


def incremental_part(b: Bench) -> None:
    """`make` after a one-line change of the port's scsi_tgt_lib.c against
    the kernel's own make after touching it. The edits are one-line comment
    changes, the last one the original text again."""
    p, prof = b.paths, b.opts.profile
    patch = port_patch(p)
    original = patch.read_text()
    kb = p.kbuild(prof)
    frags = profiles.fragments(p.profiles, prof)
    opts = build.ccache_options(b.opts.use_ccache) + coverage.build_options(p, prof)
    kmake = ["make", "ARCH=um", f"O={kb}", f"--jobs={b.opts.jobs}", *opts, "all"]
    try:
        for rep in range(b.opts.reps):
            last = rep == b.opts.reps - 1
            patch.write_text(original if last else edit_patch(original, str(rep + 1)))
            with b.progress.step(f"bench: incremental make {rep + 1}/{b.opts.reps}"):
                t_make, rc = timed(make_cmd(p, prof, b.opts.jobs),
                                   b.out / f"make-incremental-{rep}.log", env=clean_env())
            make_ok(rc, b.out / f"make-incremental-{rep}.log", "make")
            os.utime(p.linux / PORT_FILE)
            with b.progress.step(f"bench: kernel make {rep + 1}/{b.opts.reps}"):
                t_kernel, rc = timed(kmake, b.out / f"kernel-make-{rep}.log", cwd=p.linux,
                                     env=clean_env(build.build_env(p)))
            if rc != 0:
                raise InfraError(f"the kernel's make failed (exit {rc}, log "
                                 f"{b.out / f'kernel-make-{rep}.log'})")
            # the same inputs as tgtsim's build: its stamp still holds
            build.write_stamp(kb, build.inputs_digest(p.linux, frags, opts))
            b.figs.add("harness.make_incremental.s",
                       f"`make` ({prof}) after a one-line change of {PORT_FILE}", "s",
                       "lower", "harness", t_make)
            b.figs.add("harness.make_incremental.kernel_s",
                       "the kernel's own make after touching it", "s", "lower", "harness",
                       t_kernel)
            b.figs.add("harness.make_incremental.ratio", "incremental `make` / kernel's make",
                       "x", "lower", "harness", t_make / t_kernel)
    finally:
        if patch.read_text() != original:
            patch.write_text(original)
            b.progress.info(f"bench: {patch.name} restored; the next `make` rebuilds it")


def _git(repo: Path, *args: str, env: Optional[dict[str, str]] = None,
         input: Optional[str] = None) -> str:
    """git in `repo` with extra environment (Git.run has none)."""
    cp = subprocess.run(["git", "-C", str(repo), *args], env={**git_env(), **(env or {})},
                        input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, errors="backslashreplace")
    if cp.returncode != 0:
        raise InfraError(f"git {' '.join(args[:2])} failed in {repo}: "
                         + (cp.stderr.strip().splitlines() or [f"exit {cp.returncode}"])[-1])
    return cp.stdout.strip()


def _git_long(repo: Path, *args: str) -> None:
    """A long git command, killed with the others on an interrupt."""
    res = run_watched(["git", "-C", str(repo), *args], env=git_env())
    if res.returncode != 0:
        raise InfraError(f"git {' '.join(args[:2])} failed in {repo}: "
                         + ([ln for ln in res.lines if ln.strip()] or
                            [f"exit {res.returncode}"])[-1])


SCRATCH_MARK = "tgtsim-bench-base"    # in the scratch clone's .git: written last
# loose objects in build/linux above which its clone is repacked: a tree
# made before the base went into one pack (kernel_source.create)
LOOSE_LIMIT = 20000


def _packed_clone_of(src: Path, commit: str) -> bool:
    """`src` is a finished scratch tree holding `commit` (its mark, written
    last, names it)."""
    try:
        mark = (src / ".git" / SCRATCH_MARK).read_text().strip()
    except OSError:
        return False
    return mark == commit and Git(src).resolve(commit) is not None


def loose_objects(repo: Path) -> int:
    """How many loose objects `repo` has (git count-objects)."""
    for line in _git(repo, "count-objects", "-v").splitlines():
        key, _, value = line.partition(":")
        if key == "count":
            return int(value)
    return 0


def scratch_src(p: Paths) -> Path:
    return p.build / BENCH_SUBDIR / "src"


def pack_scratch(p: Paths, progress: Progress, base: str) -> Path:
    """build/bench/src: a clone of build/linux (no work tree) holding its
    base, its objects packed, as in a kernel git tree a user bisects (a
    checkout from 80,000 loose objects takes 2.5 times as long).
    build/linux keeps its base in one pack (kernel_source.create): the
    clone hard-links it, a second or two; a tree made before that is
    cloned and repacked (about 25 s), its objects its own. Made once:
    kept for the next bench while it holds the base."""
    src = scratch_src(p)
    if not _packed_clone_of(src, base):
        if src.exists():
            shutil.rmtree(src)
        src.parent.mkdir(parents=True, exist_ok=True)
        with progress.step("bench: scratch kernel tree (made once, kept)"):
            repack = loose_objects(p.linux) > LOOSE_LIMIT
            _git_long(p.linux, "clone", "-q", "--shared" if repack else "--local",
                      "--no-checkout", str(p.linux), str(src))
            if repack:
                _git_long(src, "-c", "pack.compression=0", "repack", "-q", "-a", "-d",
                          "--window=0", "--depth=0")
                (src / ".git/objects/info/alternates").unlink()
            (src / ".git" / SCRATCH_MARK).write_text(base + "\n")
    return src


def start_packing(b: Bench) -> None:
    """The first bench of a checkout makes the scratch tree (pack_scratch)
    beside the kernel part's build of the bench profile: both are setup,
    and settle() waits for it before anything is timed."""
    if "bisect" not in b.opts.parts:
        return
    base = prepare.load_state(b.paths.linux).base_commit
    if _packed_clone_of(scratch_src(b.paths), base):
        return

    def pack() -> None:
        try:
            pack_scratch(b.paths, b.progress, base)
        except TgtsimError as e:       # the bisect part tries again and says why
            b.progress.info(f"bench: packing the scratch tree: {e.message}")

    b.packing = Background(pack)
    b.packing.start()


def settle(b: Bench) -> None:
    """Nothing runs beside what is timed next: the packing has ended."""
    if b.packing is not None:
        job, b.packing = b.packing, None
        job.wait()


def scratch_tree(b: Bench) -> tuple[Path, str, str]:
    """The packed scratch tree (pack_scratch) with two commits to bisect
    over: the base A and B = A + a comment in drivers/scsi/scsi_lib.c,
    made without a work tree."""
    a = prepare.load_state(b.paths.linux).base_commit
    src = pack_scratch(b.paths, b.progress, a)
    path = "drivers/scsi/scsi_lib.c"
    text = _git(src, "show", f"{a}:{path}") + "\n/* tgtsim bench: a commit to bisect over */\n"
    blob = _git(src, "hash-object", "-w", "--stdin", input=text)
    env = {"GIT_INDEX_FILE": str(src / ".git" / "bench-index")}
    _git(src, "read-tree", a, env=env)
    _git(src, "update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = _git(src, "write-tree", env=env)
    Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    bb = _git(src, "commit-tree", tree, "-p", a, "-m", "tgtsim bench: a comment in scsi_lib.c")
    return src, a, bb


def _mount(path: Path, table: Path = Path("/proc/mounts")) -> tuple[str, list[str]]:
    """The type and options of the mount holding `path` ("" if unknown)."""
    try:
        lines = table.read_text().splitlines()
    except OSError:
        return "", []
    best, kind, opts = "", "", []
    for line in lines:
        f = line.split()
        if len(f) < 4:
            continue
        mnt = f[1].replace("\\040", " ")
        inside = str(path) == mnt or str(path).startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) >= len(best):
            best, kind, opts = mnt, f[2], f[3].split(",")
    return kind, opts


def mem_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _free(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def check_scratch(given: Optional[Path]) -> Optional[Path]:
    """--scratch, absolute; a usage error, before anything is measured,
    when it is not a writable directory that allows exec."""
    if given is None:
        return None
    d = Path(os.path.abspath(given))
    if not d.is_dir() or not os.access(d, os.W_OK | os.X_OK):
        raise UsageError(f"--scratch {given}: not a writable directory")
    if "noexec" in _mount(d.resolve())[1]:
        raise UsageError(f"--scratch {given}: its filesystem does not allow exec "
                         "(the bisect steps run the UML binary they build there)")
    return d


def scratch_place(p: Paths, given: Optional[Path]) -> tuple[Optional[Path], str]:
    """Where the bisect part's build directory goes: a directory to make a
    private one in (removed when the part ends), or None for
    build/bench/bisect; and the sentence bench.md says about it. /dev/shm
    when it is a tmpfs that allows exec and has the room (with the memory
    to back it): the clone and the build write 1.8 GB, which on this
    2-core VM's disk costs 10 s per checkout and 11 s per removal. Stale
    directories of killed benches there are removed before the room is
    measured."""
    given = check_scratch(given)
    if given is not None:
        _remove_stale(given)
        kind = _mount(given.resolve())[0] or "?"
        return given, f"in {given} ({kind}, --scratch)"
    disk = f"on disk, in {p.build / BENCH_SUBDIR / 'bisect'}"
    kind, opts = _mount(SHM)
    if kind != "tmpfs":
        return None, f"{disk} ({SHM} is not a tmpfs)"
    if "noexec" in opts:
        return None, f"{disk} ({SHM} does not allow exec)"
    _remove_stale(SHM)
    free, avail = _free(SHM), mem_available()
    if min(free, avail) < SCRATCH_NEED:
        return None, (f"{disk} ({SHM}: {free / 2**30:.1f} GiB free, {avail / 2**30:.1f} GiB "
                      f"of memory available; it needs {SCRATCH_NEED >> 30} GiB)")
    return SHM, f"on tmpfs, in {SHM} (removed when the part ended)"


def _remove_stale(base: Path) -> None:
    """Private scratch directories of benches that were killed: ours (by
    owner), real directories (not symlinks), of a process that is gone;
    and one of this process's pid (left by an earlier process that had
    it)."""
    for d in base.glob(SCRATCH_PREFIX + "*"):
        try:
            st = d.lstat()
            pid = int(d.name[len(SCRATCH_PREFIX):])
        except (ValueError, OSError):
            continue
        if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
            continue
        if pid != os.getpid():
            try:
                os.kill(pid, 0)
                continue            # alive
            except ProcessLookupError:
                pass
            except OSError:
                continue
        shutil.rmtree(d, ignore_errors=True)


def _private_dir(base: Path) -> Path:
    """base/tgtsim-bench-<pid>, made by us, mode 0700: in a world-writable
    /dev/shm, a directory or symlink someone else put under that name is
    refused, not used."""
    own = base / f"{SCRATCH_PREFIX}{os.getpid()}"
    try:
        os.mkdir(own, 0o700)
    except OSError as e:
        raise InfraError(f"cannot create the bench's scratch directory {own}: "
                         f"{e.strerror or e}") from None
    return own


def bisect_part(b: Bench) -> None:
    """A cold bisect-step (empty build directory) against the next one,
    one commit later, in the same directory; `reps` times."""
    p = b.paths
    src, a, bb = scratch_tree(b)
    base, where = scratch_place(p, b.opts.scratch)
    own: Optional[Path] = None
    if base is None:
        bdir = p.build / BENCH_SUBDIR / "bisect"
    else:
        own = _private_dir(base)
        bdir = own / "bisect"
    b.meta["bisect_scratch"] = where
    b.progress.info(f"bench: bisect-step builds {where}")
    # ccache keys with paths relative to the build directory's parent: the
    # same entries wherever it is
    env = clean_env({"CCACHE_BASEDIR": str(bdir.parent)})
    launcher = p.root / "tools" / "bin" / "tgtsim"
    runs = b.out / "bisect-out"
    try:
        for rep in range(b.opts.reps):
            if bdir.exists():
                shutil.rmtree(bdir)
            took = []
            for step, commit in (("cold", a), ("second", bb)):
                cmd = [str(launcher), "--build-dir", str(bdir), "--out", str(runs),
                       "--jobs", str(b.opts.jobs), "bisect-step", "--kernel-src", str(src),
                       "--commit", commit, *BISECT_ARGS]
                log = b.out / f"bisect-{rep}-{step}.log"
                before = report.latest(runs)
                with b.progress.step(f"bench: bisect-step {step} {rep + 1}/{b.opts.reps}"):
                    t, rc = timed(cmd, log, env=env)
                if rc != 0:
                    raise InfraError(f"bisect-step at {commit[:12]} exited {rc} (log {log})")
                took.append(t)
                latest = report.latest(runs)
                steps: list[dict[str, Any]] = []
                if latest is not None and latest != before:
                    steps = list(report.load(latest)[1].steps or [])
                for name, secs in step_breakdown(steps, t, OUTSIDE_STEP):
                    b.figs.add(f"harness.bisect.{step}.step.{_slug(name)}",
                               f"{step} bisect-step: {name}", "s", "lower", f"bisect_{step}",
                               secs)
            b.figs.add("harness.bisect.cold_s", "a cold `bisect-step` (empty build directory)",
                       "s", "lower", "harness", took[0])
            b.figs.add("harness.bisect.second_s", "the next step, one commit later", "s",
                       "lower", "harness", took[1])
            b.figs.add("harness.bisect.ratio", "second step / cold step", "x", "lower",
                       "harness", took[1] / took[0])
    finally:
        if own is not None:
            shutil.rmtree(own, ignore_errors=True)


# -- outputs -------------------------------------------------------------------------

def plot(out: Path, figs: benchfig.Figures) -> Optional[str]:
    """bench.svg with gnuplot; the error, if any."""
    data, present = benchfig.plot_data(figs)
    (out / "bench.dat").write_text(data)
    (out / "bench.gp").write_text(benchfig.plot_script("bench.dat", "bench.svg", present))
    gp = shutil.which("gnuplot")
    if gp is None:
        return "gnuplot not found (tgtsim deps --install installs gnuplot-nox): no bench.svg"
    cp = subprocess.run([gp, "bench.gp"], cwd=out, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    if cp.returncode != 0:
        return f"gnuplot failed: {cp.stdout.strip()[-500:]}"
    return None


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def write(b: Bench, meta: dict[str, Any]) -> int:
    # the 10-minute limit is for a whole `make bench`
    whole = set(b.opts.parts) == set(PARTS)
    chk = benchfig.checks(b.figs, meta.get("duration_s") if whole else None)
    meta = {**meta, "errors": b.errors}
    err = plot(b.out, b.figs) if len(b.figs) else None
    if err:
        b.errors.append(err)
    d = benchfig.to_json(b.figs, meta, b.kernel, chk)
    (b.out / "bench.json").write_text(json.dumps(d, indent=1) + "\n")
    (b.out / "bench.md").write_text(benchfig.markdown(b.figs, b.kernel, chk, meta))
    link = b.out.parent / "latest"
    tmp = b.out.parent / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(b.out.name)
    tmp.replace(link)
    return EXIT_INFRA if err or b.failed else EXIT_OK


def compare_files(old: Path, new: Path, out: Optional[Path], progress: Progress) -> int:
    changes, only = benchfig.compare(benchfig.load(old), benchfig.load(new))
    text = benchfig.compare_md(changes, only, old)
    if out is not None:
        (out / "compare.md").write_text(text)
    worse = [c for c in changes if c.worse]
    for c in worse:
        progress.info(f"bench: worse: {c.label} ({c.key}): {benchfig.fmt(c.old)} -> "
                      f"{benchfig.fmt(c.new)} {c.unit} (cost x{c.cost:.2f})")
    note = benchfig.gauge_note(changes)
    if note:
        progress.info(f"bench: {note}")
    sys.stdout.write(f"compare: {len(changes)} figures, {len(worse)} more than "
                     f"{round((benchfig.WORSE - 1) * 100)} % worse than {old}\n")
    return EXIT_TEST_FAILURE if worse else EXIT_OK


def run_bench(paths: Paths, opts: Options, progress: Progress) -> int:
    if opts.against is not None:
        if opts.compare is None:
            raise UsageError("--against needs --compare OLD.json")
        return compare_files(opts.compare, opts.against, None, progress)
    if opts.compare is not None:
        benchfig.load(opts.compare)          # a bad file: fail before measuring
    unknown = set(opts.parts) - set(PARTS)
    if unknown:
        raise UsageError(f"unknown bench part(s): {', '.join(sorted(unknown))} "
                         f"(parts: {', '.join(PARTS)})")
    if "bisect" in opts.parts:
        opts.scratch = check_scratch(opts.scratch)
    if opts.reps < 3:
        progress.info(f"bench: {opts.reps} repetitions (min/median/max want at least 3)")
    profiles.fragments(paths.profiles, opts.profile)
    out = new_dir(paths.out)
    b = Bench(paths, opts, progress, out)
    started = time.time()
    meta: dict[str, Any] = {"id": out.name, "when": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                  time.gmtime(started)),
                            "started": round(started, 1), "reps": opts.reps,
                            "min_ms": opts.min_ms, "profile": opts.profile,
                            "parts": list(opts.parts), "load": load_avg(),
                            "jobs": opts.jobs}
    progress.info(f"bench: {out} ({', '.join(opts.parts)}; load {meta['load']})")
    steps: list[tuple[str, Callable[[Bench], None]]] = [
        ("kernel", kernel_part), ("make", make_part), ("incremental", incremental_part),
        ("bisect", bisect_part)]
    try:
        prepare.keep_base(paths, progress)
        start_packing(b)
        for name, fn in steps:
            if name not in opts.parts:
                continue
            if name != "kernel":       # the kernel part settles after its build
                settle(b)
            t0 = time.monotonic()
            try:
                fn(b)
            except TgtsimError as e:
                b.errors.append(f"{name}: {e.message}")
                b.failed = True
                progress.info(f"bench: {name}: {e.message}")
            meta[f"{name}_s"] = round(time.monotonic() - t0, 1)
    finally:
        if b.packing is not None:      # interrupted, or the kernel part failed early
            b.packing.abandon()
            b.packing = None
        meta["duration_s"] = round(time.time() - started, 1)
        meta["load_end"] = load_avg()
        meta.update(b.meta)
        rc = write(b, meta)
    sys.stdout.write((out / "bench.md").read_text().split("\n## What")[0].rstrip() + "\n")
    sys.stdout.write(f"bench: {out}/bench.md, bench.json, bench.svg\n")
    if opts.compare is not None:
        crc = compare_files(opts.compare, out / "bench.json", out, progress)
        rc = rc or crc
    return rc
