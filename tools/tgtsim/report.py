"""Reports of one run: summary.txt, results.json, junit.xml in a new
out/runs/<id>/ directory; out/latest is switched to it only once everything
is written, so an earlier run is never lost to a failing new one.

JUnit is written with junitparser (lxml indents it); results.json holds the
RunInfo of the run and its Results. What later stages add (the coverage
figures, the gate's cases and summary lines) comes in as data."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, Sequence

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite
from lxml import etree

from tgtsim.boots import SelftestInfo
from tgtsim.errors import InfraError
from tgtsim.results import CRASHED, FAILED, SKIPPED, Results, suite_status
from tgtsim.sanitizers import Report

LINKS = ("summary.txt", "junit.xml", "results.json")
# results.json's shape (tools/tgtsim/results.schema.json); raised when a
# field changes meaning or goes away, not when one is added
SCHEMA_VERSION = 1
SANITIZER_CLASS = "tgtsim.sanitizer"   # testsuite and classname of sanitizer reports
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\x1b\[[0-9;]*[A-Za-z]")


def clean(text: str) -> str:
    return _XML_BAD.sub("", text)


@dataclass
class RunInfo:
    """What results.json records of a run besides its results; absent
    (None) fields are left out."""
    run_id: str
    profile: str
    started: Optional[float] = None
    duration: Optional[float] = None          # the KUnit boot
    kernel_args: Optional[list[str]] = None   # the KUnit boot
    returncode: Optional[int] = None          # the KUnit boot
    expect_kmemleak: Optional[bool] = None
    selftests: Optional[SelftestInfo] = None
    coverage: Optional[dict[str, Any]] = None   # the coverage stage's figures
    failed_step: Optional[str] = None         # a run that stopped before booting
    mutant: Optional[str] = None              # a run of `tgtsim mutants`
    steps: Optional[list[dict[str, Any]]] = None   # timed steps: name, start, seconds, ok
    provenance: Optional[dict[str, Any]] = None   # what was tested (provenance.py)
    seed: Optional[int] = None                # --seed (also in kernel_args)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                d[f.name] = value.to_dict() if isinstance(value, SelftestInfo) else value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunInfo":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if isinstance(kw.get("selftests"), dict):
            kw["selftests"] = SelftestInfo.from_dict(kw["selftests"])
        else:
            kw.pop("selftests", None)
        kw.setdefault("run_id", "")
        kw.setdefault("profile", "")
        return cls(**kw)


def new_run_dir(out: Path, profile: str) -> Path:
    """Create out/runs/<UTC timestamp>-<profile>/ (never reusing one)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        runs = out / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            name = f"{stamp}-{profile}" + (f"-{n}" if n > 1 else "")
            try:
                (runs / name).mkdir()
                return runs / name
            except FileExistsError:
                continue
    except OSError as e:
        raise InfraError(f"cannot write to {out}: {e.strerror or e}") from None
    raise InfraError(f"cannot create a run directory in {out}/runs")


def summary_text(res: Results, header: str = "", notes: Sequence[str] = ()) -> str:
    lines = [header] if header else []
    for suite in res.suites:
        cases = res.suite_cases(suite)
        st = suite_status(cases)
        n_fail = sum(1 for c in cases if c.status in (FAILED, CRASHED))
        n_skip = sum(1 for c in cases if c.status == SKIPPED)
        word = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[st]
        detail = f"{len(cases)} cases"
        if n_fail:
            detail += f", {n_fail} failed"
        if n_skip:
            detail += f", {n_skip} skipped"
        lines.append(f"{word} {suite} ({detail})")
        for c in cases:
            if c.status in (FAILED, CRASHED):
                lines.append(f"    FAIL {c.name}: {c.message}")
    for rep in res.sanitizer:
        lines.append(f"SANITIZER {rep.name}{_where(rep)}")
        if rep.title and rep.title != rep.summary:
            lines.append(f"    {rep.title}")
    for rep in res.allowed:
        lines.append(f"ALLOWED {rep.name}{_where(rep)}")
        lines.append(f"    allow-listed: {rep.allowed}")
    if res.crash:
        lines.append(f"CRASH {res.crash.reason}")
        lines.append("    (console tail in console.log and junit.xml)")
    lines.extend(notes)    # e.g. coverage; the closing count line stays last
    lines.append(res.closing_line())
    return "\n".join(lines) + "\n"


def _where(rep: Report) -> str:
    """' (during X, console.log line N, K times)' for a report."""
    parts = []
    if rep.during:
        parts.append("at boot" if rep.during == "boot" else
                     rep.during if rep.during.startswith("after") else f"during {rep.during}")
    if rep.line_no:
        parts.append(f"{rep.log} line {rep.line_no}")
    if rep.count > 1:
        parts.append(f"{rep.count} times")
    return f" ({', '.join(parts)})" if parts else ""


def _sanitizer_rows(res: Results) -> list[tuple[str, str, str, str, str]]:
    rows = []
    seen: dict[str, int] = {}
    for rep in res.sanitizer:
        name = rep.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f" ({seen[name]})"
        body = f"{rep.summary}{_where(rep)}\n\n" + "\n".join(rep.lines)
        rows.append((name, SANITIZER_CLASS, "failed", rep.summary + _where(rep), body))
    return rows


def junit_xml(res: Results, name: str = "tgtsim",
              properties: Optional[dict[str, Any]] = None) -> bytes:
    """The run's JUnit XML; `properties` (the provenance) go into each
    <testsuite> as <properties> (null values as empty strings)."""
    xml = JUnitXml(name)

    def add_suite(sname: str, cases: list[tuple[str, str, str, str, str]]) -> None:
        ts = TestSuite(sname)
        for cname, classname, status, message, body in cases:
            tc = TestCase(cname, classname, 0)
            if status == "failed":
                failure = Failure(clean(message)[:1000], "failure")
                failure.text = clean(body)
                tc.result = [failure]
            elif status == "skipped":
                tc.result = [Skipped(clean(message)[:1000])]
            ts.add_testcase(tc)
        ts.update_statistics()
        xml.add_testsuite(ts)

    for suite in res.suites:
        rows = []
        for c in res.suite_cases(suite):
            st = "failed" if c.status in (FAILED, CRASHED) else c.status
            rows.append((c.name, suite, st, c.message, "\n".join(c.log)))
        add_suite(suite, rows)
    if res.sanitizer:
        add_suite(SANITIZER_CLASS, _sanitizer_rows(res))
    if res.crash:
        add_suite("tgtsim", [(res.crash.where, "tgtsim", "failed", res.crash.reason,
                              res.crash.reason + "\n\n--- tail of the log ---\n"
                              + "\n".join(res.crash.tail))])
    xml.update_statistics()
    root = etree.fromstring(xml.tostring())
    set_times(root, {(c.suite, c.name): c.time for c in res.cases})
    if properties:
        for ts in root.iter("testsuite"):
            add_properties(ts, properties)
    etree.indent(root)
    return etree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def add_properties(testsuite: Any, properties: dict[str, Any]) -> None:
    """<properties> as the first child of a <testsuite> element."""
    props = etree.Element("properties")
    for key, value in properties.items():
        etree.SubElement(props, "property", name=key,
                         value="" if value is None else str(value))
    testsuite.insert(0, props)


def set_times(root: Any, times: dict[tuple[str, str], Optional[float]]) -> None:
    """Each testcase's `time` is its duration from the KTAP or kselftest
    output (0 where the output does not give one); a testsuite's is the sum
    of its cases', the document's the sum of its suites'."""
    total = 0.0
    for ts in root.iter("testsuite"):
        suite_time = 0.0
        for tc in ts.iter("testcase"):
            t = times.get((tc.get("classname", ""), tc.get("name", ""))) or 0.0
            tc.set("time", f"{t:.3f}")
            suite_time += t
        ts.set("time", f"{suite_time:.3f}")
        total += suite_time
    if root.tag == "testsuites":
        root.set("time", f"{total:.3f}")


def results_json(res: Results, info: RunInfo) -> str:
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    data.update(info.to_dict())
    data.setdefault("provenance", None)
    data.update(res.to_dict())
    data["exit_code"] = res.exit_code()
    return json.dumps(data, indent=1) + "\n"


def write(run_dir: Path, res: Results, info: RunInfo, notes: Sequence[str] = ()) -> None:
    """summary.txt (`notes` before its closing count line), results.json,
    junit.xml."""
    try:
        (run_dir / "summary.txt").write_text(summary_text(res, notes=notes))
        (run_dir / "results.json").write_text(results_json(res, info))
        (run_dir / "junit.xml").write_bytes(junit_xml(res, properties=info.provenance))
    except OSError as e:
        raise InfraError(f"cannot write reports to {run_dir}: {e.strerror or e}") from None


def _atomic_symlink(target: str, link: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def switch_latest(out: Path, run_dir: Path) -> None:
    """Point out/latest at `run_dir` atomically; out/<report> -> latest/<report>."""
    try:
        _atomic_symlink(os.path.relpath(run_dir, out), out / "latest")
        for name in LINKS:
            link = out / name
            if not (link.is_symlink() and os.readlink(link) == f"latest/{name}"):
                _atomic_symlink(f"latest/{name}", link)
    except OSError as e:
        raise InfraError(f"cannot update {out}/latest: {e.strerror or e}") from None


def latest(out: Path) -> Optional[Path]:
    link = out / "latest"
    return link.resolve() if link.exists() else None


def load(run_dir: Path) -> tuple[Results, RunInfo]:
    try:
        data = json.loads((run_dir / "results.json").read_text())
        return Results.from_dict(data), RunInfo.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InfraError(f"no readable results.json in {run_dir}: {e}") from None
