"""Diff coverage: which of the lines a change adds or modifies did the suites
execute (`tgtsim coverage --diff-base REF`, `--diff-base-tgtsim REF`).

Two kinds of change, each against a base ref:

- the kernel tree (`--diff-base REF`): the lines added or changed between REF
  and the tested HEAD of build/linux without tgtsim's overlay commit, i.e.
  the user's commits (KERNEL_SRC, up to KERNEL_REF) plus the patch series.
  REF is resolved in KERNEL_SRC (as the user's tree names it) or, for the
  Debian tarball, in build/linux; with a REF that is not an ancestor, the
  diff starts at the merge base (as a merge request's does).
- tgtsim's own sim_lld/ and kunit/ (`--diff-base-tgtsim REF`): the lines
  the checkout's files (as the overlay copies them, uncommitted and new
  files included) add or change against the merge base of REF and HEAD,
  measured where the overlay puts them (drivers/scsi/sim_lld/, ...).

The changed lines are restricted to what is measured: lines lcov has data
for (executable) in files the coverage build instrumented; the exclusions
of coverage/thresholds apply (each has its reason). Changed files that are
not measured are listed with why (not C, outside the instrumented scope:
add them to coverage/scope, no executable line). Line and branch coverage
come from the run's lcov tracefile, per file and in total; `--fail-under
PCT` is a gate on both (test cases diff-lines and diff-branches of the
suite tgtsim.coverage: exit 1 naming the uncovered lines).

Outputs in the run's coverage/ (prefix `diff`, or `diff-tgtsim`):

    diff.txt            the report, uncovered lines with their source
    diff.md             short Markdown for a merge-request comment (diff-cover's
                        report, with the branch figures and the gate on top)
    diff.json           the uncovered lines, machine-readable (diff-cover's JSON)
    diff-cobertura.xml  the changed files' Cobertura, paths as the changed
                        tree names them (GitLab's diff view)

diff-cover (Debian package) writes diff.md and diff.json from the run's
Cobertura file and the exact set of measured changed lines given here.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from lxml import etree

from tgtsim import covgate, overlay, patchlines
from tgtsim.errors import InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.lcovinfo import Tracefile
from tgtsim.patchlines import PatchLines
from tgtsim.procs import deferred_signals

KERNEL, TGTSIM = "kernel", "tgtsim"
PREFIX = {KERNEL: "diff", TGTSIM: "diff-tgtsim"}
CASES = {KERNEL: ("diff-lines", "diff-branches"),
         TGTSIM: ("diff-tgtsim-lines", "diff-tgtsim-branches")}
MD_UNCOVERED = 25          # uncovered lines quoted in diff.md


@dataclass
class Changes:
    """The measured side of a change: its lines by path in the kernel tree."""
    kind: str
    ref: str                       # as given
    base: str                      # the commit the diff starts at
    head: str                      # what it ends at ('working tree' for tgtsim)
    lines: PatchLines
    repo: Path                     # the tree whose paths the outputs use
    names: dict[str, str] = field(default_factory=dict)   # kernel path -> repo path

    def name(self, path: str) -> str:
        return self.names.get(path, path)

    @property
    def title(self) -> str:
        what = "kernel tree" if self.kind == KERNEL else "tgtsim's sim_lld/ and kunit/"
        return f"{what}: {self.ref} ({self.base[:12]})...{self.head[:12]}"


def resolve(repo: Path, ref: str, option: str) -> str:
    """The commit `ref` names in `repo`; a bad ref is a usage error."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"{option}: not a revision: {ref!r}")
    cp = Git(repo).run("rev-parse", "--verify", "--quiet", "--end-of-options",
                       f"{ref}^{{commit}}", check=False)
    sha = cp.stdout.strip()
    if cp.returncode != 0 or not sha:
        raise UsageError(f"{option} {ref}: no such commit in {repo}")
    return sha


def merge_base(repo: Path, a: str, b: str, option: str, ref: str) -> str:
    cp = Git(repo).run("merge-base", a, b, check=False)
    mb = cp.stdout.strip().split("\n")[0]
    if cp.returncode != 0 or not mb:
        raise UsageError(f"{option} {ref}: no common history with {b[:12]} in {repo}")
    return mb


def kernel_changes(tree: Path, ref: str, kernel_src: Optional[str]) -> Changes:
    """Lines of the user's commits plus the series, from REF's merge base."""
    option = "--diff-base"
    _base, last = patchlines.series_range(tree)
    repo = Path(kernel_src).expanduser().resolve() if kernel_src else tree
    sha = resolve(repo, ref, option)
    if repo != tree and not Git(tree).resolve(sha):
        raise UsageError(f"{option} {ref}: {sha[:12]} of {repo} is not in {tree} "
                         "(run `tgtsim prepare` again)")
    mb = merge_base(tree, sha, last, option, ref)
    return Changes(KERNEL, ref, mb, last, patchlines.from_git(tree, mb, last), repo)


def tgtsim_changes(root: Path, ref: str) -> Changes:
    """Lines of sim_lld/ and kunit/ (the files the overlay copies, as they are
    in the checkout) added or changed since the merge base of REF and HEAD."""
    option = "--diff-base-tgtsim"
    git = Git(root)
    if not git.is_repo():
        raise UsageError(f"{option}: {root} is not a git checkout")
    sha = resolve(root, ref, option)
    mb = merge_base(root, sha, "HEAD", option, ref)
    srcs = [src for src, _dst in overlay.MAPPING]
    cp = git.run("diff", "--no-color", "--no-ext-diff", "--find-renames", "-U0",
                 "--src-prefix=a/", "--dst-prefix=b/", mb, "--", *srcs, check=False)
    if cp.returncode != 0:
        raise InfraError(f"git diff {mb[:12]} in {root} failed: {cp.stderr.strip()}")
    by_repo = patchlines.parse_unified_diff(cp.stdout)
    for new in git.out("ls-files", "--others", "--exclude-standard", "--", *srcs).splitlines():
        try:
            text = (root / new).read_text(errors="replace")
        except OSError:
            continue
        by_repo[new] = {i: ln for i, ln in enumerate(text.splitlines(), 1)}
    copied = overlay.collect(root).files
    lines: PatchLines = {}
    names: dict[str, str] = {}
    for path, plines in by_repo.items():
        for src, dst in overlay.MAPPING:
            if path.startswith(src + "/"):
                kpath = dst + path[len(src):]
                if kpath in copied:
                    lines[kpath] = plines
                    names[kpath] = path
    return Changes(TGTSIM, ref, mb, "working tree", lines, root, names)


def in_scope(path: str, scope: list[str]) -> bool:
    return any(s == "*" or path == s or (s.endswith("/") and path.startswith(s))
               for s in scope)


def unmeasured(ch: Changes, data: Tracefile, scope: list[str]) -> dict[str, str]:
    """Changed files whose lines are not measured, and why."""
    out = {}
    for path in sorted(ch.lines):
        if path in data:
            continue
        if not path.endswith((".c", ".h")):
            why = "not C source"
        elif not in_scope(path, scope):
            why = "outside the instrumented scope (add it to coverage/scope)"
        else:
            why = "no executable line (no coverage data)"
        out[ch.name(path)] = why
    return out


@dataclass
class DiffReport:
    changes: Changes
    report: covgate.PatchReport
    unmeasured: dict[str, str]
    fail_under: Optional[float]
    counted: dict[str, list[int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.fail_under is None or self.report.passed

    def measured_lines(self) -> dict[str, list[int]]:
        """Per kernel path: the changed lines the figures count (executable,
        not excluded), as diff-cover is to measure them."""
        return self.counted

    def uncovered(self) -> list[tuple[str, int, str]]:
        return [(self.changes.name(p), ln, t) for p, ln, t in self.report.uncovered_lines()]

    def gate(self) -> list[dict[str, Any]]:
        """The gate's entries (results.json `coverage.gate`), [] without --fail-under."""
        if self.fail_under is None:
            return []
        rep, (lines_case, branches_case) = self.report, CASES[self.changes.kind]
        unc = ", ".join(f"{p}:{ln}" for p, ln, _t in self.uncovered()[:40])
        more = len(self.uncovered()) - 40
        lmsg = (f"changed lines {rep.line_pct:.1f}% ({rep.lines_hit}/{rep.lines}), "
                f"--fail-under {self.fail_under:g}%")
        if not rep.lines_ok():
            lmsg += "; uncovered: " + unc + (f" (+{more} more)" if more > 0 else "")
        part = rep.partial_branches()
        bmsg = (f"changed branches {rep.branch_pct:.1f}% ({rep.branches_hit}/{rep.branches}),"
                f" --fail-under {self.fail_under:g}%")
        if not rep.branches_ok():
            bmsg += "; not all taken: " + ", ".join(
                f"{self.changes.name(p)}:{ln} ({t}/{n})" for p, ln, t, n, _x in part[:40])
        return [{"name": lines_case, "passed": rep.lines_ok(), "message": lmsg},
                {"name": branches_case, "passed": rep.branches_ok(), "message": bmsg}]

    def to_dict(self, files: dict[str, str]) -> dict[str, Any]:
        rep = self.report
        return {"kind": self.changes.kind, "ref": self.changes.ref, "base": self.changes.base,
                "head": self.changes.head, "fail_under": self.fail_under,
                "lines": {"hit": rep.lines_hit, "total": rep.lines, "percent": rep.line_pct},
                "branches": {"hit": rep.branches_hit, "total": rep.branches,
                             "percent": rep.branch_pct},
                "passed": self.passed,
                "files": [{"path": self.changes.name(f.path), "lines": f.lines,
                           "lines_hit": f.lines_hit, "branches": f.branches,
                           "branches_hit": f.branches_hit, "uncovered": f.uncovered}
                          for f in rep.files if f.lines],
                "uncovered_lines": [f"{p}:{ln}" for p, ln, _t in self.uncovered()],
                "unmeasured": self.unmeasured, "reports": files}


def analyze(ch: Changes, data: Tracefile, th: covgate.Thresholds, scope: list[str],
            fail_under: Optional[float]) -> DiffReport:
    """The coverage of the changed lines (exclusions of `th` apply)."""
    gate_th = covgate.Thresholds(lines=fail_under or 0.0, branches=fail_under or 0.0,
                                 exclusions=th.exclusions)
    measured = {p: v for p, v in ch.lines.items() if p in data}
    rep = covgate.patch_report(measured, data, gate_th)
    rep.unused_exclusions = []     # the series' exclusions need not match a change
    counted = {f.path: sorted(ln for ln in measured[f.path]
                              if ln in data[f.path].lines and ln not in f.excluded)
               for f in rep.files if f.lines}
    return DiffReport(ch, rep, unmeasured(ch, data, scope), fail_under, counted)


def pct_line(hit: int, total: int) -> str:
    return covgate.fmt_count(hit, total).strip()


def text(dr: DiffReport) -> str:
    rep, ch = dr.report, dr.changes
    verdict = "" if dr.fail_under is None else (
        f"   --fail-under {dr.fail_under:g}%: " + ("PASS" if dr.passed else "FAIL"))
    out = [f"diff coverage of the {ch.title}",
           "(changed lines lcov has data for, exclusions of coverage/thresholds applied)", "",
           f"changed lines:    {pct_line(rep.lines_hit, rep.lines)}{verdict}",
           f"changed branches: {pct_line(rep.branches_hit, rep.branches)}", "",
           f"{'file':<44} {'lines':<18} branches"]
    for f in rep.files:
        if f.lines:
            out.append(f"{ch.name(f.path):<44} {covgate.fmt_count(f.lines_hit, f.lines, 11)} "
                       f"{covgate.fmt_count(f.branches_hit, f.branches)}")
    unc = dr.uncovered()
    out += ["", f"uncovered changed lines ({len(unc)}):"]
    out += [f"  {p}:{ln}: {t.strip()}" for p, ln, t in unc] or ["  none"]
    part = rep.partial_branches()
    out += ["", f"changed lines with branches not taken ({len(part)}):"]
    out += [f"  {ch.name(p)}:{ln}: {t}/{n} taken: {x.strip()}"
            for p, ln, t, n, x in part] or ["  none"]
    excl = [(ch.name(f.path), ln, r) for f in rep.files for ln, r in sorted(f.excluded.items())]
    if excl:
        out += ["", f"excluded changed lines ({len(excl)}, from coverage/thresholds):"]
        out += [f"  {p}:{ln}: {r}" for p, ln, r in excl]
    out += ["", f"changed files not measured ({len(dr.unmeasured)}):"]
    out += [f"  {p}: {why}" for p, why in dr.unmeasured.items()] or ["  none"]
    return "\n".join(out) + "\n"


# -- diff-cover -----------------------------------------------------------

def _diff_cover_reports(dr: DiffReport, xml: Path) -> tuple[bytes, bytes]:
    """diff-cover's Markdown and JSON reports of the measured changed lines,
    read against the Cobertura file `xml` (kernel-tree paths)."""
    with deferred_signals():      # (see procs.deferred_signals)
        from diff_cover.diff_reporter import BaseDiffReporter
        from diff_cover.git_path import GitPathTool
        from diff_cover.report_generator import JsonReportGenerator, MarkdownReportGenerator
        from diff_cover.violationsreporters.violations_reporter import XmlCoverageReporter

    lines = dr.measured_lines()
    names = dr.changes

    class Reporter(BaseDiffReporter):
        def src_paths_changed(self) -> list[str]:
            return sorted(lines)

        def lines_changed(self, src_path: str) -> list[int]:
            return lines.get(src_path, [])

    # the Cobertura file names files relative to the kernel tree; so do we
    GitPathTool._cwd = GitPathTool._root = "/"
    root = etree.parse(str(xml), etree.XMLParser(resolve_entities=False, no_network=True))
    cov = XmlCoverageReporter([root.getroot()])
    diff = Reporter(names.title)
    md, js = io.BytesIO(), io.BytesIO()
    MarkdownReportGenerator(cov, diff).generate_report(md)
    JsonReportGenerator(cov, diff).generate_report(js)
    text_md = md.getvalue().decode()
    data = json.loads(js.getvalue())
    # paths as the changed tree names them
    for kpath in sorted(lines, key=len, reverse=True):
        if names.name(kpath) != kpath:
            text_md = text_md.replace(kpath.replace(".", "&#46;"),
                                      names.name(kpath).replace(".", "&#46;"))
    data["src_stats"] = {names.name(p): v for p, v in data.get("src_stats", {}).items()}
    return text_md.encode(), (json.dumps(data, indent=1) + "\n").encode()


def markdown(dr: DiffReport, body: bytes) -> str:
    rep = dr.report
    verdict = "" if dr.fail_under is None else (
        f" — gate `--fail-under {dr.fail_under:g}`: **{'PASS' if dr.passed else 'FAIL'}**")
    out = [f"**tgtsim diff coverage** ({dr.changes.title}): lines "
           f"{pct_line(rep.lines_hit, rep.lines)}, branches "
           f"{pct_line(rep.branches_hit, rep.branches)}{verdict}", ""]
    unc = dr.uncovered()
    if unc:
        out += ["Uncovered changed lines:", "", "```"]
        out += [f"{p}:{ln}: {t.strip()}" for p, ln, t in unc[:MD_UNCOVERED]]
        if len(unc) > MD_UNCOVERED:
            out.append(f"... {len(unc) - MD_UNCOVERED} more in coverage/diff.txt")
        out += ["```", ""]
    if dr.unmeasured:
        out += ["Not measured: " + "; ".join(f"`{p}` ({w})" for p, w in dr.unmeasured.items()),
                ""]
    return "\n".join(out) + "\n" + body.decode()


def cobertura_subset(xml: Path, dr: DiffReport) -> bytes:
    """The classes of the changed files from `xml`, filenames as the changed
    tree names them, its source the changed tree; the lines coverage/thresholds
    excludes are left out."""
    tree = etree.parse(str(xml), etree.XMLParser(resolve_entities=False, no_network=True))
    root = tree.getroot()
    wanted = set(dr.changes.lines)
    excluded = {f.path: set(f.excluded) for f in dr.report.files}
    for pkg in list(root.iter("package")):
        classes = pkg.find("classes")
        if classes is None:
            continue
        for cls in list(classes):
            fn = cls.get("filename", "")
            lines = cls.find("lines")
            if fn in wanted and lines is not None:
                # lines coverage/thresholds excludes are neither covered nor not
                for ln in list(lines):
                    if int(ln.get("number", "0")) in excluded.get(fn, set()):
                        lines.remove(ln)
            if fn in wanted and lines is not None and len(lines):
                cls.set("filename", dr.changes.name(fn))
            else:
                classes.remove(cls)
        if len(classes) == 0:
            parent = pkg.getparent()
            if parent is not None:
                parent.remove(pkg)
    sources = root.find("sources")
    if sources is not None:
        for s in list(sources):
            sources.remove(s)
        src = etree.SubElement(sources, "source")
        src.text = str(dr.changes.repo)
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write(dr: DiffReport, out_dir: Path, cobertura: Optional[Path]) -> dict[str, str]:
    """The outputs of module docstring; returns their names (relative to the
    run directory's parent of `out_dir`)."""
    prefix = PREFIX[dr.changes.kind]
    files = {"text": f"{prefix}.txt"}
    (out_dir / f"{prefix}.txt").write_text(text(dr))
    body = b""
    if cobertura is not None and cobertura.is_file():
        body, js = _diff_cover_reports(dr, cobertura)
        (out_dir / f"{prefix}.json").write_bytes(js)
        (out_dir / f"{prefix}-cobertura.xml").write_bytes(cobertura_subset(cobertura, dr))
        files.update(json=f"{prefix}.json", cobertura=f"{prefix}-cobertura.xml")
    else:      # no Cobertura (--no-cobertura): the uncovered lines from lcov
        data = {"uncovered_lines": [{"path": p, "line": ln, "source": t}
                                    for p, ln, t in dr.uncovered()]}
        (out_dir / f"{prefix}.json").write_text(json.dumps(data, indent=1) + "\n")
        files["json"] = f"{prefix}.json"
    (out_dir / f"{prefix}.md").write_text(markdown(dr, body))
    files["markdown"] = f"{prefix}.md"
    return {k: f"{out_dir.name}/{v}" for k, v in files.items()}


def summary_lines(entry: dict[str, Any]) -> list[str]:
    """summary.txt lines of a results.json `diff` entry."""
    li, br = entry["lines"], entry["branches"]
    gate = "" if entry.get("fail_under") is None else (
        f", --fail-under {entry['fail_under']:g}% " + ("PASS" if entry["passed"] else "FAIL"))
    out = [f"COVERAGE diff ({entry['kind']} since {entry['ref']}) lines {li['percent']:.1f}% "
           f"({li['hit']}/{li['total']}), branches {br['percent']:.1f}% "
           f"({br['hit']}/{br['total']}){gate}"]
    if entry["uncovered_lines"]:
        out.append("    uncovered: " + ", ".join(entry["uncovered_lines"][:20])
                   + (" ..." if len(entry["uncovered_lines"]) > 20 else ""))
    if entry["unmeasured"]:
        out.append("    not measured: " + ", ".join(entry["unmeasured"]))
    out.append("    reports: " + ", ".join(entry["reports"].values()))
    return out
