"""A run of tgtsim, its stages in the order they flow:

    prepare -> build -> boot -> analyse -> report -> (coverage, gate)

main_job() is `tgtsim all` (and `make`): deps, prepare, build, then
run_profile(): boot (boots.py: the KUnit boot and the selftest boot beside
it), analyse (analysis.py), the coverage stage for a measured profile
(coverage.py, decided once by coverage.for_profile), the reports
(report.py). Each stage takes typed inputs and returns typed results; this
module only hands them on. A panic, an oops, a hang or truncated KTAP is a
reported failure (exit 3), like a build or tool failure; the run's Status
says whose.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from tgtsim import analysis, build, coverage, deps, ktap, page, prepare, profiles, provenance
from tgtsim import repeat, report, runindex, selftest_build
from tgtsim.boots import CONSOLE, SELFTEST_CONSOLE, boot_all
from tgtsim.errors import BuildError, InfraError
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.repeat import Stability
from tgtsim.report import RunInfo
from tgtsim.results import Crash, Results
from tgtsim.uml import BootOptions, BootResult, Uml

# the log a crash's tail comes from, by the step that failed
CRASH_LOGS = {"kernel": CONSOLE, "selftests": SELFTEST_CONSOLE,
              "selftests-build": selftest_build.BUILD_LOG,
              "coverage": "coverage/coverage.log"}


@dataclass
class JobOptions:
    """The main job: `tgtsim all`."""
    profile: str
    boot: BootOptions = field(default_factory=BootOptions)
    coverage: coverage.Options = field(default_factory=coverage.Options)
    deps: bool = True
    use_ccache: bool = True
    kernel_src: Optional[str] = None
    kernel_ref: Optional[str] = None
    keep: int = runindex.DEFAULT_KEEP      # runs out/index.html keeps
    cell: Optional[str] = None          # the matrix cell this run is (provenance)
    repeat: int = 1                     # boots of the same kernel (repeat.py)


def kunit_dir(paths: Paths) -> Path:
    return ktap.locate([paths.kunit_tool], paths.tarball, paths.build)


def main_job(paths: Paths, opts: JobOptions, progress: Progress) -> Results:
    """deps --install, prepare, build, run; a prepare or build failure is
    recorded as a run (its reports in out/latest) and raised."""
    cov = prepare_and_build(paths, opts, progress)
    if cov is not None:
        cov.reset()
    return run_profile(paths, opts.profile, opts.boot, progress, cov, keep=opts.keep,
                       cell=opts.cell)


def job(paths: Paths, opts: JobOptions, progress: Progress) -> Results | Stability:
    """`tgtsim all` and `tgtsim coverage`: the main job, or with --repeat N
    its N runs after one build."""
    if opts.repeat <= 1:
        return main_job(paths, opts, progress)
    cov = prepare_and_build(paths, opts, progress)
    return repeat_profile(paths, opts.profile, opts.boot, progress, opts.repeat, cov,
                          keep=opts.keep, cell=opts.cell)


def prepare_and_build(paths: Paths, opts: JobOptions, progress: Progress
                      ) -> Optional[coverage.Coverage]:
    """deps, prepare, build; the coverage stage of a measured profile."""
    profile = opts.profile
    profiles.fragments(paths.profiles, profile)   # fail fast on a bad profile
    cov = coverage.for_profile(paths, profile, progress, opts.coverage)   # bad thresholds: early
    if opts.deps:
        deps.run_deps(True, progress)
    try:
        prepare.prepare(paths, progress, opts.kernel_src, opts.kernel_ref)
    except BuildError as e:
        record_failure(paths, profile, "prepare", e.message, e.detail, progress,
                       keep=opts.keep, cell=opts.cell, seed=opts.boot.seed)
        raise
    if cov is not None:
        cov.check_scope()
    try:
        build.build(paths, profile, progress, opts.boot.jobs, opts.use_ccache,
                    make_options=cov.make_options() if cov is not None else [])
    except BuildError as e:
        d = record_failure(paths, profile, "build", e.message, e.detail, progress,
                           {"build.log": paths.kbuild(profile) / "build.log"},
                           keep=opts.keep, cell=opts.cell, seed=opts.boot.seed)
        e.message += f"\n  reports: {d}"
        raise
    return cov


def repeat_profile(paths: Paths, profile: str, opts: BootOptions, progress: Progress,
                   n: int, cov: Optional[coverage.Coverage] = None,
                   keep: int = runindex.DEFAULT_KEEP, cell: Optional[str] = None) -> Stability:
    """`--repeat N`: N runs of the built kernel (with the coverage stage,
    counters zeroed before each), compared case by case (repeat.py)."""
    def one() -> Results:
        if cov is not None:
            cov.reset()
        return run_profile(paths, profile, opts, progress, cov, keep=keep, cell=cell)
    return repeat.repeat(paths.out, profile, n, one, progress)


def expect_kmemleak(kernel: Uml, opts: BootOptions) -> bool:
    """The end-of-run leak scan is a suite: --filter may leave it out."""
    return kernel.has_kmemleak() and not opts.filter_glob


def run_profile(paths: Paths, profile: str, opts: BootOptions, progress: Progress,
                cov: Optional[coverage.Coverage] = None,
                keep: int = runindex.DEFAULT_KEEP, cell: Optional[str] = None) -> Results:
    """Boot the built kernel of `profile`, analyse, collect coverage (after
    all boots of the run), write the reports."""
    profiles.fragments(paths.profiles, profile)  # unknown profile -> exit 2
    kb = paths.kbuild(profile)
    binary = kb / "linux"
    if not binary.is_file():
        raise InfraError(f"no kernel built for profile '{profile}' ({binary}): "
                         f"run `tgtsim build {profile}` first")
    kdir = kunit_dir(paths)
    run_dir = report.new_run_dir(paths.out, profile)
    if (kb / "build.log").is_file():
        _copy(kb / "build.log", run_dir / "build.log")
    started = time.time()
    kernel = Uml(binary, progress)
    programs = selftest_build.build(paths, run_dir, opts.jobs, progress) \
        if opts.selftests else None
    boots = boot_all(kernel, opts, run_dir, paths.selftests_init, programs, progress,
                     f"boot {profile}")
    expect = expect_kmemleak(kernel, opts)
    results = analysis.analyse(boots.kunit, boots.selftests, kdir, expect, ktap_dir=run_dir)
    info = RunInfo(run_id=run_dir.name, profile=profile, started=started,
                   duration=round(boots.kunit.duration, 1), kernel_args=boots.kunit.args,
                   returncode=boots.kunit.returncode, expect_kmemleak=expect,
                   selftests=boots.selftests, seed=opts.seed,
                   provenance=provenance.collect(paths, profile, cell, opts.seed))
    notes: list[str] = []
    if cov is not None:
        collected = cov.collect(run_dir)
        info.coverage = collected.entry
        results.add([], [], collected.crash)
        notes = coverage.apply(results, collected.entry)
    return finish(paths, run_dir, results, info, notes, progress, keep=keep)


BootFn = Callable[[Path, Path, Path], Results]


def scratch_boot(paths: Paths, opts: BootOptions, progress: Progress) -> BootFn:
    """The boot of a scratch-tree build (mutants, planted bugs):
    `boot_fn(binary, run_dir, kunit_dir)` boots KUnit and, with
    `opts.selftests`, the selftests beside it, the console, KTAP and
    selftest files in run_dir, analysed like any run. The selftests are
    built once, on the first call: they depend on sim_lld's uapi header and
    the tree's kselftest harness, which no scratch tree changes."""
    built: list[selftest_build.Programs] = []

    def boot_fn(binary: Path, run_dir: Path, kdir: Path) -> Results:
        if opts.selftests and not built:
            built.append(selftest_build.build(paths, run_dir, opts.jobs, progress))
        kernel = Uml(binary, progress)
        boots = boot_all(kernel, opts, run_dir, paths.selftests_init,
                         built[0] if built else None, progress,
                         f"boot {binary.parent.name}")     # kbuild/PROFILE/linux
        return analysis.analyse(boots.kunit, boots.selftests, kdir,
                                expect_kmemleak(kernel, opts), ktap_dir=run_dir)
    return boot_fn


def finish(paths: Paths, run_dir: Path, res: Results, info: RunInfo, notes: Sequence[str],
           progress: Progress, switch: bool = True,
           keep: int = runindex.DEFAULT_KEEP) -> Results:
    """Write the reports and the run's page, switch out/latest, keep the
    newest `keep` runs in out/index.html, print the summary."""
    if info.steps is None and progress.timings.session:
        info.steps = list(progress.timings.session)
    report.write(run_dir, res, info, notes)
    page.write(run_dir)
    if switch:
        report.switch_latest(paths.out, run_dir)
    runindex.update(paths.out, keep)
    text = report.summary_text(res, notes=notes).rstrip("\n")
    body, closing = text.rsplit("\n", 1) if "\n" in text else ("", text)
    if res.crash:
        log = CRASH_LOGS.get(res.crash.where, "build.log")
        sys.stdout.flush()
        sys.stderr.write(f"tgtsim: error: {res.crash.reason}\n"
                         f"--- last {len(res.crash.tail)} lines of {run_dir}/{log} ---\n"
                         + "".join(f"  {ln}\n" for ln in res.crash.tail) + "---\n")
        sys.stderr.flush()
    if body:
        sys.stdout.write(body + "\n")
    color = "green" if res.exit_code() == 0 else "red"
    sys.stdout.write(f"reports: {run_dir}\n")
    sys.stdout.write(f"page: {run_dir / page.PAGE}\n")
    sys.stdout.write(progress.paint(closing, color) + "\n")
    sys.stdout.flush()
    return res


def _copy(src: Path, dest: Path) -> None:
    """A full disk or a read-only out/ is an InfraError."""
    try:
        shutil.copyfile(src, dest)
    except OSError as e:
        raise InfraError(f"cannot write {dest}: {e.strerror or e}") from None


def record_failure(paths: Paths, profile: str, where: str, message: str, detail: str,
                   progress: Progress, logs: Optional[dict[str, Path]] = None,
                   keep: int = runindex.DEFAULT_KEEP,
                   cell: Optional[str] = None, seed: Optional[int] = None) -> Path:
    """A run directory for a run that failed before booting (prepare, build)."""
    run_dir = report.new_run_dir(paths.out, profile)
    for name, src in (logs or {}).items():
        if src.is_file():
            _copy(src, run_dir / name)
    res = Results(crash=Crash(reason=f"{where} failed: {message}",
                              tail=detail.splitlines()[-60:], where=where))
    info = RunInfo(run_id=run_dir.name, profile=profile, started=time.time(),
                   failed_step=where, steps=list(progress.timings.session) or None,
                   provenance=provenance.collect(paths, profile, cell, seed))
    report.write(run_dir, res, info)
    page.write(run_dir)
    report.switch_latest(paths.out, run_dir)
    runindex.update(paths.out, keep)
    return run_dir


def reanalyze(paths: Paths, run_dir: Path, progress: Progress,
              keep: int = runindex.DEFAULT_KEEP) -> Results:
    """`tgtsim report`: re-parse a run's consoles and rewrite its reports."""
    res, info = report.load(run_dir)
    if (run_dir / CONSOLE).is_file() and info.failed_step is None:
        hang = ""
        if res.crash and res.crash.reason.startswith(("kernel hang", "kernel timeout")):
            hang = res.crash.reason
        kunit = BootResult(args=info.kernel_args or [], lines=[],
                           returncode=info.returncode if info.returncode is not None else 0,
                           duration=info.duration or 0.0, hang=hang)
        fresh = analysis.reread(run_dir, kunit, info.selftests, kunit_dir(paths),
                                bool(info.expect_kmemleak))
        if fresh is not None:
            res = fresh
    notes = coverage.apply(res, info.coverage) if info.coverage else []
    is_latest = report.latest(paths.out) == run_dir.resolve()
    return finish(paths, run_dir, res, info, notes, progress, switch=is_latest, keep=keep)
