"""The KUnit results of a boot: kunit_parser's Test tree (ktap.py) flattened
into suites and cases, whether the boot crashed (panic, oops, hang,
truncated or missing KTAP), and its sanitizer reports (sanitizers.py), each
a failure of its own."""

from __future__ import annotations

import re
from typing import Any, Optional

from tgtsim import sanitizers
from tgtsim.console import BootWords, boot_crash
from tgtsim.ktap import Ktap, skip_reasons
from tgtsim.results import CRASHED, FAILED, SKIPPED, Case, Crash, Results, status_of, tail
from tgtsim.sanitizers import Report

KMEMLEAK_SUITE = "tgt_kmemleak"
FAIL_MESSAGE = re.compile(r"(EXPECTATION|ASSERTION) FAILED|try (faulted|timed out)|failed")


def _message(case: Case, skips: dict[str, str]) -> str:
    if case.status == SKIPPED:
        return skips.get(case.name.rsplit("/", 1)[-1], "skipped")
    if case.status == CRASHED:
        return "test crashed or did not report a result"
    if case.status == FAILED:
        for line in case.log:
            if FAIL_MESSAGE.search(line):
                return line.strip().lstrip("#").strip()
        return "failed"
    return ""


def _leaves(test: Any, suite: str, prefix: str, out: list[Case],
            durations: dict[int, float]) -> None:
    for i, sub in enumerate(test.subtests, 1):
        name = sub.name or f"<missing test {i}>"
        full = f"{prefix}/{name}" if prefix else name
        if sub.subtests:
            _leaves(sub, suite, full, out, durations)
        else:
            out.append(Case(suite=suite, name=full, status=status_of(sub),
                            log=[str(ln) for ln in sub.log], time=durations.get(id(sub))))


def _adopt_first_param_lines(parsed: Ktap, cases: list[Case]) -> None:
    """kunit_parser files what the first parameter of a parameterized case
    printed (its assertions, its chunk traces) in the case's own header
    log, not the parameter's: give those lines (as ktap.py's `during` says,
    the test whose result came next) back to the parameter."""
    by_name = {f"{c.suite}.{c.name}": c for c in cases}

    def walk(test: Any, depth: int) -> None:
        if depth >= 2 and test.subtests:       # a case with parameters
            moved: dict[int, list[str]] = {}
            for line in test.log:
                no = getattr(line, "no", 0)
                case = by_name.get(parsed.during[no - 1]) if 0 < no <= len(parsed.during) \
                    else None
                if case is not None:
                    moved.setdefault(id(case), []).append(str(line))
                    case_of[id(case)] = case
            for key, lines in moved.items():
                case_of[key].log = lines + case_of[key].log
        for sub in test.subtests:
            walk(sub, depth + 1)

    case_of: dict[int, Case] = {}
    walk(parsed.test, 0)


def kmemleak_check(res: Results) -> Optional[Report]:
    """A failure if the end-of-run kmemleak scan (suite tgt_kmemleak) is
    missing or did not run last; None if it ran (its own failure, if it
    failed, is a KUnit failure)."""
    problem = ""
    if KMEMLEAK_SUITE not in res.suites:
        problem = f"no end-of-run kmemleak scan: the {KMEMLEAK_SUITE} suite did not run"
    elif res.suites[-1] != KMEMLEAK_SUITE:
        problem = (f"the kmemleak scan did not run last: {res.suites[-1]} ran after "
                   f"{KMEMLEAK_SUITE}, its leaks are not checked")
    if not problem:
        return None
    return Report(kind="kmemleak", title=problem, lines=[], line_no=0,
                  during="after the tests")


WORDS = BootWords(crash="kernel crash",
                  no_ktap="no KTAP output: the kernel did not run any KUnit test",
                  exited="kernel exited with status {rc}")


def _incomplete(parsed: Ktap, res: Results) -> str:
    test = parsed.test
    if test.counts.crashed or test.counts.errors or test.status.name == "TEST_CRASHED":
        return "truncated or malformed KTAP output (kernel stopped before all tests reported)"
    if not res.cases:
        return "no KUnit test ran (0 tests)"
    return ""


def analyse(lines: list[str], parsed: Ktap, hang: str = "",
            returncode: Optional[int] = 0, expect_kmemleak: bool = False,
            times: Optional[list[Optional[float]]] = None) -> Results:
    """Results of the KUnit boot from its console `lines` and their parse.

    `times` are the lines' printk times (console.split_times): each case's
    duration. `hang` is a reason given by the watchdog (timeout, no output); a non-zero
    `returncode` of the kernel process is a crash too. Every sanitizer
    report is a failure; with `expect_kmemleak` (a kernel with kmemleak and
    no --filter) a missing end-of-run leak scan is one as well.
    """
    res = Results(parser_output=parsed.printed)
    durations = parsed.durations(lines, times) if times else {}
    for top in parsed.test.subtests:
        suite = top.name or "<unnamed>"
        if suite not in res.suites:
            res.suites.append(suite)
        if top.subtests:
            _leaves(top, suite, "", res.cases, durations)
        else:
            res.cases.append(Case(suite=suite, name=suite, status=status_of(top),
                                  log=[str(ln) for ln in top.log],
                                  time=durations.get(id(top))))
    _adopt_first_param_lines(parsed, res.cases)
    skips = skip_reasons(lines)
    for c in res.cases:
        c.message = _message(c, skips)
    reason = boot_crash(lines, hang, parsed.test.status.name == "FAILURE_TO_PARSE_TESTS",
                        _incomplete(parsed, res), returncode, WORDS)
    if reason:
        res.crash = Crash(reason=reason, tail=tail(lines))
    found = sanitizers.scan(lines, parsed)
    res.sanitizer, res.allowed = found.reports, found.allowed
    if expect_kmemleak and not res.crash:
        missing = kmemleak_check(res)
        if missing:
            res.sanitizer.append(missing)
    return res
