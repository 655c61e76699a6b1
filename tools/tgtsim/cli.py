"""Command line: argument parsing, dispatch, exit codes, no tracebacks."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional, Sequence

from tgtsim import __version__
from tgtsim.errors import (EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK, EXIT_TEST_FAILURE,
                           EXIT_USAGE, BuildError, TgtsimError, UsageError)
from tgtsim.paths import Paths, find_repo_root
from tgtsim.progress import Progress, Timings

EPILOG_EXIT = ("exit codes: 0 all passed, 1 test failure, 2 usage/config error, "
               "3 build or infrastructure error (compile error, patch does not apply, "
               "kernel crash/panic/hang, missing tool), 130 interrupted")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
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


def _jobs_default() -> int:
    try:
        return int(os.environ.get("JOBS", "")) or os.cpu_count() or 2
    except ValueError:
        return os.cpu_count() or 2


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
               description="Build the tgtsim kernel tree as UML and run its KUnit suites.",
               epilog="example: tgtsim all --profile kunit\n\n" + EPILOG_EXIT,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tgtsim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def add(name: str, help_: str, example: str) -> Parser:
        return sub.add_parser(name, parents=[common], help=help_, description=help_,
                              epilog=f"example: {example}\n\n{EPILOG_EXIT}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    d = add("deps", "check the Debian packages tgtsim needs; --install installs the missing",
            "tgtsim deps --install")
    d.add_argument("--install", action="store_true",
                   help="apt-get install the missing packages (needs root)")

    def source_opts(sp: Parser) -> None:
        sp.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                        metavar="PATH", help="a Linux 6.12 git tree to use as base instead of "
                        "the Debian tarball (default: $KERNEL_SRC)")
        sp.add_argument("--kernel-ref", default=os.environ.get("KERNEL_REF") or None,
                        metavar="REF", help="ref of --kernel-src to use (default: $KERNEL_REF "
                        "or HEAD)")

    pr = add("prepare", "make build/linux: base + one commit per patch + overlay commit",
             "KERNEL_SRC=~/linux KERNEL_REF=v6.12 tgtsim prepare")
    source_opts(pr)
    add("refresh-patches", "write the commits of build/linux back to patches/linux-6.12/",
        "tgtsim refresh-patches && git diff patches/")

    b = add("build", "build UML for a config profile (kunit/profiles/PROFILE.config)",
            "tgtsim build kunit")
    b.add_argument("profile", metavar="PROFILE")
    b.add_argument("--no-ccache", action="store_true", help="do not use ccache")

    def run_opts(sp: Parser, idle_default: float = 120.0) -> None:
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
                        help="skip the kselftest boot after the KUnit boot")
        sp.add_argument("--selftest-timeout", type=_positive_float, default=300.0, metavar="S",
                        help="kill the selftest boot after S seconds (default 300; each "
                        "program gets min(S, 120))")
        sp.add_argument("--selftest-filter", default="", metavar="GLOB",
                        help="run only the selftest programs matching GLOB (e.g. '003*')")

    r = add("run", "boot the built kernel for the KUnit suites and, beside it, the selftests, and "
            "write the reports",
            "tgtsim run kunit --filter 'scsi_lib*' --timeout 300")
    r.add_argument("profile", metavar="PROFILE", nargs="?", default="kunit")
    run_opts(r)

    rp = add("report", "re-parse a run's console log, rewrite and print its reports",
             "tgtsim report --run out/runs/20250101T120000Z-kunit")
    rp.add_argument("--run", metavar="DIR", help="run directory (default: out/latest)")

    a = add("all", "the main job: deps --install, prepare, build, run, report",
            "tgtsim all --profile kunit")
    a.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    a.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    a.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    source_opts(a)
    run_opts(a)

    m = add("mutants", "build and run the port with each deliberate break of kunit/mutants/; "
            "which case catches which break",
            "tgtsim mutants 04 05 --filter 'tgt_cmd*'")
    m.add_argument("mutants", nargs="*", metavar="MUTANT",
                   help="mutant numbers or names (default: all)")
    m.add_argument("--profile", default="kunit")
    m.add_argument("--update-readme", action="store_true",
                   help="write the table into kunit/README.md")
    m.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    run_opts(m, idle_default=60.0)

    bs = add("bisect-step", "one step of `git bisect run` in a Linux 6.12 git tree: prepare "
             "build/linux from its HEAD plus the series, build, run; exit 0 good, 1 bad "
             "(a test failed, the kernel crashed or hung), 125 skip (the series does not "
             "apply or the kernel does not build), 128 abort (usage or infrastructure error)",
             "cd ~/linux && git bisect run ~/tgtsim/tools/bin/tgtsim bisect-step "
             "--filter 'tgt_cmd*'")
    bs.add_argument("--profile", default=os.environ.get("PROFILE") or "kunit")
    bs.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                    metavar="PATH", help="the tree being bisected (default: $KERNEL_SRC, "
                    "else the git tree of the current directory)")
    bs.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    run_opts(bs)

    pb = add("planted-bugs", "build and run the debug profile with each planted bug of "
             "kunit/selftest-bugs/; each must be caught by the right sanitizer",
             "tgtsim planted-bugs 01")
    pb.add_argument("bugs", nargs="*", metavar="BUG",
                    help="planted bug numbers or names (default: all)")
    pb.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    run_opts(pb)

    lt = add("lint", "checkpatch --strict of every patch; W=1 and sparse of every step of the "
             "series against the base, with and without CONFIG_SCSI_TGT",
             "tgtsim lint --no-build")
    lt.add_argument("--no-build", action="store_true",
                    help="only checkpatch (seconds instead of minutes)")

    cv = add("coverage", "gcov build and run of the coverage profile: lcov HTML, Cobertura XML, "
             "patch-line coverage and its gate (coverage/thresholds)",
             "tgtsim coverage && xdg-open out/latest/coverage/html/index.html\n"
             "         tgtsim coverage --tracefile out/latest/coverage/coverage.info")
    cv.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    cv.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    cv.add_argument("--no-gate", action="store_true",
                    help="report only: a coverage below coverage/thresholds does not fail")
    cv.add_argument("--no-html", action="store_true", help="skip genhtml")
    cv.add_argument("--no-cobertura", action="store_true", help="skip gcovr's cobertura.xml")
    cv.add_argument("--raise-thresholds", action="store_true",
                    help="after a passing run, raise coverage/thresholds to the achieved "
                    "percentages (never lowers them)")
    cv.add_argument("--tracefile", metavar="FILE",
                    help="no build or boot: print the patch-line report and apply the gate "
                    "to this lcov tracefile (needs a prepared build/linux)")
    source_opts(cv)
    run_opts(cv)

    c = add("check", "tgtsim's own pytest suite, then the main job with the coverage profile "
            "(KUnit, selftests and the coverage gate); one combined count",
            "tgtsim check")
    c.add_argument("--profile", default=os.environ.get("PROFILE") or "coverage")
    c.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    c.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    c.add_argument("--no-kernel", action="store_true", help="only the pytest suite")
    c.add_argument("--debug", action="store_true",
                   help="also run the debug profile (sanitizers) and prove it catches a "
                   "planted bug; their counts join the closing line (what CI runs)")
    source_opts(c)
    run_opts(c)
    return p


def _run_options(args: argparse.Namespace):
    from tgtsim.run import RunOptions
    from tgtsim.selftests import SelftestOptions
    st = SelftestOptions(timeout=args.selftest_timeout, idle_timeout=args.idle_timeout,
                         filter_glob=args.selftest_filter, seed=args.seed,
                         kernel_args=list(args.kernel_args),
                         jobs=args.jobs) if args.selftests else None
    return RunOptions(timeout=args.timeout, idle_timeout=args.idle_timeout,
                      filter_glob=args.filter_glob, seed=args.seed,
                      kernel_args=list(args.kernel_args), selftests=st)


def cmd_all(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    from tgtsim import build, coverage, deps, prepare, profiles, run
    profiles.fragments(paths.profiles, args.profile)  # fail fast on a bad profile
    collect = None
    if args.profile == coverage.PROFILE:   # thresholds are checked before building
        collect = coverage.collector(paths, progress, coverage.Options(
            gate=not getattr(args, "no_gate", False), html=not getattr(args, "no_html", False),
            cobertura=not getattr(args, "no_cobertura", False), jobs=args.jobs))
    if not args.no_deps:
        deps.run_deps(True, progress)
    try:
        prepare.prepare(paths, progress, args.kernel_src, args.kernel_ref)
    except BuildError as e:
        run.record_failure(paths, args.profile, "prepare", e.message, e.detail, progress)
        raise
    if collect is not None:
        coverage.check_scope(paths)
    try:
        build.build(paths, args.profile, progress, args.jobs, not args.no_ccache)
    except BuildError as e:
        d = run.record_failure(paths, args.profile, "build", e.message, e.detail, progress,
                               {"build.log": paths.kbuild(args.profile) / "build.log"})
        e.message += f"\n  reports: {d}"
        raise
    if collect is not None:
        coverage.zero_counters(paths.kbuild(args.profile))
    return run.run_profile(paths, args.profile, _run_options(args), progress, collect)


def cmd_coverage(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    from tgtsim import coverage, covgate, report
    if args.tracefile:
        return coverage.check_tracefile(paths, Path(args.tracefile), not args.no_gate)
    args.profile = coverage.PROFILE
    rc = cmd_all(paths, args, progress)
    if args.raise_thresholds:
        if rc != 0:
            progress.info("coverage: run not passing, thresholds left as they are")
            return rc
        latest = report.latest(paths.out)
        _res, meta = report.load(latest) if latest else (None, {})
        cov = meta.get("coverage") or {}
        if "lines" not in cov:
            raise TgtsimError("no coverage figures in the latest run")
        path = coverage.thresholds_path(paths)
        text, changed = covgate.raise_thresholds(path.read_text(), cov["lines"]["percent"],
                                                 cov["branches"]["percent"])
        if changed:
            path.write_text(text)
        progress.info(f"coverage: {path}: " + ("; ".join(changed) if changed else "unchanged"))
    return rc


def _scratch_boot(paths: Paths, args: argparse.Namespace, progress: Progress,
                  selftests: bool = True):
    """The boot of a scratch-tree build (mutants, planted bugs): KUnit and,
    beside it, the selftests unless --no-selftests (or `selftests` is False)."""
    from tgtsim import run
    opts = _run_options(args)
    if not selftests:
        opts.selftests = None
    return run.scratch_boot(paths, opts, progress)


def cmd_mutants(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    from tgtsim import mutants
    return mutants.run(paths, args.mutants, args.profile, progress, args.jobs,
                       _scratch_boot(paths, args, progress), update=args.update_readme,
                       use_ccache=not args.no_ccache)


BISECT_GOOD, BISECT_BAD, BISECT_SKIP, BISECT_ABORT = 0, 1, 125, 128


def bisect_code(rc: Optional[int], error: Optional[TgtsimError]) -> int:
    """`git bisect run` exit code of a step: the run's exit code or the
    error that stopped it."""
    if error is not None:
        return BISECT_SKIP if isinstance(error, BuildError) else BISECT_ABORT
    if rc == EXIT_OK:
        return BISECT_GOOD
    if rc in (EXIT_TEST_FAILURE, EXIT_INFRA):   # failed cases, crash, hang
        return BISECT_BAD
    return BISECT_ABORT


def _bisect_tree(args: argparse.Namespace) -> tuple[str, str]:
    """The tree being bisected and its HEAD commit."""
    from tgtsim.gitutil import Git
    src = args.kernel_src
    if not src:
        top = Git(Path.cwd()).run("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise UsageError("bisect-step: run it in the git tree being bisected, "
                             "or set KERNEL_SRC")
        src = top.stdout.strip()
    if not Git(Path(src)).is_repo():
        raise UsageError(f"bisect-step: {src} is not a git tree")
    return src, Git(Path(src)).out("rev-parse", "HEAD")


def cmd_bisect_step(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    rc: Optional[int] = None
    error: Optional[TgtsimError] = None
    head = "?"
    try:
        args.kernel_src, args.kernel_ref = _bisect_tree(args)
        head = args.kernel_ref[:12]
        args.no_deps = True
        progress.info(f"bisect-step: {args.kernel_src} at {head}")
        rc = cmd_all(paths, args, progress)
    except TgtsimError as e:
        _print_error(e)
        error = e
    code = bisect_code(rc, error)
    progress.info(f"bisect-step: {head} is "
                  + {BISECT_GOOD: "good", BISECT_BAD: "bad", BISECT_SKIP: "skipped (125)",
                     BISECT_ABORT: "not testable: abort (128)"}[code])
    return code


def cmd_planted(paths: Paths, args: argparse.Namespace, progress: Progress,
                check_port: bool = True) -> int:
    from tgtsim import planted
    return planted.run(paths, args.bugs, progress, args.jobs, _scratch_boot(paths, args, progress),
                       use_ccache=not args.no_ccache, check_port=check_port)


def pytest_counts(junit: Path) -> tuple[int, int, int]:
    """passed, failed, skipped from pytest's --junitxml output."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return 0, 1, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return tests - failed - skipped, failed, skipped


def cmd_check(paths: Paths, args: argparse.Namespace, progress: Progress) -> int:
    junit = paths.out / "pytest" / "junit.xml"
    try:
        junit.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TgtsimError(f"cannot write to {paths.out}: {e.strerror or e}") from None
    early: Optional[TgtsimError] = None
    if not args.no_kernel:
        # deps and the kernel tree first: the tests then use the tree's kunit_parser
        from tgtsim import deps, prepare
        try:
            if not args.no_deps:
                deps.run_deps(True, progress)
            prepare.prepare(paths, progress, args.kernel_src, args.kernel_ref)
        except TgtsimError as e:
            early = e
    env = dict(os.environ, PYTHONPATH=str(paths.root / "tools"),
               TGTSIM_KUNIT_CACHE=str(paths.build))
    if paths.kunit_tool.joinpath("kunit_parser.py").is_file():
        env.setdefault("TGTSIM_KUNIT_DIR", str(paths.kunit_tool))
    with progress.step("pytest tools/tests"):
        rc_py = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 f"--junitxml={junit}", str(paths.root / "tools" / "tests")],
                                env=env, cwd=paths.root)
    p_pass, p_fail, p_skip = pytest_counts(junit)
    if rc_py not in (0, 1) and p_fail == 0:
        p_fail = 1   # pytest itself failed (usage, no tests, internal error)
    counts = [("pytest", p_pass, p_fail, p_skip, "tools/tests")]
    rcs = []
    if not args.no_kernel:
        def main_job() -> int:
            if early is not None:
                raise early
            return cmd_all(paths, args, progress)
        rc, c = _counted_run(paths, main_job)
        counts.append(("kernel",) + c + (f"{args.profile}: KUnit and selftests",))
        rcs.append(rc)
        if args.debug and early is None:
            debug_args = argparse.Namespace(**{**vars(args), "profile": "debug",
                                               "no_deps": True})
            rc, c = _counted_run(paths, lambda: cmd_all(paths, debug_args, progress))
            counts.append(("debug",) + c + ("debug profile: KUnit, selftests, sanitizers",))
            rcs.append(rc)
            # the port was just seen clean under the debug profile: the
            # proof needs only the planted bug's run
            rc = _planted_proof(paths, args, progress, check_port=rc != 0)
            counts.append(("planted", int(rc == 0), int(rc != 0), 0,
                           f"planted bug {CHECK_PLANTED_BUG} caught by the debug profile"))
            rcs.append(rc)
    for name, n_pass, n_fail, n_skip, what in counts:
        label = name + ":"
        print(f"{label:9}{n_pass} passed, {n_fail} failed, {n_skip} skipped ({what})")
    passed, failed, skipped = (sum(c[i] for c in counts) for i in (1, 2, 3))
    line = f"check: {passed} passed, {failed} failed, {skipped} skipped"
    print(progress.paint(line, "red" if failed else "green"), flush=True)
    for rc in rcs:
        if rc in (EXIT_USAGE, EXIT_INFRA):
            return rc
    return 1 if failed else 0


CHECK_PLANTED_BUG = "01"


def _counted_run(paths: Paths, job) -> tuple[int, tuple[int, int, int]]:
    """Run a kernel job; its exit code and the counts of the run it wrote
    (a job that stopped before writing one counts as one failure)."""
    from tgtsim import report
    before = report.latest(paths.out)
    try:
        rc = job()
    except TgtsimError as e:
        _print_error(e)
        rc = e.exit_code
    n_pass = n_fail = n_skip = 0
    after = report.latest(paths.out)
    if after is not None and after != before:
        res, _meta = report.load(after)
        n_pass, n_fail, n_skip = res.passed, res.failed, res.skipped
    if rc != 0 and n_fail == 0:
        n_fail = 1
    return rc, (n_pass, n_fail, n_skip)


def _planted_proof(paths: Paths, args: argparse.Namespace, progress: Progress,
                   check_port: bool) -> int:
    """`planted-bugs 01`: the debug profile catches a planted bug."""
    # KUnit only: the debug job just booted the selftests with sanitizers on
    planted_args = argparse.Namespace(**{**vars(args), "bugs": [CHECK_PLANTED_BUG],
                                         "selftests": False})
    try:
        return cmd_planted(paths, planted_args, progress, check_port)
    except TgtsimError as e:
        _print_error(e)
        return e.exit_code


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
    cmd = args.command
    if cmd == "deps":
        from tgtsim import deps
        return deps.run_deps(args.install, progress)
    if cmd == "prepare":
        from tgtsim import prepare
        r = prepare.prepare(paths, progress, args.kernel_src, args.kernel_ref)
        if not r.changed:
            progress.info(f"prepare: {paths.linux} up to date ({r.head[:12]})")
        return 0
    if cmd == "refresh-patches":
        from tgtsim import refresh
        refresh.refresh(paths, progress)
        return 0
    if cmd == "build":
        from tgtsim import build
        binary = build.build(paths, args.profile, progress, args.jobs, not args.no_ccache)
        progress.info(f"build: {binary}")
        return 0
    if cmd == "run":
        from tgtsim import run
        return run.run_profile(paths, args.profile, _run_options(args), progress)
    if cmd == "report":
        from tgtsim import report, run
        run_dir = Path(args.run).resolve() if args.run else report.latest(paths.out)
        if run_dir is None:
            raise UsageError(f"no run yet in {paths.out} (run `tgtsim run` first)")
        return run.reanalyze(paths, run_dir, progress)
    if cmd == "all":
        return cmd_all(paths, args, progress)
    if cmd == "coverage":
        return cmd_coverage(paths, args, progress)
    if cmd == "check":
        return cmd_check(paths, args, progress)
    if cmd == "mutants":
        return cmd_mutants(paths, args, progress)
    if cmd == "bisect-step":
        return cmd_bisect_step(paths, args, progress)

    if cmd == "planted-bugs":
        return cmd_planted(paths, args, progress)
    if cmd == "lint":
        from tgtsim import lint
        return lint.lint(paths, progress, args.jobs, do_build=not args.no_build)
    raise UsageError(f"unknown command {cmd}")


def _print_error(e: TgtsimError) -> None:
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
        _print_error(e)
        return e.exit_code
    except KeyboardInterrupt as e:
        from tgtsim.procs import kill_all_children
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
