"""The page of one run: out/runs/<id>/index.html, for a person.

Everything comes from the run directory (results.json and the files
beside it), so a recorded run can be drawn again at any time: the closing
count, the provenance, links to the raw files, the crash, each sanitizer
report with its trace, the step timings, and one block per suite with its
cases, failing ones opened with their message, their chunk traces drawn
(chunktrace.py, svg.py) and their log. One self-contained file: inline CSS
and SVG, no script, no network; every text from the kernel log escaped."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from typing import Any, Optional

from tgtsim import chunktrace, svg
from tgtsim.chunktrace import Trace
from tgtsim.errors import InfraError
from tgtsim.report import RunInfo
from tgtsim.results import CRASHED, FAILED, PASSED, SKIPPED, Case, Results, suite_status

PAGE = "index.html"
MAX_DRAWN_FAILED = 100     # chunk pictures of failing cases on one page
MAX_DRAWN_PASSED = 120     # of passing cases (--trace-chunks)
MAX_PER_SUITE = 16         # of one suite, so that every suite gets some
MAX_PER_CASE = 6           # of one case (2 when its suite has many failing cases)
MAX_LOG_LINES = 400
PROVENANCE_KEYS = ("kernel_commit", "kernel_base", "series_hash", "profile", "cell",
                   "seed", "tgtsim_commit")
# the raw files of a run directory, in the order they are linked
FILES = (("summary.txt", "summary"), ("results.json", "results.json"),
         ("junit.xml", "JUnit"), ("console.log", "KUnit console"), ("ktap.log", "KTAP"),
         ("selftests-console.log", "selftest console"), ("selftests.ktap", "selftest KTAP"),
         ("build.log", "build log"), ("selftests-build.log", "selftest build log"),
         ("coverage/html/index.html", "coverage HTML"),
         ("coverage/cobertura.xml", "Cobertura"), ("coverage/patch.txt", "patch coverage"),
         ("coverage/sim_lld.txt", "sim_lld coverage"), ("coverage/coverage.log", "coverage log"),
         ("build-error.txt", "build error"), ("apply-error.txt", "apply error"))

CSS = """
body{font:14px/1.45 'DejaVu Sans',Arial,sans-serif;color:#222;margin:0;background:#f4f6f9}
main{max-width:1040px;margin:0 auto;padding:18px 22px 40px;background:#fff;min-height:100vh}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:3px}
a{color:#1f5fbf}code,pre{font:12px/1.4 'DejaVu Sans Mono',monospace}
pre{background:#f6f8fa;border:1px solid #e1e5ea;padding:8px 10px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;max-height:480px;overflow-y:auto}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold;margin-right:8px}
.pass{background:#2e9b4a}.fail{background:#d62728}.crash{background:#8b1a1a}.skip{background:#888}
.count{font-size:16px;font-weight:bold}
table{border-collapse:collapse}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:normal}
.links a{margin-right:12px;white-space:nowrap}
details{margin:4px 0}summary{cursor:pointer}
details.suite{border:1px solid #e1e5ea;border-radius:4px;padding:4px 10px;margin:6px 0}
details.suite>summary{font-weight:bold}
.st{display:inline-block;min-width:44px;font-size:11px;font-weight:bold;text-align:center;border-radius:3px;color:#fff;padding:0 4px;margin-right:6px}
.st.passed{background:#2e9b4a}.st.failed,.st.crashed{background:#d62728}.st.skipped{background:#888}
details.case{border-left:3px solid #d62728;padding-left:10px;margin:10px 0}
details.case.passed{border-left-color:#2e9b4a}
.msg{color:#a31515;font-weight:bold;margin:4px 0}
.cases{columns:2;column-gap:24px;padding-left:0;list-style:none;margin:6px 0}
.cases li{break-inside:avoid;font-size:13px}
.trace{margin:8px 0 14px}.trace h4{margin:4px 0;font-size:13px}
.problems{color:#a31515;margin:2px 0 6px 18px;padding:0;font-size:13px}
.note{color:#666;font-size:13px}
svg{display:block;max-width:100%;height:auto}
.report{border-left:3px solid #d62728;padding-left:10px;margin:10px 0}
.report.allowed{border-left-color:#888}
.failures li{margin:2px 0}
"""


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _when(stamp: Optional[float]) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp)) if stamp else "?"


def load(run_dir: Path) -> tuple[Results, RunInfo, dict[str, Any]]:
    """The run's results, RunInfo and raw results.json (for fields other
    stages or later versions add: provenance, schema_version)."""
    try:
        data = json.loads((run_dir / "results.json").read_text())
        return Results.from_dict(data), RunInfo.from_dict(data), data
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InfraError(f"no readable results.json in {run_dir}: {e}") from None


def verdict(res: Results) -> tuple[str, str]:
    """(word, css class) of a run."""
    if res.crash:
        return "CRASH", "crash"
    if res.failed:
        return "FAIL", "fail"
    return "PASS", "pass"


def run_steps(info: RunInfo) -> list[tuple[str, float, float, bool]]:
    """The timed steps of a run: recorded ones, else the boots and the
    coverage collection from their durations."""
    if info.steps:
        return [(str(s.get("name", "?")), float(s.get("start", 0.0)),
                 float(s.get("seconds", 0.0)), bool(s.get("ok", True))) for s in info.steps]
    out: list[tuple[str, float, float, bool]] = []
    if info.duration is not None:
        out.append((f"boot {info.profile}", 0.0, info.duration, True))
    if info.selftests is not None and info.selftests.duration is not None:
        out.append(("boot selftests", 0.0, info.selftests.duration, True))
    if info.coverage and isinstance(info.coverage.get("duration"), (int, float)):
        start = max((s + d for _n, s, d, _ok in out), default=0.0)
        out.append(("coverage", start, float(info.coverage["duration"]), True))
    return out


def wall_time(info: RunInfo) -> Optional[float]:
    """Seconds from the first step's start to the last step's end."""
    steps = run_steps(info)
    if not steps:
        return None
    return round(max(s + d for _n, s, d, _ok in steps) - min(s for _n, s, _d, _ok in steps), 1)


def _provenance(data: dict[str, Any], info: RunInfo) -> str:
    prov = data.get("provenance")
    rows = []
    if isinstance(prov, dict):
        keys = [k for k in PROVENANCE_KEYS if k in prov] + \
            sorted(k for k in prov if k not in PROVENANCE_KEYS)
        for k in keys:
            v = prov[k]
            if v is None or v == "":
                v = "-"
            rows.append(f"<tr><th>{_e(k.replace('_', ' '))}</th><td><code>{_e(v)}</code>"
                        "</td></tr>")
        if "schema_version" in data:
            rows.append(f"<tr><th>schema</th><td>{_e(data['schema_version'])}</td></tr>")
    else:
        rows.append(f"<tr><th>profile</th><td>{_e(info.profile or '?')}</td></tr>")
        args = info.kernel_args or []
        seed = next((a.split("=", 1)[1] for a in args if a.startswith("tgt_kunit.seed=")),
                    "default")
        rows.append(f"<tr><th>seed</th><td>{_e(seed)}</td></tr>")
        rows.append("<tr><th></th><td class='note'>no provenance recorded in results.json "
                    "(kernel commit, series hash, tgtsim commit): an older run</td></tr>")
    if info.mutant:
        rows.append(f"<tr><th>mutant</th><td><code>{_e(info.mutant)}</code></td></tr>")
    if info.kernel_args:
        rows.append(f"<tr><th>kernel args</th><td><code>{_e(' '.join(info.kernel_args))}"
                    "</code></td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _links(run_dir: Path, info: RunInfo) -> str:
    links = []
    for rel, label in FILES:
        if (run_dir / rel).is_file():
            links.append(f"<a href='{_e(rel)}'>{_e(label)}</a>")
    if run_dir.parent.name == "runs":      # out/runs/<id>: out/index.html
        links.append("<a href='../../index.html'>all runs</a>")
    return "<p class='links'>" + "".join(links) + "</p>"


def _pre(lines: list[str], limit: int = MAX_LOG_LINES) -> str:
    shown = lines[:limit]
    more = f"\n... {len(lines) - limit} more lines" if len(lines) > limit else ""
    return "<pre>" + _e("\n".join(shown) + more) + "</pre>"


class _Budget:
    def __init__(self) -> None:
        self.failed = MAX_DRAWN_FAILED
        self.passed = MAX_DRAWN_PASSED
        self.skipped = 0
        self.suite = MAX_PER_SUITE            # left for the suite being drawn
        self.per_case = MAX_PER_CASE
        self.anchors: dict[int, str] = {}     # id(case) -> its anchor

    def anchor(self, case: Case) -> str:
        return self.anchors.setdefault(id(case), f"case-{len(self.anchors) + 1}")


def _trace_block(t: Trace, n: int, case: str) -> str:
    problems = t.problems()
    head = (f"command {n + 1}: {t.dir} {chunktrace.human(t.len)} ({t.len} B), "
            f"{len(t.chunks)} chunks" + (f", the model expects {len(t.model)}" if t.model
                                         else "") +
            (f", err {t.err}" if t.err else "") + (f" — {t.name}" if t.name else ""))
    items = []
    for i in sorted(problems)[:12]:
        where = "sequence" if i < 0 else f"chunk {i}"
        items.append(f"<li>{_e(where)}: {_e('; '.join(problems[i]))}</li>")
    if len(problems) > 12:
        items.append(f"<li>... {len(problems) - 12} more chunks with problems</li>")
    if t.truncated:
        items.append(f"<li>{t.truncated} more chunks not kept (runaway sequence)</li>")
    word = "FAIL" if t.failed else "pass"
    return (f"<div class='trace'><h4><span class='st {'failed' if t.failed else 'passed'}'>"
            f"{word}</span>{_e(head)}</h4>"
            + (f"<ul class='problems'>{''.join(items)}</ul>" if items else "")
            + svg.chunks(t, f"{case} {head}") + "</div>")


def _traces(case: Case, budget: _Budget) -> tuple[str, int]:
    """The drawn traces of a case and how many it has."""
    traces = chunktrace.parse(case.log)
    if not traces:
        return "", 0
    failing = case.status in (FAILED, CRASHED)
    order = sorted(range(len(traces)), key=lambda i: (not traces[i].failed, i))
    blocks = []
    for i in order[:budget.per_case]:
        if budget.suite <= 0:
            budget.skipped += 1
            continue
        if failing and budget.failed > 0:
            budget.failed -= 1
        elif not failing and budget.passed > 0:
            budget.passed -= 1
        else:
            budget.skipped += 1
            continue
        budget.suite -= 1
        blocks.append(_trace_block(traces[i], i, f"{case.suite}.{case.name}"))
    rest = len(traces) - len(blocks)
    if rest:
        blocks.append(f"<p class='note'>{rest} more chunk traces of this case are in its "
                      "log (results.json) and the console</p>")
    return "".join(blocks), len(traces)


def _case_block(case: Case, budget: _Budget) -> str:
    drawn, n = _traces(case, budget)
    log = [ln for ln in case.log if chunktrace.line_text(ln) is None]
    hidden = len(case.log) - len(log)
    failing = case.status in (FAILED, CRASHED)
    cls = "case" if failing else "case passed"
    parts = [f"<details class='{cls}' id='{budget.anchor(case)}'"
             f"{' open' if failing else ''}><summary>"
             f"<span class='st {_e(case.status)}'>{_e(case.status)}</span>"
             f"<code>{_e(case.name)}</code>"
             + (f" — {n} chunk trace{'s' if n != 1 else ''}" if n else "") + "</summary>"]
    if case.message:
        parts.append(f"<p class='msg'>{_e(case.message)}</p>")
    parts.append(drawn)
    if log:
        # opened for a failing case, unless its chunk pictures say it already
        parts.append(("<details open>" if failing and not drawn else "<details>")
                     + f"<summary>log of the case ({len(log)} lines"
                     + (f", {hidden} chunk-trace lines drawn above" if hidden else "")
                     + ")</summary>" + _pre(log) + "</details>")
    parts.append("</details>")
    return "".join(parts)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def _suites(res: Results, info: RunInfo, budget: _Budget) -> str:
    descriptions = {}
    if info.selftests is not None:
        descriptions = {f"selftests.{p.name}": p.description for p in info.selftests.programs}
    out = []
    for suite in res.suites:
        cases = res.suite_cases(suite)
        st = suite_status(cases)
        bad = [c for c in cases if c.status in (FAILED, CRASHED)]
        skipped = sum(1 for c in cases if c.status == SKIPPED)
        detail = f"{len(cases)} cases" + (f", {len(bad)} failed" if bad else "") + \
            (f", {skipped} skipped" if skipped else "")
        desc = descriptions.get(suite, "")
        body = [f"<details class='suite' id='suite-{_e(_slug(suite))}'"
                f"{' open' if bad else ''}><summary>"
                f"<span class='st {_e(st)}'>{_e(st)}</span>{_e(suite)} "
                f"<span class='note'>({_e(detail)})</span></summary>"]
        if desc:
            body.append(f"<p class='note'>{_e(desc)}</p>")
        budget.suite = MAX_PER_SUITE
        budget.per_case = MAX_PER_CASE if len(bad) <= 4 else 2
        for c in bad:
            body.append(_case_block(c, budget))
        others = [c for c in cases if c.status not in (FAILED, CRASHED)]
        traced = [c for c in others if any(chunktrace.line_text(ln) is not None
                                           for ln in c.log)]
        for c in traced:
            body.append(_case_block(c, budget))
        plain = [c for c in others if c not in traced]
        if plain:
            body.append("<ul class='cases'>" + "".join(
                f"<li><span class='st {_e(c.status)}'>{_e(c.status)}</span>{_e(c.name)}"
                + (f" <span class='note'>{_e(c.message)}</span>" if c.message else "")
                + "</li>" for c in plain) + "</ul>")
        body.append("</details>")
        out.append("".join(body))
    return "".join(out)


def _sanitizers(res: Results) -> str:
    if not res.sanitizer and not res.allowed:
        return ""
    out = ["<h2>Sanitizer reports" + (f" <span class='note'>({len(res.allowed)} "
                                      "allow-listed, not failures)</span>" if res.allowed
                                      else "") + "</h2>"]
    for k, rep in enumerate(res.sanitizer, 1):
        where = ", ".join(x for x in (
            f"during {rep.during}" if rep.during else "",
            f"{rep.log} line {rep.line_no}" if rep.line_no else "",
            f"{rep.count} times" if rep.count > 1 else "") if x)
        out.append(f"<div class='report' id='report-{k}'><details open><summary>"
                   f"<b>{_e(rep.kind)}</b>: "
                   f"{_e(rep.summary)} <span class='note'>({_e(where)})</span></summary>"
                   + (f"<p>{_e(rep.title)}</p>" if rep.title and rep.title != rep.summary
                      else "") + _pre(rep.lines) + "</details></div>")
    for rep in res.allowed:
        out.append(f"<div class='report allowed'><details><summary>allowed "
                   f"<b>{_e(rep.kind)}</b>: {_e(rep.summary)}</summary>"
                   f"<p class='note'>allow-listed: {_e(rep.allowed)}</p>"
                   + _pre(rep.lines) + "</details></div>")
    return "".join(out)


def _coverage(info: RunInfo) -> str:
    cov = info.coverage
    if not cov:
        return ""
    rows = []
    for key, label in (("lines", "patch lines"), ("branches", "patch branches")):
        v = cov.get(key)
        if isinstance(v, dict) and "percent" in v:
            ok = v.get("ok", True)
            rows.append(f"<tr><th>{label}</th><td><b>{v['percent']:.1f}%</b> "
                        f"({_e(v.get('hit'))}/{_e(v.get('total'))}), threshold "
                        f"{_e(v.get('threshold', '-'))}% "
                        f"<span class='st {'passed' if ok else 'failed'}'>"
                        f"{'ok' if ok else 'below'}</span></td></tr>")
    sim = (cov.get("sim_lld") or {}).get("total") if isinstance(cov.get("sim_lld"), dict) \
        else None
    if isinstance(sim, dict) and sim.get("lines"):
        pct = 100.0 * sim.get("lines_hit", 0) / sim["lines"]
        rows.append(f"<tr><th>sim_lld</th><td>lines {pct:.1f}% ({_e(sim.get('lines_hit'))}/"
                    f"{_e(sim['lines'])})</td></tr>")
    return "<h2>Coverage</h2><table>" + "".join(rows) + "</table>" if rows else ""


def _failures(res: Results, budget: _Budget) -> str:
    """What failed, each linked to its place on the page: the crash, the
    sanitizer reports, and per suite its failed cases (the first named)."""
    items = []
    if res.crash:
        items.append(f"<li><a href='#crash'>crash</a>: {_e(res.crash.reason)}</li>")
    for k, rep in enumerate(res.sanitizer, 1):
        items.append(f"<li><a href='#report-{k}'>{_e(rep.kind)}</a>: {_e(rep.summary)}</li>")
    for suite in res.suites:
        bad = [c for c in res.suite_cases(suite) if c.status in (FAILED, CRASHED)]
        if not bad:
            continue
        first = bad[0]
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        items.append(f"<li><b>{_e(suite)}</b>: <a href='#{budget.anchor(first)}'>"
                     f"<code>{_e(first.name)}</code></a>{more}"
                     + (f" — {_e(first.message[:160])}" if first.message else "") + "</li>")
    if not items:
        return ""
    return "<h2>What failed</h2><ul class='failures'>" + "".join(items) + "</ul>"


def render(run_dir: Path) -> str:
    res, info, data = load(run_dir)
    word, cls = verdict(res)
    budget = _Budget()
    suites = _suites(res, info, budget)
    title = f"tgtsim {info.run_id or run_dir.name}: {word}"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1><span class='verdict {cls}'>{word}</span>{_e(info.run_id or run_dir.name)}"
             "</h1>",
             f"<p><span class='count'>{_e(res.closing_line())}</span> · profile "
             f"<b>{_e(info.profile or '?')}</b>"
             + (f" · started {_e(_when(info.started))}" if info.started else "")]
    wall = wall_time(info)
    if wall is not None:
        parts.append(f" · {wall:g} s")
    parts.append(f" · exit code {res.exit_code()}</p>")
    parts.append(_links(run_dir, info))
    parts.append(_failures(res, budget))
    parts.append("<h2>Provenance</h2>" + _provenance(data, info))
    if res.crash:
        log = {"kernel": "console.log", "selftests": "selftests-console.log"}.get(
            res.crash.where, "")
        parts.append(f"<h2 id='crash'>Crash</h2><p class='msg'>{_e(res.crash.reason)}</p>"
                     f"<p class='note'>step: {_e(res.crash.where)}"
                     + (f" — tail of <a href='{_e(log)}'>{_e(log)}</a>" if log else "")
                     + "</p>" + _pre(res.crash.tail))
    parts.append(_sanitizers(res))
    parts.append(_coverage(info))
    steps = run_steps(info)
    if steps:
        parts.append("<h2>Steps</h2>" + svg.steps(steps))
    parts.append("<h2>Suites</h2>")
    if budget.skipped:
        parts.append(f"<p class='note'>{budget.skipped} chunk traces are not drawn (at most "
                     f"{MAX_PER_SUITE} a suite, {MAX_DRAWN_FAILED} of failing and "
                     f"{MAX_DRAWN_PASSED} of passing cases on one page): they are in the "
                     "logs of their cases (results.json) and the consoles</p>")
    parts.append(suites or "<p class='note'>no suite ran</p>")
    parts.append("<p class='note'>chunk traces: the <code>tgt-chunks</code> diagnostics of "
                 "the tests (kunit/README.md, \"Chunk traces\"); failing commands always, "
                 "passing ones with <code>tgtsim run --trace-chunks</code>.</p>")
    parts.append("</main></body></html>\n")
    return "".join(parts)


def write(run_dir: Path) -> Path:
    """Write run_dir/index.html from the run's files."""
    text = render(run_dir)
    path = run_dir / PAGE
    try:
        tmp = path.with_name(f".{PAGE}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as e:
        raise InfraError(f"cannot write {path}: {e.strerror or e}") from None
    return path
