"""The kselftest boot: build selftests/ (make), boot the same UML kernel with
selftests/init.sh as PID 1 (hostfs root), and merge its results into the
run's Results: one suite `selftests.<program>` per program, one case per
kselftest_harness test. The console's KTAP is parsed by the tree's
kunit_parser; the expected test names come from each program's `--list`
(run on the host), so tests that never reported are still named.

A failing test is a failed case with its assertion lines; a test that did
not finish (program timeout, hang, UML crash) and the tests after it are
failed cases carrying the console tail; a hang or crash of the boot is also
the run's crash (exit 3) unless the KUnit boot already had one."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim import kunit_tools
from tgtsim.errors import BuildError
from tgtsim.paths import Paths
from tgtsim.procs import Result, run_watched, watchdog_reason
from tgtsim.progress import Progress
from tgtsim.results import (CRASHED, FAILED, PASSED, SKIPPED, Case, Crash, Results,
                            detect_crash, tail)

SUITE_PREFIX = "selftests."
CONSOLE = "selftests-console.log"
KTAP = "selftests.ktap"
BUILD_LOG = "selftests-build.log"
DONE_MARKER = "# tgtsim selftests: done"
DEFAULT_TIMEOUT = 300.0
PROGRAM_TIMEOUT = 120
# the boot line of the issue; stdin is /dev/null, the console fd 0/1
UML_ARGS = ["mem=256M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw",
            "con=null", "con0=fd:0,fd:1", "kunit.enable=0"]

# "# /path/file.c:123:test_name:text" (kselftest_harness TH_LOG / ASSERT)
_TH_LOG = re.compile(r"^\s*#\s+(?:\S*/)?([^/\s:]+:\d+):[^:\s]*:(.*)$")
_TERMINATED = re.compile(r"^\s*#\s+\S+: (Test (?:terminated|failed|exited|ended).*)$")


@dataclass
class SelftestOptions:
    timeout: float = DEFAULT_TIMEOUT    # the whole selftest boot
    idle_timeout: float = 120.0         # no console output
    filter_glob: str = ""               # program names (init.sh tgtsim_filter)
    seed: Optional[int] = None
    kernel_args: list[str] = field(default_factory=list)
    jobs: int = 2

    @property
    def program_timeout(self) -> int:
        return max(1, int(min(PROGRAM_TIMEOUT, self.timeout)))

    def args(self, init: Path, programs_dir: Path) -> list[str]:
        a = list(UML_ARGS) + [f"init={init}", f"tgtsim_selftests={programs_dir}",
                              f"tgtsim_timeout={self.program_timeout}"]
        if self.filter_glob:
            a.append(f"tgtsim_filter={self.filter_glob}")
        if self.seed is not None:
            a.append(f"tgtsim_seed={self.seed}")
        return a + list(self.kernel_args)


@dataclass
class Program:
    name: str
    description: str
    tests: list[str]


@dataclass
class Prepared:
    """The built programs, or why they could not be built."""
    out_dir: Path
    programs: list[Program] = field(default_factory=list)
    error: Optional[BuildError] = None


def build(paths: Paths, log: Path, jobs: int, progress: Progress) -> Path:
    """make -C selftests KSRC=build/linux O=build/selftests; BuildError on failure."""
    out_dir = paths.build / "selftests"
    cmd = ["make", "-C", str(paths.root / "selftests"), f"-j{max(1, jobs)}",
           f"KSRC={paths.linux}", f"O={out_dir}"]
    progress.info("selftests: " + " ".join(cmd))
    try:
        cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="backslashreplace")
    except OSError as e:
        raise BuildError(f"selftests build failed: cannot run make: {e.strerror or e}") from None
    try:
        log.write_text(cp.stdout)
    except OSError:
        pass
    if cp.returncode != 0:
        lines = cp.stdout.splitlines()
        errors = [ln for ln in lines if re.search(r"error|Error|No such file|not found", ln)]
        raise BuildError(f"selftests build failed (make -C selftests, exit {cp.returncode})",
                         detail="\n".join((errors or lines)[-40:]))
    return out_dir


def read_programs(out_dir: Path) -> list[Program]:
    """tests.list (name<TAB>description) and each program's --list."""
    listing = out_dir / "tests.list"
    try:
        rows = listing.read_text().splitlines()
    except OSError as e:
        raise BuildError(f"selftests build made no readable {listing}: {e.strerror or e}") from None
    progs = []
    for row in rows:
        if not row.strip():
            continue
        name, _, desc = row.partition("\t")
        exe = out_dir / name
        try:
            cp = subprocess.run([str(exe), "--list"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BuildError(f"selftest {name}: cannot list its tests: {e}") from None
        if cp.returncode != 0:
            raise BuildError(f"selftest {name}: `{exe} --list` failed (exit {cp.returncode})",
                             detail=cp.stderr)
        progs.append(Program(name, desc.strip(), [t for t in cp.stdout.split() if t]))
    return progs


def prepare(paths: Paths, run_dir: Path, opts: SelftestOptions, progress: Progress) -> Prepared:
    """Build and list the programs; a failure is kept, not raised, so that
    the KUnit boot of the same run still happens and is reported."""
    out_dir = paths.build / "selftests"
    try:
        with progress.step("build selftests"):
            out_dir = build(paths, run_dir / BUILD_LOG, opts.jobs, progress)
            return Prepared(out_dir, read_programs(out_dir))
    except BuildError as e:
        return Prepared(out_dir, error=e)


def selected(programs: list[Program], glob: str) -> list[Program]:
    return [p for p in programs if not glob or fnmatch.fnmatchcase(p.name, glob)]


def boot(binary: Path, init: Path, prep: Prepared, opts: SelftestOptions, console: Path,
         progress: Progress) -> Result:
    cmd = [str(binary), *opts.args(init, prep.out_dir)]
    progress.info("boot: " + " ".join(cmd))
    return run_watched(cmd, cwd=binary.parent, log=console, on_line=progress.output,
                       timeout=opts.timeout, idle_timeout=opts.idle_timeout)


def hang_reason(res: Result, opts: SelftestOptions) -> str:
    return watchdog_reason(res, "selftest boot", opts.timeout, opts.idle_timeout)


def failure_message(log: list[str]) -> str:
    """The first assertion of a failed test ("Expected ..."), with the note
    logged right after it; else its first logged line, else the harness's
    verdict ("Test terminated by timeout")."""
    hits = [(i, m.group(1), m.group(2).strip()) for i, m in
            enumerate(map(_TH_LOG.match, log)) if m]
    for k, (i, where, text) in enumerate(hits):
        if text.startswith("Expected"):
            if k + 1 < len(hits) and hits[k + 1][0] == i + 1 and \
                    not hits[k + 1][2].startswith("Expected"):
                text = f"{hits[k + 1][2]} ({text})"
            return f"{where}: {text}"[:400]
    if hits:
        return f"{hits[0][1]}: {hits[0][2]}"[:400]
    for line in log:
        m = _TERMINATED.match(line)
        if m:
            return m.group(1)
    return "failed"


def _status(test: Any) -> str:
    return {"SUCCESS": PASSED, "SKIPPED": SKIPPED, "FAILURE": FAILED}.get(test.status.name,
                                                                       CRASHED)


def _started(log: list[str], name: str) -> bool:
    return any(re.search(r"#\s+RUN\s+" + re.escape(name) + r" \.\.\.", ln) for ln in log)


def _boot_problem(lines: list[str], test: Any, hang: str, returncode: Optional[int],
                  expected: int) -> str:
    if hang:
        return hang
    panic = detect_crash(lines)
    if panic:
        return f"kernel crash during selftests: {panic}"
    if test.status.name == "FAILURE_TO_PARSE_TESTS" or not lines:
        return "no KTAP output from the selftest boot (init.sh did not run)"
    if not any(ln.strip() == DONE_MARKER for ln in lines) or len(test.subtests) < expected:
        return "selftest boot ended before all selftests reported"
    if returncode not in (0, None):
        return f"kernel exited with status {returncode} after the selftests"
    return ""


def _program_note(prog: Any) -> str:
    """Why a program stopped early: init.sh's timeout note, which the parser
    files in the program's log or in a missing test's."""
    logs = [prog.log] + [s.log for s in prog.subtests] if prog is not None else []
    for log in logs:
        for line in log:
            m = re.search(r"timed out after (\d+)s", line)
            if m:
                return f"program timed out after {m.group(1)} s (killed)"
    return ""


def _skip_reasons(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        m = re.search(r"\bok \d+ (?:- )?(\S+) # SKIP ?(.*)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip() or "skipped")
    return out


def _program_skip_reason(lines: list[str], name: str) -> str:
    """Why a program skipped itself as a whole: its "1..0 # SKIP reason"."""
    inside = False
    for line in lines:
        if re.search(r"#\s+Subtest: " + re.escape(name) + r"\s*$", line):
            inside = True
        elif inside:
            m = re.search(r"\b1\.\.0 # SKIP ?(.*)$", line)
            if m:
                return m.group(1).strip() or "skipped"
            if re.match(r"(?:not )?ok \d+ ", line):
                break
    return "skipped"


def analyze(lines: list[str], kunit_dir: Path, programs: list[Program], hang: str = "",
            returncode: Optional[int] = 0) -> tuple[list[Case], list[str], Optional[Crash]]:
    """Cases, suites and the boot's crash (if any) of a selftest console."""
    test, _printed = kunit_tools.parse(kunit_dir, lines)
    boot = _boot_problem(lines, test, hang, returncode, len(programs))
    console_tail = tail(lines)
    crash_line = detect_crash(lines)
    skips = _skip_reasons(lines)
    cases: list[Case] = []
    suites: list[str] = []
    parsed = list(test.subtests)
    by_name = {t.name: t for t in parsed if t.name}
    unfinished = ""     # the first test without a result

    for i, prog in enumerate(programs):
        suite = SUITE_PREFIX + prog.name
        suites.append(suite)
        pt = by_name.get(prog.name)
        if pt is None and i < len(parsed) and not parsed[i].name:
            pt = parsed[i]
        subs = list(pt.subtests) if pt is not None else []
        sub_by_name = {s.name: s for s in subs if s.name}
        note = _program_note(pt)
        # a program that skipped itself (a requirement missing) ran no test
        prog_skip = (_program_skip_reason(lines, prog.name) if pt is not None and pt.name
                     and _status(pt) == SKIPPED and not subs else "")
        names = list(prog.tests) + [s.name for s in subs
                                     if s.name and s.name not in prog.tests]
        prog_cases = []
        for j, name in enumerate(names):
            st = sub_by_name.get(name)
            if st is None and j < len(subs) and not subs[j].name:
                st = subs[j]
            log = list(st.log) if st is not None else []
            status = _status(st) if st is not None and st.name else CRASHED
            case = Case(suite=suite, name=name, status=status, log=log)
            if status == CRASHED and prog_skip:
                case.status, case.message = SKIPPED, prog_skip
            elif status == FAILED:
                case.message = failure_message(log)
            elif status == SKIPPED:
                case.message = skips.get(name, "skipped")
            elif status == CRASHED:
                why = note or boot or (f"{prog.name} exited before reporting it"
                                       if pt is not None else f"{prog.name} did not run")
                if _started(log, name) and not unfinished:
                    unfinished = f"{suite}/{name}"
                    case.message = f"did not finish: {why}"
                else:
                    case.message = f"not run: {why}" + (
                        f" (during {unfinished})" if unfinished else "")
                case.log = log + ["", "--- console tail ---"] + console_tail
            if crash_line and status != CRASHED and any(crash_line in ln for ln in log):
                case.status = FAILED
                case.message = f"kernel crash during this test: {crash_line}"
                case.log = log + ["", "--- console tail ---"] + console_tail
            prog_cases.append(case)
        # the program failed although none of its tests did: report it too
        if pt is not None and pt.name and _status(pt) == FAILED and \
                not any(c.status in (FAILED, CRASHED) for c in prog_cases):
            prog_cases.append(Case(suite=suite, name="(program)", status=FAILED,
                                   message=note or f"{prog.name} failed after its tests",
                                   log=list(pt.log)))
        cases.extend(prog_cases)

    crash = Crash(reason=boot, tail=console_tail, where="selftests") if boot else None
    return cases, suites, crash


def merge(results: Results, cases: list[Case], suites: list[str],
          crash: Optional[Crash]) -> None:
    """Add the selftests to a run's results; the first crash is the run's."""
    for s in suites:
        if s not in results.suites:
            results.suites.append(s)
    results.cases.extend(cases)
    if crash is not None and results.crash is None:
        results.crash = crash


def _write_ktap(path: Path, lines: list[str]) -> None:
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "KTAP version 1"), None)
    path.write_text("" if start is None else "\n".join(lines[start:]) + "\n")


def run(binary: Path, init: Path, run_dir: Path, prep: Prepared, opts: SelftestOptions,
        kunit_dir: Path, results: Results, meta: dict[str, Any], progress: Progress) -> None:
    """Boot the selftests (if they were built) and merge their results."""
    info: dict[str, Any] = {"programs": [asdict(p) for p in selected(prep.programs,
                                                                     opts.filter_glob)]}
    meta["selftests"] = info
    if prep.error is not None:
        info["build_error"] = prep.error.message
        info["build_detail"] = prep.error.detail
        _apply_build_error(results, info)
        return
    console = run_dir / CONSOLE
    with progress.step("boot selftests"):
        res = boot(binary, init, prep, opts, console, progress)
    hang = hang_reason(res, opts)
    info.update({"duration": round(res.duration, 1), "returncode": res.returncode,
                 "hang": hang, "kernel_args": opts.args(init, prep.out_dir)})
    _write_ktap(run_dir / KTAP, res.lines)
    progs = [Program(**p) for p in info["programs"]]
    merge(results, *analyze(res.lines, kunit_dir, progs, hang=hang, returncode=res.returncode))


def _apply_build_error(results: Results, info: dict[str, Any]) -> None:
    detail = str(info.get("build_detail", ""))
    crash = Crash(reason=str(info["build_error"]), tail=detail.splitlines()[-60:],
                  where="selftests-build")
    merge(results, [], [], crash)
    if results.crash is not crash:   # the KUnit boot crashed: still report it
        results.cases.append(Case(suite="tgtsim", name="selftests-build", status=FAILED,
                                  message=crash.reason, log=crash.tail))


def reanalyze(run_dir: Path, meta: dict[str, Any], kunit_dir: Path, results: Results) -> None:
    """`tgtsim report`: re-parse the selftest console of a run (if it had one)."""
    info = meta.get("selftests")
    if not isinstance(info, dict):
        return
    if info.get("build_error"):
        _apply_build_error(results, info)
        return
    console = run_dir / CONSOLE
    if not console.is_file():
        return
    lines = console.read_text(errors="backslashreplace").splitlines()
    progs = [Program(**p) for p in info.get("programs", [])]
    merge(results, *analyze(lines, kunit_dir, progs, hang=str(info.get("hang", "")),
                            returncode=info.get("returncode", 0)))
