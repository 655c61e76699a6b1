"""KUnit results from a console log: the tree's kunit_parser does the parsing,
this module flattens its Test tree into suites and cases and decides whether
the boot crashed (panic, oops, hang, truncated or missing KTAP). Sanitizer
reports (KASAN, lockdep, kmemleak, WARN, ...; see sanitizers.py) are
failures of their own."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim import kunit_tools, sanitizers
from tgtsim.sanitizers import Report

PASSED, FAILED, SKIPPED, CRASHED = "passed", "failed", "skipped", "crashed"
TAIL_LINES = 60

# a line that starts a sanitizer report (sanitizers.start_kind) is not a crash
CRASH_PATTERNS = [
    re.compile(p) for p in (
        r"Kernel panic - not syncing", r"\bOops\b", r"\bBUG: ", r"kernel BUG at",
        r"general protection fault", r"Segmentation fault", r"Unable to handle kernel",
        r"Kernel mode (?:fault|signal)", r"Stack overflow",
        r"unregister_netdevice: waiting", r"watchdog: BUG: soft lockup",
    )
]
KMEMLEAK_SUITE = "tgt_kmemleak"
FAIL_MESSAGE = re.compile(r"(EXPECTATION|ASSERTION) FAILED|try (faulted|timed out)|failed")


@dataclass
class Case:
    suite: str
    name: str
    status: str
    message: str = ""
    log: list[str] = field(default_factory=list)


@dataclass
class Crash:
    reason: str
    tail: list[str]
    where: str = "kernel"   # the step that failed: kernel, build, prepare...


@dataclass
class Results:
    cases: list[Case] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    crash: Optional[Crash] = None
    parser_output: str = ""
    sanitizer: list[Report] = field(default_factory=list)   # each one a failure
    allowed: list[Report] = field(default_factory=list)     # allow-listed, not failures

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)

    @property
    def passed(self) -> int:
        return self.count(PASSED)

    @property
    def failed(self) -> int:
        # crashed cases are failures; a crash of the whole boot is one more,
        # and so is each sanitizer report
        return self.count(FAILED) + self.count(CRASHED) + (1 if self.crash else 0) \
            + len(self.sanitizer)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    def closing_line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"

    def exit_code(self) -> int:
        if self.crash:
            return 3
        return 1 if self.failed else 0

    def suite_cases(self, suite: str) -> list[Case]:
        return [c for c in self.cases if c.suite == suite]

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {"passed": self.passed, "failed": self.failed, "skipped": self.skipped},
            "crash": asdict(self.crash) if self.crash else None,
            "sanitizer": [r.to_dict() for r in self.sanitizer],
            "allowed": [r.to_dict() for r in self.allowed],
            "suites": [{"name": s, "status": suite_status(self.suite_cases(s)),
                        "cases": [asdict(c) for c in self.suite_cases(s)]}
                       for s in self.suites],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Results":
        r = cls()
        for s in d.get("suites", []):
            r.suites.append(s["name"])
            r.cases.extend(Case(**c) for c in s["cases"])
        if d.get("crash"):
            r.crash = Crash(**d["crash"])
        r.sanitizer = [Report.from_dict(x) for x in d.get("sanitizer") or []]
        r.allowed = [Report.from_dict(x) for x in d.get("allowed") or []]
        return r


def suite_status(cases: list[Case]) -> str:
    if any(c.status in (FAILED, CRASHED) for c in cases):
        return FAILED
    if cases and all(c.status == SKIPPED for c in cases):
        return SKIPPED
    return PASSED


def _status(test: Any) -> str:
    name = test.status.name
    return {"SUCCESS": PASSED, "SKIPPED": SKIPPED, "FAILURE": FAILED}.get(name, CRASHED)


def _message(case: Case, skip_reasons: dict[str, str]) -> str:
    if case.status == SKIPPED:
        return skip_reasons.get(case.name.rsplit("/", 1)[-1], "skipped")
    if case.status == CRASHED:
        return "test crashed or did not report a result"
    if case.status == FAILED:
        for line in case.log:
            if FAIL_MESSAGE.search(line):
                return line.strip().lstrip("#").strip()
        return "failed"
    return ""


def _leaves(test: Any, suite: str, prefix: str, out: list[Case]) -> None:
    for i, sub in enumerate(test.subtests, 1):
        name = sub.name or f"<missing test {i}>"
        full = f"{prefix}/{name}" if prefix else name
        if sub.subtests:
            _leaves(sub, suite, full, out)
        else:
            out.append(Case(suite=suite, name=full, status=_status(sub),
                            log=[ln for ln in sub.log]))


def detect_crash(lines: list[str]) -> Optional[str]:
    for line in lines:
        if sanitizers.start_kind(line):
            continue
        for pat in CRASH_PATTERNS:
            if pat.search(line):
                return line.strip()
    return None


def tail(lines: list[str], n: int = TAIL_LINES) -> list[str]:
    return lines[-n:]


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


def analyze(lines: list[str], kunit_dir: Path, hang: str = "",
            returncode: Optional[int] = 0, expect_kmemleak: bool = False) -> Results:
    """Results of one boot from its console `lines`.

    `hang` is a reason given by the watchdog (timeout, no output); a non-zero
    `returncode` of the kernel process is a crash too. Every sanitizer
    report is a failure; with `expect_kmemleak` (a kernel with kmemleak and
    no --filter) a missing end-of-run leak scan is one as well.
    """
    test, printed = kunit_tools.parse(kunit_dir, lines)
    res = Results(parser_output=printed)
    skip_reasons = {}
    for line in lines:
        m = re.search(r"\bok \d+ (?:- )?(\S+) # SKIP ?(.*)$", line)
        if m:
            skip_reasons.setdefault(m.group(1), m.group(2).strip() or "skipped")
    for top in test.subtests:
        suite = top.name or "<unnamed>"
        if suite not in res.suites:
            res.suites.append(suite)
        if top.subtests:
            _leaves(top, suite, "", res.cases)
        else:
            res.cases.append(Case(suite=suite, name=suite, status=_status(top), log=list(top.log)))
    for c in res.cases:
        c.message = _message(c, skip_reasons)

    reason = ""
    if hang:
        reason = hang
    elif (panic := detect_crash(lines)):
        reason = f"kernel crash: {panic}"
    elif test.status.name == "FAILURE_TO_PARSE_TESTS" or not lines:
        reason = "no KTAP output: the kernel did not run any KUnit test"
    elif test.counts.crashed or test.counts.errors or test.status.name == "TEST_CRASHED":
        reason = "truncated or malformed KTAP output (kernel stopped before all tests reported)"
    elif not res.cases:
        reason = "no KUnit test ran (0 tests)"
    elif returncode not in (0, None):
        reason = f"kernel exited with status {returncode}"
    if reason:
        res.crash = Crash(reason=reason, tail=tail(lines))
    found = sanitizers.scan(lines)
    res.sanitizer, res.allowed = found.reports, found.allowed
    if expect_kmemleak and not res.crash:
        missing = kmemleak_check(res)
        if missing:
            res.sanitizer.append(missing)
    return res
