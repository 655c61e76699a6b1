"""Command line: a table of commands, argument parsing, exit codes, no
tracebacks. Each command turns its arguments into the typed options of the
module that does the work and maps what it returns to an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn, Optional, Sequence

from tgtsim import (__version__, bench, bisect, build, chunktrace, coverage, covgate, deps,
                    lint, mutants, planted, prepare, refresh, report, run, runindex)
from tgtsim.errors import EXIT_INFRA, EXIT_INTERRUPTED, EXIT_USAGE, TgtsimError, UsageError
from tgtsim.paths import Paths, find_repo_root
from tgtsim.procs import kill_all_children
from tgtsim.progress import Progress, Timings
from tgtsim.uml import BootOptions

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
    sp.add_argument("--seed", type=int, default=None,
                    help="seed passed to the tgt_kunit suites (tgt_kunit.seed=N)")
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


def _job_opts(sp: Parser) -> None:
    sp.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    _ccache_opt(sp)
    _source_opts(sp)
    _run_opts(sp)
    _keep_opt(sp)


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
                                  jobs=args.jobs),
        deps=not args.no_deps, use_ccache=not args.no_ccache,
        kernel_src=args.kernel_src, kernel_ref=args.kernel_ref,
        keep=getattr(args, "keep", runindex.DEFAULT_KEEP))


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


def _run_cmd_opts(sp: Parser) -> None:
    sp.add_argument("profile", metavar="PROFILE", nargs="?", default="kunit")
    _run_opts(sp)
    _keep_opt(sp)


def cmd_run(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    return run.run_profile(paths, args.profile, boot_options(args), progress,
                           keep=args.keep).exit_code()


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
    return run.main_job(paths, job_options(args), progress).exit_code()


def _coverage_opts(sp: Parser) -> None:
    sp.add_argument("--no-gate", action="store_true",
                    help="report only: a coverage below coverage/thresholds does not fail")
    sp.add_argument("--no-html", action="store_true", help="skip genhtml")
    sp.add_argument("--no-cobertura", action="store_true", help="skip gcovr's cobertura.xml")
    sp.add_argument("--raise-thresholds", action="store_true",
                    help="after a passing run, raise coverage/thresholds to the achieved "
                    "percentages (never lowers them)")
    sp.add_argument("--tracefile", metavar="FILE",
                    help="no build or boot: print the patch-line report and apply the gate "
                    "to this lcov tracefile (needs a prepared build/linux)")
    _job_opts(sp)


def cmd_coverage(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    if args.tracefile:
        return coverage.check_tracefile(paths, Path(args.tracefile), not args.no_gate)
    args.profile = coverage.PROFILE
    rc = run.main_job(paths, job_options(args), progress).exit_code()
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


def _bisect_opts(sp: Parser) -> None:
    sp.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    sp.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                    metavar="PATH", help="the tree being bisected (default: $KERNEL_SRC, "
                    "else the git tree of the current directory)")
    _ccache_opt(sp)
    _run_opts(sp)
    _keep_opt(sp)


def cmd_bisect_step(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    head = "?"
    try:
        args.kernel_src, args.kernel_ref = bisect.tree(args.kernel_src)
        head = args.kernel_ref[:12]
        args.no_deps = True
        progress.info(f"bisect-step: {args.kernel_src} at {head}")
        status = run.main_job(paths, job_options(args), progress).status
    except TgtsimError as e:
        print_error(e)
        status = e.status
    code = bisect.code(status)
    progress.info(f"bisect-step: {head} is {bisect.WORDS[code]}")
    return code


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
    _ccache_opt(sp)


def cmd_bench(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    opts = bench.Options(profile=args.profile, reps=args.reps, min_ms=args.min_ms,
                         parts=parts, compare=args.compare, against=args.against,
                         jobs=args.jobs, use_ccache=not args.no_ccache, timeout=args.timeout)
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
    Command("report", "re-parse a run's console log, rewrite and print its reports and "
            "its page (index.html)",
            "tgtsim report --run out/runs/20250101T120000Z-kunit", _report_opts, cmd_report),
    Command("all", "the main job: deps --install, prepare, build, run (KUnit and, beside it, "
            "the selftests), report", "tgtsim all --profile kunit", _all_opts, cmd_all),
    Command("mutants", "build and run the port with each deliberate break of kunit/mutants/; "
            "which case or sanitizer report catches which break",
            "tgtsim mutants 04 05 --filter 'tgt_cmd*'", _mutants_opts, cmd_mutants),
    Command("bisect-step", "one step of `git bisect run` in a Linux 6.12 git tree: prepare "
            "build/linux from its HEAD plus the series, build, run; exit 0 good, 1 bad "
            "(a test failed, the kernel crashed or hung), 125 skip (the series does not "
            "apply or the kernel does not build), 128 abort (usage or infrastructure error)",
            "cd ~/linux && git bisect run ~/tgtsim/tools/bin/tgtsim bisect-step "
            "--filter 'tgt_cmd*'", _bisect_opts, cmd_bisect_step),
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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job): cleaned up like Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = parse(list(argv) if argv is not None else sys.argv[1:])
        return dispatch(args)
    except TgtsimError as e:
        print_error(e)
        return e.exit_code
    except KeyboardInterrupt as e:
        kill_all_children()
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        sys.stderr.write(f"\ntgtsim: {what}\n")
        return 128 + signal.SIGTERM if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_INFRA
    except Exception as e:  # never a traceback; TGTSIM_DEBUG=1 shows it
        if os.environ.get("TGTSIM_DEBUG"):
            raise
        sys.stderr.write(f"tgtsim: internal error: {type(e).__name__}: {e}\n"
                         "(set TGTSIM_DEBUG=1 for the traceback)\n")
        return EXIT_INFRA
