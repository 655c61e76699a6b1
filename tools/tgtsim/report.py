"""Reports of one run: summary.txt, results.json, junit.xml in a new
out/runs/<id>/ directory; out/latest is switched to it only once everything
is written, so an earlier run is never lost to a failing new one."""

from __future__ import annotations

import json
import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional, Sequence

from tgtsim.errors import InfraError
from tgtsim.results import CRASHED, FAILED, SKIPPED, Results, suite_status
from tgtsim.sanitizers import Report

LINKS = ("summary.txt", "junit.xml", "results.json")
SANITIZER_CLASS = "tgtsim.sanitizer"   # testsuite and classname of sanitizer reports
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\x1b\[[0-9;]*[A-Za-z]")


def clean(text: str) -> str:
    return _XML_BAD.sub("", text)


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


def junit_xml(res: Results, name: str = "tgtsim") -> bytes:
    tests = len(res.cases) + (1 if res.crash else 0) + len(res.sanitizer)
    root = ET.Element("testsuites", name=name, tests=str(tests),
                      failures=str(res.failed), errors="0", skipped=str(res.skipped), time="0")

    def add_suite(sname: str, cases: list[tuple[str, str, str, str, str]]) -> None:
        failures = sum(1 for c in cases if c[2] == "failed")
        skipped = sum(1 for c in cases if c[2] == "skipped")
        ts = ET.SubElement(root, "testsuite", name=sname, tests=str(len(cases)),
                           failures=str(failures), errors="0", skipped=str(skipped), time="0")
        for cname, classname, status, message, body in cases:
            tc = ET.SubElement(ts, "testcase", classname=classname, name=cname, time="0")
            if status == "failed":
                f = ET.SubElement(tc, "failure", message=clean(message)[:1000], type="failure")
                f.text = clean(body)
            elif status == "skipped":
                ET.SubElement(tc, "skipped", message=clean(message)[:1000])

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
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def results_json(res: Results, meta: dict[str, Any]) -> str:
    data = dict(meta)
    data.update(res.to_dict())
    data["exit_code"] = res.exit_code()
    return json.dumps(data, indent=1) + "\n"


def write(run_dir: Path, res: Results, meta: dict[str, Any], notes: Sequence[str] = ()) -> None:
    try:
        (run_dir / "summary.txt").write_text(summary_text(res, notes=notes))
        (run_dir / "results.json").write_text(results_json(res, meta))
        (run_dir / "junit.xml").write_bytes(junit_xml(res))
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


def load(run_dir: Path) -> tuple[Results, dict[str, Any]]:
    try:
        data = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError) as e:
        raise InfraError(f"no readable results.json in {run_dir}: {e}") from None
    return Results.from_dict(data), data
