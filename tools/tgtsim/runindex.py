"""out/index.html: the retained runs, newest first, with their counts,
duration, coverage and links, and small trend charts of those over the
runs; and the retention itself: only the newest N run directories of
out/runs/ are kept (`--keep N`, default 20), never the one out/latest
points to. One self-contained file, no script, no network."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Optional

from tgtsim import page, svg
from tgtsim.errors import InfraError
from tgtsim.report import RunInfo
from tgtsim.results import Results

DEFAULT_KEEP = 20
INDEX = "index.html"
RUN_NAME = re.compile(r"^(\d{8}T\d{6}Z)-(.+?)(?:-(\d+))?$")


def run_dirs(out: Path) -> list[Path]:
    """The run directories of out/runs/, oldest first (by their UTC
    timestamp, then the -N of runs started in the same second)."""
    runs = out / "runs"
    if not runs.is_dir():
        return []
    found = []
    for d in runs.iterdir():
        m = RUN_NAME.match(d.name)
        if m and d.is_dir() and not d.is_symlink():
            found.append(((m.group(1), int(m.group(3) or 1), d.name), d))
    return [d for _k, d in sorted(found)]


def prune(out: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` runs; never the run out/latest
    points to. Returns the removed directories."""
    if keep < 1:
        raise InfraError(f"--keep must be at least 1 (got {keep})")
    link = out / "latest"
    latest = link.resolve() if link.exists() else None
    dirs = run_dirs(out)
    removed = []
    for d in dirs[:max(len(dirs) - keep, 0)]:
        if latest is not None and d.resolve() == latest:
            continue
        try:
            shutil.rmtree(d)
        except OSError as e:
            raise InfraError(f"cannot remove the old run {d}: {e.strerror or e}") from None
        removed.append(d)
    return removed


@dataclass
class Row:
    name: str
    results: Optional[Results]
    info: Optional[RunInfo]
    data: dict[str, Any]
    has_page: bool

    @property
    def coverage(self) -> tuple[Optional[float], Optional[float]]:
        cov = (self.info.coverage if self.info else None) or {}
        out: list[Optional[float]] = []
        for key in ("lines", "branches"):
            v = cov.get(key)
            out.append(float(v["percent"]) if isinstance(v, dict) and "percent" in v
                       else None)
        return out[0], out[1]


def _row(d: Path) -> Row:
    try:
        res, info, data = page.load(d)
        return Row(d.name, res, info, data, (d / page.PAGE).is_file())
    except InfraError:
        return Row(d.name, None, None, {}, (d / page.PAGE).is_file())


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.1f}%"


def render(out: Path, keep: int = DEFAULT_KEEP) -> str:
    rows = [_row(d) for d in run_dirs(out)]
    link = out / "latest"
    latest = link.resolve().name if link.exists() else ""
    e = escape
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>tgtsim runs</title><style>{page.CSS}"
             "td.num{text-align:right;font-variant-numeric:tabular-nums}"
             "tr.latest td{background:#eef4ff}.charts{display:flex;flex-wrap:wrap;gap:14px}"
             "table.runs td,table.runs th{border-bottom:1px solid #eceff3;padding:4px 8px}"
             "</style></head><body><main>",
             "<h1>tgtsim runs</h1>",
             f"<p>{len(rows)} runs kept in <code>runs/</code> beside this page (the newest "
             f"{keep}, <code>--keep N</code>; the run <code>out/latest</code> points to is "
             "never removed). Newest first.</p>"]
    ok_rows = [r for r in rows if r.results is not None]
    if ok_rows:
        labels = [r.name for r in ok_rows]
        passed: list[Optional[float]] = [float(r.results.passed) for r in ok_rows
                                         if r.results]
        failed: list[Optional[float]] = [float(r.results.failed) for r in ok_rows
                                         if r.results]
        durs = [page.wall_time(r.info) if r.info else None for r in ok_rows]
        lines = [r.coverage[0] for r in ok_rows]
        branches = [r.coverage[1] for r in ok_rows]
        parts.append("<div class='charts'>")
        parts.append(svg.trend("cases", [("passed", svg.GREEN, passed),
                                         ("failed", svg.RED, failed)], labels))
        parts.append(svg.trend("duration", [("seconds", svg.BLUE, durs)], labels, " s"))
        parts.append(svg.trend("patch coverage", [("lines", svg.BLUE, lines),
                                                  ("branches", svg.MODEL, branches)],
                               labels, "%", floor_zero=False))
        parts.append("</div>")
    parts.append("<table class='runs'><tr><th>run</th><th>verdict</th><th>passed</th>"
                 "<th>failed</th><th>skipped</th><th>duration</th><th>lines</th>"
                 "<th>branches</th><th>kernel</th><th>files</th></tr>")
    for r in reversed(rows):
        href = f"runs/{r.name}/"
        cls = " class='latest'" if r.name == latest else ""
        if r.results is None or r.info is None:
            parts.append(f"<tr{cls}><td><a href='{e(href)}'>{e(r.name)}</a></td>"
                         "<td colspan='9' class='note'>no readable results.json</td></tr>")
            continue
        word, vcls = page.verdict(r.results)
        wall = page.wall_time(r.info)
        lines_pct, branches_pct = r.coverage
        prov = r.data.get("provenance") if isinstance(r.data.get("provenance"), dict) else {}
        commit = str(prov.get("kernel_commit") or "")[:12] if prov else ""
        title = f"{r.name}{' (latest)' if cls else ''}"
        main = f"runs/{r.name}/{page.PAGE}" if r.has_page else href
        files = " ".join(f"<a href='runs/{e(r.name)}/{f}'>{f.split('.')[0]}</a>"
                         for f in ("summary.txt", "junit.xml", "results.json"))
        parts.append(
            f"<tr{cls}><td><a href='{e(main)}'>{e(title)}</a><br>"
            f"<span class='note'>{e(r.info.profile)}"
            + (f" · mutant {e(r.info.mutant)}" if r.info.mutant else "")
            + (f" · {e(r.results.crash.reason[:80])}" if r.results.crash else "")
            + "</span></td>"
            f"<td><span class='verdict {vcls}'>{word}</span></td>"
            f"<td class='num'>{r.results.passed}</td><td class='num'>{r.results.failed}</td>"
            f"<td class='num'>{r.results.skipped}</td>"
            f"<td class='num'>{'-' if wall is None else f'{wall:g} s'}</td>"
            f"<td class='num'>{_pct(lines_pct)}</td><td class='num'>{_pct(branches_pct)}</td>"
            f"<td><code>{e(commit) or '-'}</code></td><td class='links'>{files}</td></tr>")
    parts.append("</table></main></body></html>\n")
    return "".join(parts)


def update(out: Path, keep: int = DEFAULT_KEEP) -> Path:
    """Prune out/runs to the newest `keep` runs and write out/index.html."""
    prune(out, keep)
    path = out / INDEX
    try:
        tmp = path.with_name(f".{INDEX}.tmp")
        tmp.write_text(render(out, keep))
        tmp.replace(path)
    except OSError as e:
        raise InfraError(f"cannot write {path}: {e.strerror or e}") from None
    return path
