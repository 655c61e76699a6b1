"""Command line: a table of commands, argument parsing, exit codes, no
tracebacks. Each command turns its arguments into the typed options of the
module that does the work and maps what it returns to an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn, Optional, Sequence

from tgtsim import (__version__, bench, bisect, bisect_check, build, chunktrace, coverage, covgate,
                    deps, lint, matrix, merge, mutants, planted, prepare, refresh, report, run,
                    runindex, shard)
from tgtsim.errors import EXIT_INFRA, EXIT_USAGE, TgtsimError, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths, find_repo_root
from tgtsim.procs import install_signal_handlers, interrupted
from tgtsim.progress import Progress, Timings
from tgtsim.uml import SEED_MAX, BootOptions

EPILOG_EXIT = ("exit codes: 0 all passed, 1 test failure, 2 usage/config error, "
               "3 build or infrastructure error (compile error, patch does not apply, "
               "kernel crash/panic/hang, missing tool), 130 interrupted")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n"
                              f"(see `{self.prog} --help`)\n")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return v


def _seed(text: str) -> int | str:
    if text == "random":
        return text
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number nor `random`: {text!r}") from None
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be in 0..{SEED_MAX}: {text}")
    return v


def pick_seed(args: argparse.Namespace, progress: Progress) -> None:
    """`--seed random`: the seed of this run, printed before anything else."""
    if getattr(args, "seed", None) == "random":
        args.seed = random.SystemRandom().randint(1, SEED_MAX)
        progress.info(f"seed {args.seed} (--seed random; `--seed {args.seed}` repeats "
                      "this run's random sequences)")


def _percent(text: str) -> float:
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= v <= 100:
        raise argparse.ArgumentTypeError(f"must be in 0..100: {text}")
    return v


def _jobs_default() -> int:
    try:
        return int(os.environ.get("JOBS", "")) or os.cpu_count() or 2
    except ValueError:
        return os.cpu_count() or 2


# -- options shared by several commands ------------------------------------

def _source_opts(sp: Parser) -> None:
    sp.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                    metavar="PATH", help="a Linux 6.12 git tree to use as base instead of "
                    "the Debian tarball (default: $KERNEL_SRC)")
    sp.add_argument("--kernel-ref", default=os.environ.get("KERNEL_REF") or None,
                    metavar="REF", help="ref of --kernel-src to use (default: $KERNEL_REF "
                    "or HEAD)")


def _ccache_opt(sp: Parser) -> None:
    sp.add_argument("--no-ccache", action="store_true", help="do not use ccache")


def _run_opts(sp: Parser, idle_default: float = 120.0) -> None:
    sp.add_argument("--timeout", type=_positive_float, default=600.0, metavar="S",
                    help="kill the kernel after S seconds (default 600)")
    sp.add_argument("--idle-timeout", type=_positive_float, default=idle_default, metavar="S",
                    help="kill the kernel after S seconds without output "
                    f"(default {idle_default:g})")
    sp.add_argument("--filter", dest="filter_glob", default="", metavar="GLOB",
                    help="run only matching tests (kunit.filter_glob, e.g. 'scsi*')")
    sp.add_argument("--seed", type=_seed, default=None, metavar="N|random",
                    help="seed of every seeded test: tgt_kunit.seed=N and "
                    "sim_lld_kunit.seed=N (KUnit), tgtsim_seed=N (selftests); `random` "
                    f"picks one in 1..{SEED_MAX}, prints it first and records it in "
                    "results.json (`seed`)")
    sp.add_argument("--kernel-arg", dest="kernel_args", action="append", default=[],
                    metavar="ARG", help="extra kernel command line argument (repeatable)")
    sp.add_argument("--no-selftests", dest="selftests", action="store_false",
                    help="skip the kselftest boot beside the KUnit boot")
    sp.add_argument("--selftest-timeout", type=_positive_float, default=300.0, metavar="S",
                    help="kill the selftest boot after S seconds (default 300; each "
                    "program gets min(S, 120))")
    sp.add_argument("--selftest-filter", default="", metavar="GLOB",
                    help="run only the selftest programs matching GLOB (e.g. '003*')")
    sp.add_argument("--trace-chunks", action="store_true",
                    help="the chunk-sequence tests print the chunk traces of passing "
                    "commands too (failing ones always do); the run's page draws them")


def _keep_opt(sp: Parser) -> None:
    sp.add_argument("--keep", type=_positive_int, default=runindex.DEFAULT_KEEP, metavar="N",
                    help="keep the newest N runs in out/runs and out/index.html "
                    f"(default {runindex.DEFAULT_KEEP}; never the one out/latest points to)")


def _repeat(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= v <= 1000:
        raise argparse.ArgumentTypeError(f"must be in 1..1000: {text}")
    return v


def _repeat_opt(sp: Parser) -> None:
    sp.add_argument("--repeat", type=_repeat, default=1, metavar="N",
                    help="boot the same kernel N times and report every case (and, for the "
                    "coverage profile, every patch line) that did not give the same result "
                    "each time (out/repeat/<id>/stability.txt); exit 1 if one did not")


def _job_opts(sp: Parser) -> None:
    sp.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    _ccache_opt(sp)
    _source_opts(sp)
    _run_opts(sp)
    _keep_opt(sp)
    _repeat_opt(sp)


def boot_options(args: argparse.Namespace) -> BootOptions:
    return BootOptions(timeout=args.timeout, idle_timeout=args.idle_timeout,
                       filter_glob=args.filter_glob, seed=args.seed,
                       kernel_args=list(args.kernel_args)
                       + (list(chunktrace.KERNEL_ARGS) if args.trace_chunks else []),
                       selftests=args.selftests,
                       selftest_timeout=args.selftest_timeout,
                       selftest_filter=args.selftest_filter, jobs=args.jobs)


def job_options(args: argparse.Namespace) -> run.JobOptions:
    given = vars(args)    # the coverage report options exist for `coverage` only
    return run.JobOptions(
        profile=args.profile, boot=boot_options(args),
        coverage=coverage.Options(gate=not given.get("no_gate", False),
                                  html=not given.get("no_html", False),
                                  cobertura=not given.get("no_cobertura", False),
                                  jobs=args.jobs, diff_base=given.get("diff_base"),
                                  diff_base_tgtsim=given.get("diff_base_tgtsim"),
                                  fail_under=given.get("fail_under"),
                                  kernel_src=args.kernel_src),
        deps=not args.no_deps, use_ccache=not args.no_ccache,
        kernel_src=args.kernel_src, kernel_ref=args.kernel_ref,
        keep=getattr(args, "keep", runindex.DEFAULT_KEEP),
        repeat=given.get("repeat", 1))


# -- the commands ------------------------------------------------------------

def _deps_opts(sp: Parser) -> None:
    sp.add_argument("--install", action="store_true",
                    help="apt-get install the missing packages (needs root)")


def cmd_deps(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    return deps.run_deps(args.install, progress)


def cmd_prepare(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    r = prepare.prepare(paths, progress, args.kernel_src, args.kernel_ref)
    if not r.changed:
        progress.info(f"prepare: {paths.linux} up to date ({r.head[:12]})")
    return 0


def cmd_refresh(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    refresh.refresh(paths, progress)
    return 0


def _build_opts(sp: Parser) -> None:
    sp.add_argument("profile", metavar="PROFILE")
    _ccache_opt(sp)


def cmd_build(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    binary = build.build(paths, args.profile, progress, args.jobs, not args.no_ccache,
                         make_options=coverage.build_options(paths, args.profile))
    progress.info(f"build: {binary}")
    return 0


def _matrix_file_opt(sp: Parser) -> None:
    sp.add_argument("--matrix", metavar="FILE", default=None,
                    help="the matrix file (default: matrix.toml of the checkout)")


def matrix_file(paths: Paths, args: argparse.Namespace) -> Path:
    return Path(args.matrix) if args.matrix else matrix.default_path(paths.root)


def _run_cmd_opts(sp: Parser) -> None:
    sp.add_argument("profile", metavar="PROFILE", nargs="?", default=None,
                    help="the profile whose built kernel to boot (default kunit)")
    sp.add_argument("--cell", metavar="ID", help="run a cell of the matrix (its profile, "
                    "suites, selftest programs, seed and kernel arguments; see "
                    "`tgtsim matrix list`)")
    _matrix_file_opt(sp)
    _run_opts(sp)
    _keep_opt(sp)
    _repeat_opt(sp)


def cmd_run(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    if args.cell:
        path = matrix_file(paths, args)
        cell = matrix.find(matrix.load(path, paths.profiles), args.cell, path)
        if args.profile not in (None, cell.profile):
            raise UsageError(f"cell {cell.id} is of profile {cell.profile}, not {args.profile}")
        return shard.run_cell(paths, cell, boot_options(args), progress,
                              args.jobs).exit_code()
    opts = boot_options(args)
    profile = args.profile or "kunit"
    if args.repeat > 1:
        return run.repeat_profile(paths, profile, opts, progress, args.repeat).exit_code()
    return run.run_profile(paths, profile, opts, progress, keep=args.keep).exit_code()


def _matrix_opts(sp: Parser) -> None:
    sp.add_argument("action", choices=("list",), help="list: the cells with their ids")
    sp.add_argument("--cells", default="", metavar="GLOBS",
                    help="only the cells whose id matches (comma-separated globs)")
    sp.add_argument("--total", type=int, default=0, metavar="T",
                    help="also show which of T shards runs each cell")
    _matrix_file_opt(sp)


def cmd_matrix(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    path = matrix_file(paths, args)
    cells = matrix.select(matrix.load(path, paths.profiles), args.cells)
    where: dict[str, int] = {}
    if args.total:
        if args.total < 1:
            raise UsageError(f"--total must be >= 1 (got {args.total})")
        for k, part in enumerate(matrix.shares(cells, args.total), 1):
            where.update({c.id: k for c in part})
    for c in cells:
        shard_col = f"  shard {where[c.id]}/{args.total}" if where else ""
        sys.stdout.write(f"{c.id:<22} {c.profile:<9} ~{c.estimate:>4.0f} s  "
                         f"{c.describe()}{shard_col}\n")
    return 0


def _shard_opts(sp: Parser) -> None:
    sp.add_argument("--index", type=int, required=True, metavar="I",
                    help="this shard, 1..T (GitLab: $CI_NODE_INDEX)")
    sp.add_argument("--total", type=int, required=True, metavar="T",
                    help="the number of shards (GitLab: $CI_NODE_TOTAL)")
    sp.add_argument("--cells", default="", metavar="GLOBS",
                    help="shard only the cells whose id matches (comma-separated globs)")
    sp.add_argument("--dry-run", action="store_true", help="only print the shard's cells")
    _matrix_file_opt(sp)
    sp.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    _ccache_opt(sp)
    _source_opts(sp)
    sp.add_argument("--timeout", type=_positive_float, default=600.0, metavar="S",
                    help="kill a cell's kernel after S seconds (default 600)")
    sp.add_argument("--idle-timeout", type=_positive_float, default=120.0, metavar="S",
                    help="kill a kernel after S seconds without output (default 120)")
    sp.add_argument("--selftest-timeout", type=_positive_float, default=300.0, metavar="S",
                    help="kill a cell's selftest boot after S seconds (default 300)")


def cmd_shard(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    boot = BootOptions(timeout=args.timeout, idle_timeout=args.idle_timeout,
                       selftest_timeout=args.selftest_timeout, jobs=args.jobs)
    return shard.run_shard(paths, shard.ShardOptions(
        index=args.index, total=args.total, matrix_file=matrix_file(paths, args),
        cells=args.cells, boot=boot, deps=not args.no_deps, use_ccache=not args.no_ccache,
        kernel_src=args.kernel_src, kernel_ref=args.kernel_ref, dry_run=args.dry_run), progress)


def _merge_opts(sp: Parser) -> None:
    sp.add_argument("dirs", nargs="+", metavar="DIR",
                    help="directories holding the cells' run directories (out/runs of each "
                    "shard, or downloaded artifacts)")
    sp.add_argument("--out-dir", metavar="DIR", help="where to write (default: OUT/merged)")
    sp.add_argument("--no-gate", action="store_true",
                    help="report only: the merged coverage below coverage/thresholds does "
                    "not fail")
    sp.add_argument("--expect", default=None, metavar="GLOBS",
                    help="the cells that must be there (comma-separated globs of the matrix; "
                    "'*': all): a missing one is a failure")
    _matrix_file_opt(sp)


def cmd_merge(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    expect = merge.default_expect(paths, matrix_file(paths, args), args.expect) \
        if args.expect is not None else None
    out = Path(args.out_dir) if args.out_dir else paths.out / "merged"
    return merge.merge(paths, [Path(d) for d in args.dirs], out.resolve(), progress,
                       gate=not args.no_gate, expect=expect)


def _report_opts(sp: Parser) -> None:
    sp.add_argument("--run", metavar="DIR", help="run directory (default: out/latest)")
    _keep_opt(sp)


def cmd_report(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    run_dir = Path(args.run).resolve() if args.run else report.latest(paths.out)
    if run_dir is None:
        raise UsageError(f"no run yet in {paths.out} (run `tgtsim run` first)")
    return run.reanalyze(paths, run_dir, progress, keep=args.keep).exit_code()


def _all_opts(sp: Parser) -> None:
    sp.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    _job_opts(sp)


def cmd_all(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    return run.job(paths, job_options(args), progress).exit_code()


def _coverage_opts(sp: Parser) -> None:
    sp.add_argument("--no-gate", action="store_true",
                    help="report only: a coverage below coverage/thresholds does not fail")
    sp.add_argument("--no-html", action="store_true", help="skip genhtml")
    sp.add_argument("--no-cobertura", action="store_true", help="skip cobertura.xml")
    sp.add_argument("--raise-thresholds", action="store_true",
                    help="after a passing run, raise coverage/thresholds to the achieved "
                    "percentages (never lowers them)")
    sp.add_argument("--tracefile", metavar="FILE",
                    help="no build or boot: print the patch-line report and apply the gate "
                    "to this lcov tracefile (needs a prepared build/linux)")
    sp.add_argument("--diff-base", metavar="REF",
                    help="diff coverage of the kernel tree: the lines added or changed "
                    "between REF (as KERNEL_SRC names it) and the tested HEAD (your commits "
                    "plus the series); coverage/diff.txt, .md, .json, -cobertura.xml")
    sp.add_argument("--diff-base-tgtsim", metavar="REF",
                    help="the same for this checkout's sim_lld/ and kunit/ against REF "
                    "(coverage/diff-tgtsim.*)")
    sp.add_argument("--fail-under", type=_percent, metavar="PCT",
                    help="fail (exit 1) when the changed lines or their branches are "
                    "covered below PCT percent (needs --diff-base or --diff-base-tgtsim)")
    _job_opts(sp)


def cmd_coverage(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    if args.fail_under is not None and not (args.diff_base or args.diff_base_tgtsim):
        raise UsageError("--fail-under needs --diff-base REF or --diff-base-tgtsim REF")
    args.profile = coverage.PROFILE
    if args.tracefile:
        return coverage.check_tracefile(paths, Path(args.tracefile), not args.no_gate,
                                        job_options(args).coverage)
    rc = run.job(paths, job_options(args), progress).exit_code()
    if args.raise_thresholds:
        if rc != 0:
            progress.info("coverage: run not passing, thresholds left as they are")
            return rc
        latest = report.latest(paths.out)
        cov = (report.load(latest)[1].coverage if latest else None) or {}
        if "lines" not in cov:
            raise TgtsimError("no coverage figures in the latest run")
        path = coverage.thresholds_path(paths)
        text, changed = covgate.raise_thresholds(path.read_text(), cov["lines"]["percent"],
                                                 cov["branches"]["percent"])
        if changed:
            path.write_text(text)
        progress.info(f"coverage: {path}: " + ("; ".join(changed) if changed else "unchanged"))
    return rc


def _mutants_opts(sp: Parser) -> None:
    sp.add_argument("mutants", nargs="*", metavar="MUTANT",
                    help="mutant numbers or names (default: all)")
    sp.add_argument("--profile", default="kunit")
    sp.add_argument("--update-readme", action="store_true",
                    help="write the table into kunit/README.md")
    _ccache_opt(sp)
    _run_opts(sp, idle_default=60.0)


def cmd_mutants(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    opts = boot_options(args)

    def boot_for(profile: str) -> run.BootFn:
        # a mutant of its own profile (a leak for kmemleak) boots every suite,
        # the end-of-run kmemleak scan included
        own = dataclasses.replace(opts, filter_glob="") if profile != args.profile else opts
        return run.scratch_boot(paths, own, progress)

    return mutants.run(paths, args.mutants, args.profile, progress, args.jobs, boot_for,
                       update=args.update_readme, use_ccache=not args.no_ccache,
                       make_options_for=lambda p: coverage.build_options(paths, p))


def _bisect_step_opts(sp: Parser) -> None:
    sp.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    sp.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                    metavar="PATH", help="the tree being bisected (default: $KERNEL_SRC, "
                    "else the git tree of the current directory)")
    sp.add_argument("--commit", metavar="REF", help="the commit to test (default: "
                    "BISECT_HEAD of a `git bisect start --no-checkout`, else HEAD)")
    sp.add_argument("--record", metavar="FILE", help="append the step's record (commit, "
                    "verdict, seconds, failing cases, run directory) to FILE as a JSON line")
    sp.add_argument("--phase", default="bisect", choices=("bisect", "check"),
                    help=argparse.SUPPRESS)
    _ccache_opt(sp)
    _run_opts(sp)
    _keep_opt(sp)


def cmd_bisect_step(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    """Never an exit code git would take for a verdict it is not: every
    error ends in 125 (the commit cannot be tested) or 128 (abort)."""
    started = time.monotonic()
    commit, reason, failing = "", "", []
    src: Optional[str] = None
    before = report.latest(paths.out)
    try:
        src, commit = bisect.tree(args.kernel_src, args.commit)
        args.kernel_src, args.kernel_ref = src, commit
        args.no_deps = True
        progress.info(f"bisect-step: {src} at {commit[:12]}")
        opts = job_options(args)
        opts.coverage.gate = False            # the gate is no verdict on the kernel
        res = run.main_job(paths, opts, progress)
        code = bisect.verdict(res)
        failing = bisect.kernel_failures(res)
        if code not in (bisect.GOOD, bisect.BAD) and res.crash is not None:
            reason = res.crash.reason
    except TgtsimError as e:
        print_error(e)
        code, reason = bisect.error_code(e), e.message
    except KeyboardInterrupt:
        raise
    except Exception as e:    # tgtsim's own bug: no verdict on the commit
        if os.environ.get("TGTSIM_DEBUG"):
            raise
        reason = f"internal error: {type(e).__name__}: {e}"
        sys.stderr.write(f"tgtsim: {reason}\n")
        code = bisect.ABORT
    after = report.latest(paths.out)
    if args.record and commit:
        subject = ""
        if src:
            cp = Git(Path(src)).run("log", "-1", "--format=%s", commit, check=False)
            subject = cp.stdout.strip()
        bisect.record_step(Path(args.record), bisect.Step(
            commit=commit, verdict=bisect.VERDICTS[code], code=code,
            seconds=round(time.monotonic() - started, 1), subject=subject,
            failing=failing, reason=reason, phase=args.phase,
            run=str(after) if after is not None and after != before else None))
    progress.info(f"bisect-step: {commit[:12] or '?'} is {bisect.WORDS[code]}"
                  + (f": {reason}" if reason and code != bisect.BAD else ""))
    return code


def _bisect_opts(sp: Parser) -> None:
    sp.add_argument("--good", required=True, metavar="REF", help="a commit that passes")
    sp.add_argument("--bad", required=True, metavar="REF", help="a later commit that fails")
    sp.add_argument("--kernel", default=os.environ.get("KERNEL_SRC") or None, metavar="PATH",
                    help="the Linux 6.12 git tree to bisect (default: $KERNEL_SRC)")
    sp.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    _ccache_opt(sp)
    _run_opts(sp)


def bisect_step_command(paths: Paths, args: argparse.Namespace, tree: Path,
                        out: Path) -> list[str]:
    """`tgtsim bisect-step` as the driver runs it: its runs in `out`, its tree
    and build directories in build/bisect/ (reused by every step)."""
    cmd = [sys.executable, "-m", "tgtsim", "--out", str(out),
           "--build-dir", str(paths.build / "bisect"), "--jobs", str(args.jobs)]
    if args.verbose:
        cmd.append("-v")
    cmd += ["bisect-step", "--kernel-src", str(tree), "--profile", args.profile,
            "--timeout", f"{args.timeout:g}", "--idle-timeout", f"{args.idle_timeout:g}",
            "--selftest-timeout", f"{args.selftest_timeout:g}"]
    if args.filter_glob:
        cmd += ["--filter", args.filter_glob]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    for a in args.kernel_args:
        cmd += ["--kernel-arg", a]
    if not args.selftests:
        cmd.append("--no-selftests")
    if args.selftest_filter:
        cmd += ["--selftest-filter", args.selftest_filter]
    if args.no_ccache:
        cmd.append("--no-ccache")
    return cmd


def cmd_bisect(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    if not args.kernel:
        raise UsageError("bisect: name the kernel tree: --kernel PATH or KERNEL_SRC=PATH")
    tree = Path(args.kernel).expanduser().resolve()
    if not tree.is_dir():
        raise UsageError(f"bisect: {args.kernel}: no such directory")
    out = paths.out / "bisect" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    n = 1
    while out.exists():
        n += 1
        out = out.with_name(out.name.split("-")[0] + f"-{n}")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(paths.root / "tools")] + [p for p in os.environ.get("PYTHONPATH", "").split(
            os.pathsep) if p])
    step = os.environ.get("TGTSIM_BISECT_STEP")      # the tests' fake step
    opts = bisect.Options(tree=tree, good=args.good, bad=args.bad, out=out,
                          step_cmd=shlex.split(step) if step else
                          bisect_step_command(paths, args, tree, out))
    return bisect.run(opts, progress.info).exit_code


def _check_bisect_opts(sp: Parser) -> None:
    sp.add_argument("--profile", default="kunit")
    sp.add_argument("--filter", dest="filter_glob", default=bisect_check.FILTER,
                    metavar="GLOB", help=f"the suites of each step (default {bisect_check.FILTER})")
    sp.add_argument("--no-sigterm", action="store_true",
                    help="leave out the second bisection, interrupted by SIGTERM")
    sp.add_argument("--shared-ccache", action="store_true",
                    help="use your ccache, not an empty one: a quick functional run whose "
                    "first step is not cold (the ratio is reported, not checked)")
    sp.add_argument("--reuse-history", action="store_true",
                    help="the history of an earlier check-bisect (the builds are still cold)")
    sp.add_argument("--sigterm-only", action="store_true",
                    help="only the bisection interrupted by SIGTERM, on the history and "
                    "ccache of an earlier check-bisect")


def cmd_check_bisect(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    if args.sigterm_only:
        return bisect_check.run_sigterm_only(paths, progress, args.jobs, args.profile,
                                             args.filter_glob)
    return bisect_check.run(paths, progress, args.jobs, args.profile, args.filter_glob,
                            sigterm=not args.no_sigterm, reuse_history=args.reuse_history,
                            shared_ccache=args.shared_ccache)


def _planted_opts(sp: Parser) -> None:
    sp.add_argument("bugs", nargs="*", metavar="BUG",
                    help="planted bug numbers or names (default: all)")
    sp.add_argument("--port-checked", action="store_true",
                    help="do not run the port itself first (the caller has just seen it "
                    "clean under the debug profile, as `make check` does)")
    _ccache_opt(sp)
    _run_opts(sp)


def cmd_planted(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    boot_fn = run.scratch_boot(paths, boot_options(args), progress)
    return planted.run(paths, args.bugs, progress, args.jobs, boot_fn,
                       use_ccache=not args.no_ccache, check_port=not args.port_checked)


def _lint_opts(sp: Parser) -> None:
    sp.add_argument("--no-build", action="store_true",
                    help="only checkpatch (seconds instead of minutes)")


def cmd_lint(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    return lint.lint(paths, progress, args.jobs, do_build=not args.no_build)


def _bench_opts(sp: Parser) -> None:
    sp.add_argument("--profile", default=os.environ.get("PROFILE") or coverage.PROFILE,
                    help="the profile `make` builds, for the harness parts (default: $PROFILE "
                    f"or {coverage.PROFILE}, as make)")
    sp.add_argument("--reps", type=_positive_int, default=3, metavar="N",
                    help="repetitions of every figure (default 3)")
    sp.add_argument("--min-ms", type=_positive_int, default=30, metavar="MS",
                    help="least time of one repetition of a kernel figure (default 30)")
    sp.add_argument("--parts", default=",".join(bench.PARTS), metavar="LIST",
                    help="what to measure, comma-separated (default: all: "
                    f"{','.join(bench.PARTS)})")
    sp.add_argument("--compare", type=Path, metavar="OLD.json",
                    help="compare the medians with an earlier bench.json: exit 1 if a "
                    "figure is more than 20 %% worse")
    sp.add_argument("--against", type=Path, metavar="NEW.json",
                    help="with --compare: compare this bench.json instead of measuring")
    sp.add_argument("--timeout", type=_positive_float, default=900.0, metavar="S",
                    help="kill the benchmark boot after S seconds (default 900)")
    sp.add_argument("--scratch", type=Path, metavar="DIR",
                    help="where the bisect part clones and builds (a private directory, "
                    "removed after; default: /dev/shm when it is a tmpfs with 6 GiB free, "
                    "else build/bench/bisect)")
    _ccache_opt(sp)


def cmd_bench(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    opts = bench.Options(profile=args.profile, reps=args.reps, min_ms=args.min_ms,
                         parts=parts, compare=args.compare, against=args.against,
                         jobs=args.jobs, use_ccache=not args.no_ccache, timeout=args.timeout,
                         scratch=args.scratch)
    return bench.run_bench(paths, opts, progress)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    example: str
    options: Callable[[Parser], None]
    run: Callable[[Paths, argparse.Namespace, Progress], int]


COMMANDS: tuple[Command, ...] = (
    Command("deps", "check the Debian packages tgtsim needs; --install installs the missing",
            "tgtsim deps --install", _deps_opts, cmd_deps),
    Command("prepare", "make build/linux: base + one commit per patch + overlay commit",
            "KERNEL_SRC=~/linux KERNEL_REF=v6.12 tgtsim prepare", _source_opts, cmd_prepare),
    Command("refresh-patches", "write the commits of build/linux back to patches/linux-6.12/",
            "tgtsim refresh-patches && git diff patches/", lambda sp: None, cmd_refresh),
    Command("build", "build UML for a config profile (kunit/profiles/PROFILE.config)",
            "tgtsim build kunit", _build_opts, cmd_build),
    Command("run", "boot the built kernel for the KUnit suites and, beside it, the selftests, "
            "and write the reports",
            "tgtsim run kunit --filter 'scsi_lib*' --timeout 300", _run_cmd_opts, cmd_run),
    Command("matrix", "the test matrix (matrix.toml): `list` prints its cells with their "
            "ids, profiles, suites, programs, seeds and costs", "tgtsim matrix list --total 4",
            _matrix_opts, cmd_matrix),
    Command("shard", "run share I of T of the matrix (deterministic, balanced by cost): "
            "deps, prepare, build the profiles it needs, run each of its cells",
            "tgtsim shard --index 1 --total 4 --cells 'coverage-*'", _shard_opts, cmd_shard),
    Command("merge", "merge the runs of matrix cells (of shards, of runners): summary, "
            "results.json, junit.xml with a testsuite per cell, one coverage report from the "
            "cells' lcov tracefiles and its gate", "tgtsim merge shard-*/out/runs --expect "
            "'coverage-*'", _merge_opts, cmd_merge),
    Command("report", "re-parse a run's console log, rewrite and print its reports and "
            "its page (index.html)",
            "tgtsim report --run out/runs/20250101T120000Z-kunit", _report_opts, cmd_report),
    Command("all", "the main job: deps --install, prepare, build, run (KUnit and, beside it, "
            "the selftests), report", "tgtsim all --profile kunit", _all_opts, cmd_all),
    Command("mutants", "build and run the port with each deliberate break of kunit/mutants/; "
            "which case or sanitizer report catches which break",
            "tgtsim mutants 04 05 --filter 'tgt_cmd*'", _mutants_opts, cmd_mutants),
    Command("bisect", "find the commit of a Linux 6.12 git tree that broke the suites: checks "
            "that GOOD passes and BAD fails, then drives `git bisect` (without checking "
            "anything out in the tree) with bisect-step; writes out/bisect/<id>/",
            "tgtsim bisect --kernel ~/linux --good v6.12 --bad HEAD --filter 'tgt_cmd*'",
            _bisect_opts, cmd_bisect),
    Command("bisect-step", "one step of `git bisect run` in a Linux 6.12 git tree: prepare "
            "a tree from the commit (BISECT_HEAD or HEAD) plus the series, build, run; exit 0 "
            "good, 1 bad (a case failed, a sanitizer reported, the kernel crashed or hung), "
            "125 skip (not a 6.12 tree, the series does not apply, the kernel does not "
            "build), 128 abort (usage error, the tool's own failure)",
            "cd ~/linux && git bisect run ~/tgtsim/tools/bin/tgtsim bisect-step "
            "--filter 'tgt_cmd*'", _bisect_step_opts, cmd_bisect_step),
    Command("check-bisect", "the proof of `tgtsim bisect`: a synthetic history of "
            f"{bisect_check.HISTORY} commits on the tarball's tree (harmless ones, one that "
            "does not build, a planted block-layer regression) bisected with a cold first "
            "step, then once more interrupted by SIGTERM", "tgtsim check-bisect",
            _check_bisect_opts, cmd_check_bisect),
    Command("planted-bugs", "build and run the debug profile with each planted bug of "
            "kunit/selftest-bugs/; each must be caught by the right sanitizer",
            "tgtsim planted-bugs 01", _planted_opts, cmd_planted),
    Command("lint", "checkpatch --strict of every patch; W=1 and sparse of every step of the "
            "series against the base, with and without CONFIG_SCSI_TGT",
            "tgtsim lint --no-build", _lint_opts, cmd_lint),
    Command("bench", "what tgtsim costs and how fast the target data path is: figures over "
            "repetitions in out/bench/<id>/ (bench.json, bench.md, bench.svg); --compare "
            "flags figures more than 20 percent worse than an earlier bench.json (exit 1)",
            "tgtsim bench && tgtsim bench --compare out/bench/20261130T120000Z/bench.json\n"
            "         tgtsim bench --parts kernel --reps 5",
            _bench_opts, cmd_bench),
    Command("coverage", "gcov build and run of the coverage profile: lcov HTML, Cobertura XML, "
            "patch-line coverage and its gate (coverage/thresholds)",
            "tgtsim coverage && xdg-open out/latest/coverage/html/index.html\n"
            "         tgtsim coverage --tracefile out/latest/coverage/coverage.info",
            _coverage_opts, cmd_coverage),
)
BY_NAME = {c.name: c for c in COMMANDS}


def build_parser() -> Parser:
    common = Parser(add_help=False)
    g = common.add_argument_group("global options")
    # SUPPRESS: a global option may come before or after the subcommand
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="show the full output of builds and boots")
    g.add_argument("--out", metavar="DIR", default=argparse.SUPPRESS,
                   help="output directory (default: out/)")
    g.add_argument("--build-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="build directory (default: build/)")
    g.add_argument("-j", "--jobs", type=int, default=argparse.SUPPRESS,
                   help="parallel make jobs (default: $JOBS or nproc)")

    p = Parser(prog="tgtsim", parents=[common],
               description="Build the tgtsim kernel tree as UML and run its KUnit suites "
               "and selftests.",
               epilog="example: tgtsim all --profile kunit\n\n" + EPILOG_EXIT,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tgtsim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for c in COMMANDS:
        sp = sub.add_parser(c.name, parents=[common], help=c.help, description=c.help,
                            epilog=f"example: {c.example}\n\n{EPILOG_EXIT}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        c.options(sp)
    return p


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv`; global options get their defaults here (see SUPPRESS)."""
    args = build_parser().parse_args(list(argv))
    for name, default in (("verbose", False), ("out", None), ("build_dir", None),
                          ("jobs", _jobs_default())):
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def dispatch(args: argparse.Namespace) -> int:
    root = find_repo_root()
    paths = Paths.make(root, args.build_dir, args.out)
    progress = Progress(sys.stderr, Timings(paths.timings), verbose=args.verbose)
    pick_seed(args, progress)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1 (got {args.jobs})")
    return BY_NAME[args.command].run(paths, args, progress)


def print_error(e: TgtsimError) -> None:
    sys.stdout.flush()
    msg = f"tgtsim: error: {e.message}\n"
    if e.detail:
        msg += "".join(f"  {ln}\n" for ln in e.detail.rstrip("\n").splitlines())
    sys.stderr.write(msg)
    sys.stderr.flush()


def is_bisect_step(argv: Sequence[str]) -> bool:
    return "bisect-step" in argv


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command's exit code; for bisect-step, an exit code of
    `git bisect run` (a usage error or the tool's failure aborts: 128)."""
    argv = list(argv) if argv is not None else sys.argv[1:]
    rc = _main(argv)
    if is_bisect_step(argv) and rc not in (bisect.GOOD, bisect.BAD, bisect.SKIP) \
            and rc < bisect.ABORT:
        return bisect.ABORT
    return rc


def _main(argv: list[str]) -> int:
    install_signal_handlers()
    try:
        try:
            args = parse(argv)
        except SystemExit as e:       # --help, --version, a usage error
            return e.code if isinstance(e.code, int) else EXIT_USAGE
        return dispatch(args)
    except TgtsimError as e:
        print_error(e)
        return e.exit_code
    except KeyboardInterrupt as e:
        return interrupted(e)
    except BrokenPipeError:
        return EXIT_INFRA
    except Exception as e:  # never a traceback; TGTSIM_DEBUG=1 shows it
        if os.environ.get("TGTSIM_DEBUG"):
            raise
        sys.stderr.write(f"tgtsim: internal error: {type(e).__name__}: {e}\n"
                         "(set TGTSIM_DEBUG=1 for the traceback)\n")
        return EXIT_INFRA

