"""The results of a run: its cases (KUnit cases and selftests, each of a
suite), the crash that stopped it if any, its sanitizer reports; counted,
with the run's Status and exit code. Only the data: kunit_results.py,
selftests.py and sanitizers.py fill it from the consoles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from tgtsim.errors import Status
from tgtsim.sanitizers import Report

PASSED, FAILED, SKIPPED, CRASHED = "passed", "failed", "skipped", "crashed"
TAIL_LINES = 60

# the step a crash happened in -> whose failure it is
CRASH_STATUS: dict[str, Status] = {
    "kernel": Status.KERNEL_CRASH, "selftests": Status.KERNEL_CRASH,
    "prepare": Status.BUILD_FAILURE, "build": Status.BUILD_FAILURE,
    "selftests-build": Status.TOOL_FAILURE, "coverage": Status.TOOL_FAILURE,
}


@dataclass
class Case:
    suite: str
    name: str
    status: str
    message: str = ""
    log: list[str] = field(default_factory=list)
    time: Optional[float] = None    # seconds, from the KTAP/kselftest output (None: not given)


@dataclass
class Crash:
    reason: str
    tail: list[str]
    where: str = "kernel"   # the step that failed: kernel, build, prepare...

    @property
    def status(self) -> Status:
        return CRASH_STATUS.get(self.where, Status.TOOL_FAILURE)


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

    @property
    def status(self) -> Status:
        if self.crash:
            return self.crash.status
        return Status.TEST_FAILURE if self.failed else Status.SUCCESS

    def exit_code(self) -> int:
        return self.status.exit_code

    def suite_cases(self, suite: str) -> list[Case]:
        return [c for c in self.cases if c.suite == suite]

    def add(self, cases: list[Case], suites: list[str], crash: Optional[Crash]) -> None:
        """Add the cases of another boot; the first crash stays the run's."""
        for s in suites:
            if s not in self.suites:
                self.suites.append(s)
        self.cases.extend(cases)
        if crash is not None and self.crash is None:
            self.crash = crash

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


def status_of(test: Any) -> str:
    """The status of a case from kunit_parser's Test."""
    return {"SUCCESS": PASSED, "SKIPPED": SKIPPED, "FAILURE": FAILED}.get(test.status.name,
                                                                       CRASHED)


def tail(lines: list[str], n: int = TAIL_LINES) -> list[str]:
    return lines[-n:]
