"""The selftest results of a run: the selftest boot's console (its KTAP read
by the tree's kunit_parser, ktap.py) into one suite `selftests.<program>`
per program, one case per kselftest_harness test. The expected tests come
from each program's `--list` (selftest_build.py), so tests that never
reported are still named.

A failing test is a failed case with its assertion lines; a test that did
not finish (program timeout, hang, UML crash) and the tests after it are
failed cases carrying the console tail; a hang or crash of the boot is also
the run's crash (exit 3) unless the KUnit boot already had one. Programs
that did not build are the run's crash too (the tool's failure)."""

from __future__ import annotations

import re
from typing import Any, Optional

from tgtsim.boots import SelftestInfo
from tgtsim.console import BootWords, boot_crash, detect_crash
from tgtsim.ktap import Ktap, skip_reasons
from tgtsim.results import CRASHED, FAILED, SKIPPED, Case, Crash, Results, status_of, tail
from tgtsim.selftest_build import Program

SUITE_PREFIX = "selftests."
KTAP = "selftests.ktap"
DONE_MARKER = "# tgtsim selftests: done"

# "# /path/file.c:123:test_name:text" (kselftest_harness TH_LOG / ASSERT)
_TH_LOG = re.compile(r"^\s*#\s+(?:\S*/)?([^/\s:]+:\d+):[^:\s]*:(.*)$")
# init.sh's note of the guest's clock before a test's RUN and result lines
TIME_LINE = re.compile(r"^\s*# tgtsim-time: (\d+(?:\.\d+)?)\s*$")
_SUBTEST = re.compile(r"^    # Subtest: (\S+)\s*$")
_RUN = re.compile(r"^    #\s+RUN\s+(\S+) \.\.\.")
_RESULT = re.compile(r"^    (?:not )?ok \d+ (?:- )?(\S+)")
_TERMINATED = re.compile(r"^\s*#\s+\S+: (Test (?:terminated|failed|exited|ended).*)$")


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


def test_times(lines: list[str]) -> dict[tuple[str, str], float]:
    """(program, test) -> seconds from its RUN line to its result line, by the
    guest clock init.sh prints before each (kselftest_harness flushes its
    output before each test's fork, so a line reaches init.sh when it is
    printed)."""
    out: dict[tuple[str, str], float] = {}
    prog, now = "", None
    started: dict[str, float] = {}
    for line in lines:
        m = _SUBTEST.match(line)
        if m:
            prog, now, started = m.group(1), None, {}
            continue
        m = TIME_LINE.match(line)
        if m:
            now = float(m.group(1))
            continue
        if not prog or now is None:
            continue
        m = _RUN.match(line)
        if m:
            started[m.group(1)] = now
            continue
        m = _RESULT.match(line)
        if m and m.group(1) in started:
            out[(prog, m.group(1))] = round(max(0.0, now - started.pop(m.group(1))), 6)
    return out


def _started(log: list[str], name: str) -> bool:
    return any(re.search(r"#\s+RUN\s+" + re.escape(name) + r" \.\.\.", ln) for ln in log)


WORDS = BootWords(crash="kernel crash during selftests",
                  no_ktap="no KTAP output from the selftest boot (init.sh did not run)",
                  exited="kernel exited with status {rc} after the selftests")


def _boot_problem(lines: list[str], test: Any, hang: str, returncode: Optional[int],
                  expected: int) -> str:
    incomplete = ""
    if not any(ln.strip() == DONE_MARKER for ln in lines) or len(test.subtests) < expected:
        incomplete = "selftest boot ended before all selftests reported"
    return boot_crash(lines, hang, test.status.name == "FAILURE_TO_PARSE_TESTS", incomplete,
                      returncode, WORDS)


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


def analyse(lines: list[str], parsed: Ktap, programs: list[Program], hang: str = "",
            returncode: Optional[int] = 0) -> tuple[list[Case], list[str], Optional[Crash]]:
    """Cases, suites and the boot's crash (if any) of a selftest console."""
    test = parsed.test
    boot = _boot_problem(lines, test, hang, returncode, len(programs))
    console_tail = tail(lines)
    crash_line = detect_crash(lines)
    skips = skip_reasons(lines)
    times = test_times(lines)
    cases: list[Case] = []
    suites: list[str] = []
    reported = list(test.subtests)
    by_name = {t.name: t for t in reported if t.name}
    unfinished = ""     # the first test without a result

    for i, prog in enumerate(programs):
        suite = SUITE_PREFIX + prog.name
        suites.append(suite)
        pt = by_name.get(prog.name)
        if pt is None and i < len(reported) and not reported[i].name:
            pt = reported[i]
        subs = list(pt.subtests) if pt is not None else []
        sub_by_name = {s.name: s for s in subs if s.name}
        note = _program_note(pt)
        # a program that skipped itself (a requirement missing) ran no test
        prog_skip = (_program_skip_reason(lines, prog.name) if pt is not None and pt.name
                     and status_of(pt) == SKIPPED and not subs else "")
        names = list(prog.tests) + [s.name for s in subs
                                     if s.name and s.name not in prog.tests]
        prog_cases = []
        for j, name in enumerate(names):
            st = sub_by_name.get(name)
            if st is None and j < len(subs) and not subs[j].name:
                st = subs[j]
            log = [str(ln) for ln in st.log if not TIME_LINE.match(str(ln))] \
                if st is not None else []
            status = status_of(st) if st is not None and st.name else CRASHED
            case = Case(suite=suite, name=name, status=status, log=log,
                        time=times.get((prog.name, name)))
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
        if pt is not None and pt.name and status_of(pt) == FAILED and \
                not any(c.status in (FAILED, CRASHED) for c in prog_cases):
            prog_cases.append(Case(suite=suite, name="(program)", status=FAILED,
                                   message=note or f"{prog.name} failed after its tests",
                                   log=[str(ln) for ln in pt.log]))
        cases.extend(prog_cases)

    crash = Crash(reason=boot, tail=console_tail, where="selftests") if boot else None
    return cases, suites, crash


def add_build_error(results: Results, info: SelftestInfo) -> None:
    """Programs that did not build: the run's crash (the tool's failure),
    or, when the KUnit boot crashed, a failed case of its own."""
    detail = info.build_detail or ""
    crash = Crash(reason=info.build_error or "selftests build failed",
                  tail=detail.splitlines()[-60:], where="selftests-build")
    results.add([], [], crash)
    if results.crash is not crash:   # the KUnit boot crashed: still report it
        results.cases.append(Case(suite="tgtsim", name="selftests-build", status=FAILED,
                                  message=crash.reason, log=crash.tail))
