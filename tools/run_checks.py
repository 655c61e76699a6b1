#!/usr/bin/env python3
"""tgtsim's checks, as the kernel's tools/testing/kunit/run_checks.py runs
kunit.py's: pytest of tools/tests, mypy over tools/ and the CI templates
(tools/check_ci.py) and then, unless --no-kernel, the project's own run the
way a CI runs it: the matrix cells of the profile (with --debug also the
debug cells) as --shards shards in sequence (`tgtsim shard`), merged
(`tgtsim merge`, out/merged/: one summary, JUnit, Cobertura, the gate), the
GitLab template under gitlab-ci-local, with --debug one planted bug the
debug profile must catch, with --bisect `tgtsim check-bisect
--shared-ccache`. Each part is a command of its own; this script runs
them, prints one count line per part and, last, `check: N passed, N
failed, N skipped` (the sum of the parts; a part that stopped before
counting counts as one failure). The tests that boot the real kernel run
after the kernel part built it (part `uml`);
--slow adds the ones that build a kernel of their own; --pytest-runs N
repeats pytest (part `flake`).

example: tools/run_checks.py --no-kernel
         tools/run_checks.py --profile coverage --debug --slow --pytest-runs 3
Options it does not know go to `tgtsim shard` (--timeout, --idle-timeout,
--selftest-timeout). Exit: 2 or 3 if a kernel part ended so, else 1 if
anything failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from tgtsim.deps import ensure_modules  # noqa: E402
from tgtsim.errors import TgtsimError  # noqa: E402
from tgtsim.progress import Progress  # noqa: E402

if __name__ == "__main__":   # a fresh machine: the packages of the imports below first
    try:
        ensure_modules([] if "--no-deps" in sys.argv else ["deps", "--install"],
                       Progress(sys.stderr))
    except TgtsimError as e:
        sys.stderr.write(f"run_checks.py: error: {e.message}\n")
        sys.exit(e.exit_code)

from junitparser import JUnitXml, TestSuite  # noqa: E402

PLANTED_BUG = "01"
Counts = tuple[int, int, int]


def pytest_counts(junit: Path) -> Counts:
    """passed, failed, skipped from pytest's --junitxml output."""
    try:
        xml = JUnitXml.fromfile(str(junit))
    except Exception:      # missing or unreadable: pytest itself failed
        return 0, 1, 0
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    tests = sum(s.tests or 0 for s in suites)
    failed = sum((s.failures or 0) + (s.errors or 0) for s in suites)
    skipped = sum(s.skipped or 0 for s in suites)
    return tests - failed - skipped, failed, skipped


def latest(out: Path) -> Optional[Path]:
    link = out / "latest"
    return link.resolve() if link.exists() else None


def closing_counts(text: str, rc: int) -> Counts:
    """The counts of a part's own closing line `NAME: N passed, N failed, N
    skipped` (one failure if it printed none)."""
    for line in reversed(text.splitlines()):
        m = re.match(r"^\w[\w-]*: (\d+) passed, (\d+) failed, (\d+) skipped$", line.strip())
        if m:
            return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return 0, 1, 0


def run_counts(out: Path, before: Optional[Path], rc: int) -> Counts:
    """The counts of the run a kernel part wrote (one failure if it wrote none)."""
    after = latest(out)
    n_pass = n_fail = n_skip = 0
    if after is not None and after != before:
        try:
            counts = json.loads((after / "results.json").read_text())["counts"]
            n_pass, n_fail, n_skip = counts["passed"], counts["failed"], counts["skipped"]
        except (OSError, ValueError, KeyError, TypeError):
            n_fail = 1
    if rc != 0 and n_fail == 0:
        n_fail = 1
    return n_pass, n_fail, n_skip


class Checks:
    def __init__(self, args: argparse.Namespace, passthrough: list[str]) -> None:
        self.args = args
        self.out = Path(args.out or ROOT / "out").resolve()
        self.build = Path(args.build_dir or ROOT / "build").resolve()
        self.passthrough = passthrough
        self.progress = Progress(sys.stderr)
        self.parts: list[tuple[str, int, int, int, str]] = []
        self.rcs: list[int] = []

    def tgtsim(self, *argv: str) -> int:
        # the launcher: SIGINT/SIGTERM blocked until tgtsim handles them
        cmd = [str(TOOLS / "bin" / "tgtsim"), "--out", str(self.out), "--build-dir",
               str(self.build), "--jobs", str(self.args.jobs)]
        if self.args.verbose:
            cmd.append("-v")
        env = dict(os.environ, PYTHONPATH=str(TOOLS), TGTSIM_PYTHON=sys.executable)
        return subprocess.call([*cmd, *argv], env=env, cwd=ROOT)

    def kernel_part(self, name: str, what: str, *argv: str) -> int:
        before = latest(self.out)
        rc = self.tgtsim(*argv)
        self.parts.append((name, *run_counts(self.out, before, rc), what))
        self.rcs.append(rc)
        return rc

    def pytest_env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONPATH=str(TOOLS), TGTSIM_KUNIT_CACHE=str(self.build))
        # test_signals.py: 100 runs interrupted at random moments (20 by default)
        env.setdefault("TGTSIM_STRESS_RUNS", "100")
        kunit_tool = self.build / "linux" / "tools" / "testing" / "kunit"
        if (kunit_tool / "kunit_parser.py").is_file():
            env.setdefault("TGTSIM_KUNIT_DIR", str(kunit_tool))
        return env

    def run_pytest(self, junit: Path, markers: str, env: dict[str, str]) -> Counts:
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              f"--junitxml={junit}", "-m", markers, str(TOOLS / "tests")],
                             env=env, cwd=ROOT)
        n_pass, n_fail, n_skip = pytest_counts(junit)
        if rc not in (0, 1, 5) and n_fail == 0:
            n_fail = 1   # pytest itself failed (usage, internal error)
        return n_pass, n_fail, n_skip

    def pytest(self, kernel_follows: bool = False) -> None:
        """pytest of tools/tests; the tests that boot the real kernel wait for
        the kernel part when one follows (uml_tests()); the slow ones run with
        --slow only. --pytest-runs N: N-1 more runs of the same suite, each
        one check of the `flake` part (a run that fails is a flaky test)."""
        junit = self.out / "pytest" / "junit.xml"
        markers = "not uml and not slow" if kernel_follows else \
            ("uml or not uml" if self.args.slow else "not slow")
        env = self.pytest_env()
        with self.progress.step("pytest tools/tests"):
            counts = self.run_pytest(junit, markers, env)
        self.parts.append(("pytest", *counts, "tools/tests"))
        runs = self.args.pytest_runs
        if runs > 1:
            ok = 0
            for i in range(2, runs + 1):
                with self.progress.step(f"pytest tools/tests, run {i} of {runs}"):
                    again = self.run_pytest(self.out / "pytest" / f"junit-{i}.xml", markers, env)
                ok += int(again[1] == 0)
            self.parts.append(("flake", ok, runs - 1 - ok, 0,
                               f"pytest tools/tests again, runs 2-{runs} of {runs}"))

    def uml_tests(self, kernel: Path) -> None:
        """After the kernel part: the tests that boot its kernel (and, with
        --slow, the ones that build one of their own)."""
        env = self.pytest_env()
        env["TGTSIM_UML_KERNEL"] = str(kernel)
        markers = "uml" if self.args.slow else "uml and not slow"
        what = "tests booting the built kernel" + (", slow ones too" if self.args.slow else "")
        with self.progress.step("pytest tools/tests -m uml"):
            counts = self.run_pytest(self.out / "pytest" / "junit-uml.xml", markers, env)
        self.parts.append(("uml", *counts, what))

    def mypy(self) -> None:
        with self.progress.step("mypy tools/"):
            rc = subprocess.call([sys.executable, "-m", "mypy", "--config-file",
                                  str(TOOLS / "mypy.ini"), "--cache-dir",
                                  str(self.build / "mypy-cache")], cwd=TOOLS)
        self.parts.append(("mypy", int(rc == 0), int(rc != 0), 0, "type check of tools/"))

    def lint(self) -> None:
        """tgtsim lint --no-build: checkpatch --strict of the series, and
        every mutant and planted bug still applies to the port."""
        rc = self.tgtsim("lint", "--no-build")
        self.parts.append(("lint", int(rc == 0), int(rc != 0), 0, "checkpatch --strict of the "
                           "series; every mutant and planted bug applies to the port"))
        self.rcs.append(rc if rc in (2, 3) else 0)

    def ci(self, static: bool) -> None:
        """tools/check_ci.py: the CI templates (validated, their commands
        exist) and, with a kernel, the GitLab template under gitlab-ci-local;
        its own count line is its part's."""
        cmd = [sys.executable, str(TOOLS / "check_ci.py"), "--build-dir", str(self.build)]
        if static:
            cmd.append("--static")
        if self.args.compare_shards and not static:
            cmd.append("--compare")
        with self.progress.step("ci templates"):
            cp = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        sys.stdout.write(cp.stdout)
        self.parts.append(("ci", *closing_counts(cp.stdout, cp.returncode),
                           "ci/ templates" + ("" if static else ", gitlab-ci-local")))
        self.rcs.append(0 if cp.returncode in (0, 1) else 3)

    def bisect(self) -> None:
        """tgtsim check-bisect: its own count line is its part's."""
        # the quick form: steps on the shared ccache (the cold-step ratio is
        # reported, not checked; `make check-bisect` checks it)
        rc = self.tgtsim("check-bisect", "--shared-ccache")
        text = (self.build / "check-bisect" / "check-bisect.json")
        try:
            checks = json.loads(text.read_text())["checks"]
            counts = (sum(1 for c in checks if c["passed"] is True),
                      sum(1 for c in checks if c["passed"] is False),
                      sum(1 for c in checks if c.get("skipped") is True))
        except (OSError, ValueError, KeyError, TypeError):
            counts = (0, 1, 0)
        if rc != 0 and counts[1] == 0:
            counts = (counts[0], 1, counts[2])
        self.parts.append(("bisect", *counts, "check-bisect: tgtsim bisect finds a planted "
                           "regression"))
        self.rcs.append(rc if rc in (2, 3) else 0)

    def kernel(self) -> None:
        args = self.args
        source = [*(["--kernel-src", args.kernel_src] if args.kernel_src else []),
                  *(["--kernel-ref", args.kernel_ref] if args.kernel_ref else [])]
        ccache = ["--no-ccache"] if args.no_ccache else []
        early = 0
        if not args.no_deps:
            early = self.tgtsim("deps", "--install")
        if early == 0:       # the tests then use the tree's kunit_parser
            early = self.tgtsim("prepare", *source)
        self.pytest(kernel_follows=early == 0)
        self.mypy()
        if early == 0:
            self.lint()
        cells = f"{args.profile}-*" + (",debug-*" if args.debug else "")
        what = f"cells {cells}: {args.shards} shards, merged"
        if early != 0:
            self.parts.append(("kernel", 0, 1, 0, what))
            self.rcs.append(early)
            return
        # this project's own run goes the way a CI's does: shards, in
        # sequence here, then the merge of their runs
        check_out = self.out / "check"
        shutil.rmtree(check_out, ignore_errors=True)
        rcs = []
        for i in range(1, args.shards + 1):
            rcs.append(self.tgtsim("--out", str(check_out / f"shard-{i}"), "shard", "--index",
                                   str(i), "--total", str(args.shards), "--cells", cells,
                                   "--no-deps", *ccache, *source, *self.passthrough))
        merged = self.out / "merged"
        shutil.rmtree(merged, ignore_errors=True)
        rcs.append(self.tgtsim("merge", *[str(check_out / f"shard-{i}")
                                          for i in range(1, args.shards + 1)],
                               "--expect", cells, "--out-dir", str(merged)))
        n_pass, n_fail, n_skip = 0, 1, 0
        debug_clean = False
        try:
            data = json.loads((merged / "results.json").read_text())
            c = data["counts"]
            n_pass, n_fail, n_skip = c["passed"], c["failed"], c["skipped"]
            debug_clean = all(cell["exit_code"] == 0 for cell in data["cells"]
                              if cell["profile"] == "debug")
        except (OSError, ValueError, KeyError, TypeError):
            pass
        rc = max(rcs) if any(r >= 2 for r in rcs) else (1 if any(rcs) else 0)
        if rc != 0 and n_fail == 0:
            n_fail = 1
        self.parts.append(("kernel", n_pass, n_fail, n_skip, what))
        self.rcs.append(rc)
        kernel = self.build / "kbuild" / args.profile / "linux"
        if rc in (0, 1) and kernel.is_file():
            self.uml_tests(kernel)
        # the GitLab template runs the coverage cells on the kernels just built
        self.ci(static=args.profile != "coverage")
        if args.bisect:
            self.bisect()
        if not args.debug:
            return
        # the port was just seen clean under the debug profile: the proof
        # needs only the planted bug's run (KUnit only: the debug cells just
        # booted the selftests with sanitizers on)
        planted = ["planted-bugs", PLANTED_BUG, "--no-selftests", *ccache]
        rc = self.tgtsim(*planted, *(["--port-checked"] if debug_clean else []))
        self.parts.append(("planted", int(rc == 0), int(rc != 0), 0,
                           f"planted bug {PLANTED_BUG} caught by the debug profile"))
        self.rcs.append(rc)

    def report(self) -> int:
        for name, n_pass, n_fail, n_skip, what in self.parts:
            label = name + ":"
            print(f"{label:9}{n_pass} passed, {n_fail} failed, {n_skip} skipped ({what})")
        passed = sum(p[1] for p in self.parts)
        failed = sum(p[2] for p in self.parts)
        skipped = sum(p[3] for p in self.parts)
        line = f"check: {passed} passed, {failed} failed, {skipped} skipped"
        print(self.progress.paint(line, "red" if failed else "green"), flush=True)
        for rc in self.rcs:
            if rc in (2, 3):
                return rc
        return 1 if failed else 0


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="run_checks.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--profile", default=os.environ.get("PROFILE") or "coverage",
                   help="profile of the main job (default: $PROFILE or coverage)")
    p.add_argument("--no-kernel", action="store_true", help="only pytest and mypy")
    p.add_argument("--debug", action="store_true",
                   help="also run the debug profile (sanitizers) and prove it catches a "
                   "planted bug; their counts join the closing line (what CI runs)")
    p.add_argument("--shards", type=int, default=2, metavar="N",
                   help="the kernel part runs its matrix cells as N shards in sequence, then "
                   "merges them (default 2), as a CI with N runners would")
    p.add_argument("--compare-shards", action="store_true",
                   help="also run the coverage cells unsharded and compare them with the 4 "
                   "shards of gitlab-ci-local (tools/check_ci.py --compare)")
    p.add_argument("--bisect", action="store_true",
                   help="also run tgtsim check-bisect --shared-ccache (its quick form; CI runs it)")
    p.add_argument("--slow", action="store_true",
                   help="also the slow tests (a kernel build of their own: diff coverage of a "
                   "history, tools/tests/test_diffcov_kernel.py)")
    p.add_argument("--pytest-runs", type=int, default=1, metavar="N",
                   help="run pytest N times in a row; runs 2..N are the `flake` part, one "
                   "check each")
    p.add_argument("--no-deps", action="store_true", help="skip the dependency step")
    p.add_argument("--no-ccache", action="store_true", help="do not use ccache")
    p.add_argument("--kernel-src", default=os.environ.get("KERNEL_SRC") or None,
                   metavar="PATH", help="a Linux 6.12 git tree as base (default: $KERNEL_SRC)")
    p.add_argument("--kernel-ref", default=os.environ.get("KERNEL_REF") or None,
                   metavar="REF", help="ref of --kernel-src (default: $KERNEL_REF or HEAD)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: out/)")
    p.add_argument("--build-dir", metavar="DIR", help="build directory (default: build/)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2,
                   help="parallel make jobs (default: nproc)")
    p.add_argument("-v", "--verbose", action="store_true", help="full output of the kernel jobs")
    args, passthrough = p.parse_known_args(list(argv))
    if args.no_kernel and passthrough:
        p.error(f"{' '.join(passthrough)}: options of `tgtsim shard`, not for --no-kernel")
    if args.pytest_runs < 1:
        p.error(f"--pytest-runs must be >= 1 (got {args.pytest_runs})")
    if args.shards < 1:
        p.error(f"--shards must be >= 1 (got {args.shards})")
    return args, passthrough


def main(argv: Sequence[str]) -> int:
    args, passthrough = parse(argv)
    checks = Checks(args, passthrough)
    try:
        (checks.out / "pytest").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        sys.stderr.write(f"run_checks.py: error: cannot write to {checks.out}: "
                         f"{e.strerror or e}\n")
        return 3
    if args.no_kernel:
        checks.pytest()
        checks.mypy()
        checks.ci(static=True)
    else:
        checks.kernel()
    return checks.report()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.stderr.write("\nrun_checks.py: interrupted\n")
        sys.exit(130)
