"""KTAP of a console, read once with the kernel tree's own kunit_parser
(tools/testing/kunit): tgtsim never walks KTAP by hand.

One rule for where KTAP starts, the tree's: the first line that
kunit_parser.extract_tap_lines keeps and that matches its KTAP_START or
TAP_START. The parse also tells, for each console line, the test it was
printed in: the test whose result line comes next, as kunit_parser matched
results to tests (a line after the last result belongs to the test
kunit_parser filed it in, "<suite> (no result)" if that never reported).
For that, parse() hands kunit_parser lines that remember their number and
notes the line of each result it parses; the parsing is all kunit_parser's.
"""

from __future__ import annotations

import bisect
import contextlib
import importlib
import io
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Iterator, Optional, Sequence

from tgtsim.errors import InfraError
from tgtsim.procs import deferred_signals, run_quiet

AFTER = "after the tests"
NO_RESULT = " (no result)"
_SKIP = re.compile(r"\bok \d+ (?:- )?(\S+) # SKIP ?(.*)$")
_STRUCTURE = re.compile(r"^\s*(?:KTAP version \d+|TAP version \d+|# Subtest: |1\.\.\d+"
                        r"|(?:not )?ok \d+\b)")


def _time_at(times: Sequence[Optional[float]], i: int) -> Optional[float]:
    """The time of line i, else of the nearest earlier line that has one."""
    while i >= 0:
        if i < len(times) and times[i] is not None:
            return times[i]
        i -= 1
    return None

_loaded: Optional[Path] = None


def locate(candidates: Iterable[Optional[Path]], tarball: Optional[Path] = None,
           cache: Optional[Path] = None) -> Path:
    """First directory holding kunit_parser.py among TGTSIM_KUNIT_DIR and
    `candidates`; else unpack tools/testing/kunit from `tarball` into `cache`."""
    env = os.environ.get("TGTSIM_KUNIT_DIR")
    for c in ([Path(env)] if env else []) + [c for c in candidates if c]:
        if (c / "kunit_parser.py").is_file():
            return c
    if tarball and cache and tarball.is_file():
        dest = cache / "kunit-tool"
        if (dest / "kunit_parser.py").is_file():
            return dest
        tmp = cache / "kunit-tool.tmp"
        run_quiet(["rm", "-rf", str(tmp)])
        tmp.mkdir(parents=True)
        run_quiet(["tar", "-xf", str(tarball), "-C", str(tmp), "--strip-components=4",
                   "--wildcards", "*/tools/testing/kunit/*.py"])
        tmp.rename(dest)
        return dest
    raise InfraError("cannot find the kernel's tools/testing/kunit (kunit_parser.py): "
                     "run `tgtsim prepare` or set TGTSIM_KUNIT_DIR")


def load_parser(kunit_dir: Path) -> ModuleType:
    """Import kunit_parser from `kunit_dir` (once per process)."""
    global _loaded
    if _loaded is not None and _loaded != kunit_dir:
        # a different tree: drop the cached modules
        for mod in ("kunit_parser", "kunit_printer"):
            sys.modules.pop(mod, None)
        if str(_loaded) in sys.path:
            sys.path.remove(str(_loaded))
    if str(kunit_dir) not in sys.path:
        sys.path.insert(0, str(kunit_dir))
    _loaded = kunit_dir
    try:
        # a signal inside the import could come out as another exception
        # (a class body's __set_name__ wraps it): raised after it instead
        with deferred_signals():
            return importlib.import_module("kunit_parser")
    except Exception as e:  # a broken tree must not give a traceback
        raise InfraError(f"cannot import kunit_parser from {kunit_dir}: {e}") from None


class _Line(str):
    """A KTAP line as kunit_parser gets it, remembering its console line
    number: the parser files the very objects in the tests' logs."""

    no: int


@dataclass
class Ktap:
    """A console's KTAP as the tree's kunit_parser read it."""
    test: Any              # kunit_parser.Test: the main test, suites below it
    printed: str           # what kunit_parser printed while parsing
    start: int             # index of the first KTAP line (len(lines): none)
    during: list[str]      # per console line: the test it was printed in
    result_line: dict[int, int] = field(default_factory=dict)   # id(test) -> its result line

    def durations(self, lines: list[str], times: Sequence[Optional[float]]
                  ) -> dict[int, float]:
        """id(test) -> seconds from the KTAP line before its result line (the
        previous result, or the header of its suite or parameterized case)
        to its result line, by the console lines' printk times (none without
        them)."""
        if not any(t is not None for t in times):
            return {}
        marks: list[int] = []      # 0-based indices of the KTAP structure lines
        for i in range(self.start, len(lines)):
            if _STRUCTURE.match(lines[i]):
                marks.append(i)
        out: dict[int, float] = {}
        for tid, no in self.result_line.items():
            end = no - 1
            k = bisect.bisect_left(marks, end) - 1
            if k < 0:
                continue
            t0, t1 = _time_at(times, marks[k]), _time_at(times, end)
            if t0 is not None and t1 is not None and t1 >= t0:
                out[tid] = round(t1 - t0, 6)
        return out

    def text(self, lines: list[str]) -> str:
        """The KTAP part of the console (from its start to the end)."""
        return "" if self.start >= len(lines) else "\n".join(lines[self.start:]) + "\n"


def parse(kunit_dir: Path, lines: list[str]) -> Ktap:
    """Parse console `lines` with the tree's kunit_parser.parse_run_tests
    (its printing to stdout is captured)."""
    parser = load_parser(kunit_dir)
    with deferred_signals():
        printer = importlib.import_module("kunit_printer")
    own_extract, own_result = parser.extract_tap_lines, parser.parse_test_result
    starts = (parser.KTAP_START, parser.TAP_START)
    start = [len(lines)]
    results: list[tuple[int, Any]] = []    # (line number, test) of each result line

    def extract_tap_lines(output: Iterable[str]) -> Any:
        stream = own_extract(output)

        def numbered() -> Iterator[tuple[int, str]]:
            while stream:
                no = stream.line_number()
                line = _Line(stream.pop())
                line.no = no
                if start[0] == len(lines) and any(p.match(line) for p in starts):
                    start[0] = no - 1
                yield no, line
        return parser.LineStream(numbered())

    def parse_test_result(stream: Any, test: Any, expected_num: int) -> bool:
        no = stream.line_number()
        found: bool = own_result(stream, test, expected_num)
        if found:
            results.append((no, test))
        return found

    buf = io.StringIO()
    old = printer.stdout._output
    printer.stdout._output = buf
    setattr(parser, "extract_tap_lines", extract_tap_lines)
    setattr(parser, "parse_test_result", parse_test_result)
    try:
        with contextlib.redirect_stdout(buf):
            test = parser.parse_run_tests(lines)
    finally:
        setattr(parser, "extract_tap_lines", own_extract)
        setattr(parser, "parse_test_result", own_result)
        printer.stdout._output = old
    return Ktap(test=test, printed=buf.getvalue(), start=start[0],
                during=_during(test, results, len(lines), start[0]),
                result_line={id(t): no for no, t in results})


def _during(main: Any, results: list[tuple[int, Any]], n: int, start: int) -> list[str]:
    """The test each console line was printed in: "suite", "suite.case" or
    "suite.case/param", the test whose result comes next; after the last
    result, "<suite> (no result)" for a line kunit_parser filed in a test
    that never reported, else "after the tests"; '' before KTAP."""
    names: dict[int, str] = {}     # id(test) -> its name
    suites: dict[int, str] = {}    # id(test) -> its top-level suite
    filed: dict[int, Any] = {}     # console line number -> the test it is filed in

    def walk(test: Any, path: list[str], suite: str) -> None:
        names[id(test)] = _name(path)
        suites[id(test)] = suite
        for line in test.log:
            filed.setdefault(getattr(line, "no", 0), test)
        for sub in test.subtests:
            walk(sub, path + [sub.name], suite or sub.name)

    walk(main, [], "")
    reported = {id(t) for _no, t in results}
    during = [""] * n
    ordered = sorted((no, names[id(t)]) for no, t in results)
    k = 0
    for i in range(start, n):
        while k < len(ordered) and ordered[k][0] <= i + 1:
            k += 1
        if k < len(ordered):
            during[i] = ordered[k][1]
            continue
        test = filed.get(i + 1)
        no_result = test is not None and test is not main and id(test) not in reported
        during[i] = f"{suites[id(test)]}{NO_RESULT}" if no_result and suites[id(test)] \
            else AFTER
    return during


def _name(path: list[str]) -> str:
    """'suite', 'suite.case', 'suite.case/param[/...]'."""
    if not path:
        return ""
    if len(path) == 1:
        return path[0]
    return f"{path[0]}.{'/'.join(path[1:])}"


def skip_reasons(lines: list[str]) -> dict[str, str]:
    """Test name -> the reason of its SKIP directive (kunit_parser keeps
    only the status)."""
    out: dict[str, str] = {}
    for line in lines:
        m = _SKIP.search(line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip() or "skipped")
    return out
