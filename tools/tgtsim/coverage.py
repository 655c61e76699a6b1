"""`tgtsim coverage`: gcov build, every boot of the run, lcov capture, reports, gate.

Flow: prepare, build the `coverage` profile (CONFIG_GCOV, instrumentation
limited to the paths of coverage/scope, which must hold every C file of the
series), delete the old .gcda files of its build directory, run (all boots
of the run: KUnit and selftests; UML writes the .gcda files when it exits),
then capture once (the tracefile `lcov -c -d <kbuild>` would write, made
from gcov's JSON in parallel: gcovjson) and write into
out/runs/<id>/coverage/:

    coverage.info   the lcov tracefile (branch data on)
    scope.info      its records of the files in coverage/scope
    html/           genhtml report of scope.info (branch coverage on), index.html
    cobertura.xml   Cobertura XML of scope.info, filenames relative to the
                    kernel tree
    coverage.log    the commands and their output
    patch.txt       coverage of the lines added or changed by the patch series
    sim_lld.txt     coverage of the simulated LLD (not part of the patch lines)

The patch-line totals and the gate (coverage/thresholds) go into the run's
summary.txt and results.json; the gate is two test cases of the suite
`tgtsim.coverage` (patch-lines, patch-branches), so a gate below its threshold
fails the run (exit 1) and names the uncovered lines.

Whether a profile is measured is decided here, once (for_profile): the run
gets a Coverage object that gives the build its make options and collects
after the boots; nothing before this stage imports it.

Only gcov reads the .gcda files; everything else is made of the tracefile:
the patch-line report and the gate, scope.info (`lcov -e`), genhtml's HTML
(branch coverage on), the Cobertura XML (cobertura.py, written beside
genhtml), and the merge of sharded runs (`lcov -a`). So the HTML, the
Cobertura file and the gate always show the same counts.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from tgtsim import cobertura as cobertura_xml
from tgtsim import covgate, diffcov, gcovjson, lcovinfo, patchlines
from tgtsim.errors import InfraError, TgtsimError, UsageError
from tgtsim.paths import Paths
from tgtsim.procs import Background, run_watched
from tgtsim.progress import Progress
from tgtsim.results import FAILED, PASSED, Case, Crash, Results

PROFILE = "coverage"
SUITE = "tgtsim.coverage"
LCOV_RC = ["--rc", "lcov_branch_coverage=1"]
SIM_LLD_DIR = "drivers/scsi/sim_lld/"
SUBDIR = "coverage"
TOOL_TIMEOUT = 1800.0
DEFAULT_SCOPE = ("drivers/scsi/", "block/", "include/scsi/")
EVERYTHING = "*"
SCOPE_RE = re.compile(r"^[A-Za-z0-9_.+/-]+$")


def thresholds_path(paths: Paths) -> Path:
    return paths.root / "coverage" / "thresholds"


def zero_counters(kbuild: Path) -> int:
    """Delete the .gcda files under `kbuild` (what `lcov -z -d` does, faster)."""
    n = 0
    for gcda in gcovjson.find_gcda(kbuild):
        try:
            gcda.unlink()
            n += 1
        except FileNotFoundError:
            pass
    return n


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pkg = {"lcov": "lcov", "genhtml": "lcov", "gcov": "gcc"}.get(name, name)
        raise InfraError(f"{name} not found (Debian package {pkg}: `tgtsim deps --install`)")
    return exe


def _run_tool(cmd: list[str], log: Path, progress: Progress, what: str,
              cwd: Optional[Path] = None) -> None:
    with open(log, "a", encoding="utf-8", errors="backslashreplace") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()

        def on_line(line: str) -> None:
            f.write(line + "\n")
            progress.output(line)

        res = run_watched(cmd, cwd=cwd, on_line=on_line, timeout=TOOL_TIMEOUT)
    if res.returncode != 0 or res.timed_out:
        tail = [ln for ln in res.lines if ln.strip()][-12:]
        raise InfraError(f"{what} failed (exit {res.returncode}; log: {log})",
                         detail="\n".join(tail))


def capture(kbuild: Path, gcda: list[Path], info: Path, log: Path, progress: Progress,
            jobs: int) -> None:
    """The tracefile of the run from the .gcda files `gcda` of `kbuild`: what
    `lcov -c -d KBUILD -b KBUILD` writes (the objects were compiled in
    kbuild, paths relative to it with ccache's base_dir), made by gcovjson
    from gcov's JSON, `jobs` gcov at once."""
    gcov = _tool("gcov")
    with open(log, "a", encoding="utf-8", errors="backslashreplace") as f:
        f.write(f"$ {gcov} {' '.join(gcovjson.GCOV_OPTIONS)} <the .gcda files of {kbuild}, "
                f"{max(jobs, 1)} at once> -> {info} (tools/tgtsim/gcovjson.py)\n")
        f.flush()

        def on_line(line: str) -> None:
            f.write(line + "\n")
            progress.output(line)

        with progress.step("coverage: capture"):
            gcovjson.capture(kbuild, kbuild, info, "tgtsim", jobs, on_line, gcov, files=gcda)


def read_scope(paths: Paths) -> list[str]:
    """coverage/scope: the kernel-tree paths (a directory ends in '/') that are
    compiled with gcov instrumentation and shown by the HTML and Cobertura
    reports; a line `*` instruments and shows the whole kernel."""
    f = paths.root / "coverage" / "scope"
    if not f.is_file():
        return list(DEFAULT_SCOPE)
    out = []
    for no, raw in enumerate(f.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line != EVERYTHING and (not SCOPE_RE.match(line) or line.startswith("/")
                                   or ".." in line.split("/")):
            raise UsageError(f"{f}:{no}: a path in the kernel tree (dir/ or file, letters, "
                             f"digits, _ . + - /) or `*` expected, got {line!r}")
        out.append(line)
    if not out:
        raise UsageError(f"{f}: no path listed")
    return out


def in_scope(path: str, scope: list[str]) -> bool:
    return any(s == EVERYTHING or path == s or (s.endswith("/") and path.startswith(s))
               for s in scope)


def outside_scope(scope: list[str], plines: patchlines.PatchLines) -> list[str]:
    """C files of the series that the scope does not instrument."""
    return [p for p in sorted(plines) if p.endswith((".c", ".h")) and not in_scope(p, scope)]


def series_outside_scope(paths: Paths) -> list[str]:
    """C files the series changes that coverage/scope does not list ([] when
    build/linux is not prepared yet)."""
    try:
        plines = patchlines.for_tree(paths.linux)
    except TgtsimError:
        return []
    return outside_scope(read_scope(paths), plines)


def effective_scope(paths: Paths) -> list[str]:
    """coverage/scope plus every C file of the series it does not list: the
    series' lines are always measured (the scope grows for them; the run says
    which files it added)."""
    return read_scope(paths) + series_outside_scope(paths)


def check_scope(paths: Paths, progress: Optional[Progress] = None) -> list[str]:
    """The C files of the series that coverage/scope lacks: instrumented all
    the same (effective_scope), named here so that the run says so."""
    missing = series_outside_scope(paths)
    if missing and progress is not None:
        progress.info("coverage: the scope grows by the files the patch series changes "
                      "outside coverage/scope (instrumented for this run): "
                      + ", ".join(missing))
    return missing


def specs_text(scope: list[str]) -> str:
    """A gcc specs file adding -fprofile-filter-files for `scope` to cc1's
    options. The regexes are searched in the source path as gcc gets it
    (relative with ccache's base_dir: '/drivers/scsi/' matches both forms);
    '.' and '+' go in brackets (a specs file eats backslashes)."""
    regex = ";".join("/" + re.sub(r"([.+])", r"[\1]", s) for s in scope)
    return f"*cc1_options:\n+ -fprofile-filter-files={regex}\n\n"


def make_options(paths: Paths) -> list[str]:
    """Make variables of the coverage build. CONFIG_GCOV compiles every object
    with -fprofile-arcs; -fprofile-filter-files limits the instrumentation to
    the scope. The option reaches gcc through a specs file (KCFLAGS=-specs=):
    given on the command line, ccache would refuse to cache any object
    ('unsupported compiler option'), while it hashes a specs file's content.
    The file name carries a hash of the content, so a new scope changes the
    command line and kbuild recompiles."""
    scope = effective_scope(paths)
    if EVERYTHING in scope:
        return []
    text = specs_text(scope)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    specs = paths.build / "kbuild" / f"gcov-scope-{digest}.specs"
    try:
        if not specs.is_file() or specs.read_text() != text:
            specs.parent.mkdir(parents=True, exist_ok=True)
            specs.write_text(text)
    except OSError as e:
        raise InfraError(f"cannot write {specs}: {e.strerror or e}") from None
    user = os.environ.get("KCFLAGS", "").strip()
    return [f"KCFLAGS={user + ' ' if user else ''}-specs={specs}"]


def extract(info: Path, tree: Path, scope: list[str], out: Path, log: Path,
            progress: Progress) -> None:
    """The records of `info` whose source file is in `scope`."""
    patterns = [f"{tree}/{s}*" if s.endswith("/") else f"{tree}/{s}" for s in scope]
    cmd = [_tool("lcov"), "-q", *LCOV_RC, "-e", str(info), *patterns, "-o", str(out)]
    with progress.step("coverage: lcov extract"):
        _run_tool(cmd, log, progress, "lcov extract")


def genhtml(info: Path, tree: Path, html: Path, log: Path, progress: Progress) -> None:
    cmd = [_tool("genhtml"), "-q", "--branch-coverage", *LCOV_RC, "--prefix", str(tree),
           "--title", "tgtsim", "--legend", "-o", str(html), str(info)]
    with progress.step("coverage: genhtml"):
        _run_tool(cmd, log, progress, "genhtml")


def write_cobertura(scoped: Path, tree: Path, xml: Path, progress: Progress) -> None:
    """cobertura.xml of the scope's tracefile (the HTML report's data)."""
    with progress.step("coverage: cobertura"):
        cobertura_xml.write(scoped, tree, xml)


# -- reports ---------------------------------------------------------------

def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(("_kunit.c", "_test.c"))


def sim_lld_report(data: lcovinfo.Tracefile) -> dict[str, Any]:
    """Per file of drivers/scsi/sim_lld/; the total is of the driver, without
    its KUnit suite (test code)."""
    files = {p: c for p, c in sorted(data.items()) if p.startswith(SIM_LLD_DIR)}

    def entry(c: lcovinfo.FileCoverage) -> dict[str, int]:
        return {"lines": c.lines_found, "lines_hit": c.lines_hit,
                "branches": c.branches_found, "branches_hit": c.branches_hit,
                "functions": c.functions_found, "functions_hit": c.functions_hit}

    entries = {"sim_lld/" + p[len(SIM_LLD_DIR):]: entry(c) for p, c in files.items()}
    total = {k: sum(e[k] for n, e in entries.items() if not is_test_file(n))
             for k in ("lines", "lines_hit", "branches", "branches_hit", "functions",
                       "functions_hit")}
    return {"total": total, "files": entries}


def sim_lld_text(rep: dict[str, Any]) -> str:
    def row(name: str, e: dict[str, int]) -> str:
        return (f"{name:<28} lines {covgate.fmt_count(e['lines_hit'], e['lines'], 11)} "
                f"branches {covgate.fmt_count(e['branches_hit'], e['branches'], 11)} "
                f"functions {covgate.fmt_count(e['functions_hit'], e['functions'])}")
    out = ["coverage of sim_lld/ (drivers/scsi/sim_lld/ in the tree; not part of the "
           "patch lines)", ""]
    out += [row(name, e) + ("  (tests)" if is_test_file(name) else "")
            for name, e in rep["files"].items()] or ["no data for sim_lld"]
    out += ["", row("total (without tests)", rep["total"])]
    return "\n".join(out) + "\n"


def summarize(rep: covgate.PatchReport, sim: dict[str, Any], gate: bool) -> dict[str, Any]:
    """The `coverage` entry of results.json."""
    d = rep.to_dict()
    d["gate"] = [{"name": n, "passed": ok, "message": m}
                 for n, ok, m in covgate.gate_messages(rep)] if gate else []
    d["sim_lld"] = sim
    d["reports"] = {"html": f"{SUBDIR}/html/index.html", "cobertura": f"{SUBDIR}/cobertura.xml",
                    "patch": f"{SUBDIR}/patch.txt", "sim_lld": f"{SUBDIR}/sim_lld.txt",
                    "tracefile": f"{SUBDIR}/coverage.info"}
    return d


def summary_notes(cov: dict[str, Any]) -> list[str]:
    """Lines of summary.txt (before its closing count line)."""
    if cov.get("error"):
        return [f"COVERAGE not available: {cov['error']}"]
    li, br = cov["lines"], cov["branches"]
    verdict = "" if not cov.get("gate") else (
        "  gate PASS" if all(g["passed"] for g in cov["gate"]) else "  gate FAIL")
    out = [f"COVERAGE patch lines {li['percent']:.1f}% ({li['hit']}/{li['total']}, threshold "
           f"{li['threshold']:.1f}%), patch branches {br['percent']:.1f}% ({br['hit']}/"
           f"{br['total']}, threshold {br['threshold']:.1f}%){verdict}"]
    for f in cov["files"]:
        if not f["lines"]:
            continue
        line = (f"    {f['path']:<30} lines {covgate.fmt_count(f['lines_hit'], f['lines'], 9)}"
                f" branches {covgate.fmt_count(f['branches_hit'], f['branches'], 9)}")
        if f["uncovered"]:
            line += " uncovered: " + patchlines.ranges(f["uncovered"])
        out.append(line.rstrip())
    t = cov["sim_lld"]["total"]
    out.append(f"COVERAGE sim_lld (driver, not its tests) lines "
               f"{covgate.pct(t['lines_hit'], t['lines']):.1f}% "
               f"({t['lines_hit']}/{t['lines']}), branches "
               f"{covgate.pct(t['branches_hit'], t['branches']):.1f}% "
               f"({t['branches_hit']}/{t['branches']}), functions "
               f"{covgate.pct(t['functions_hit'], t['functions']):.1f}% "
               f"({t['functions_hit']}/{t['functions']})")
    out.append(f"    reports: {SUBDIR}/html/index.html, {SUBDIR}/cobertura.xml, "
               f"{SUBDIR}/patch.txt, {SUBDIR}/sim_lld.txt")
    for entry in cov.get("diff", []):
        out += diffcov.summary_lines(entry)
    return out


def apply(res: Results, cov: dict[str, Any]) -> list[str]:
    """Add the gate's test cases to `res` (once) and return the summary notes.
    Used for a fresh run and when `tgtsim report` re-parses a run."""
    if not any(c.suite == SUITE for c in res.cases):
        for g in cov.get("gate", []):
            res.cases.append(Case(suite=SUITE, name=g["name"],
                                  status=PASSED if g["passed"] else FAILED,
                                  message="" if g["passed"] else g["message"],
                                  log=[g["message"]]))
        if cov.get("gate") and SUITE not in res.suites:
            res.suites.append(SUITE)
    return summary_notes(cov)


@dataclass
class Options:
    gate: bool = True
    html: bool = True
    cobertura: bool = True
    jobs: int = 2
    diff_base: Optional[str] = None          # --diff-base: the kernel tree's REF
    diff_base_tgtsim: Optional[str] = None   # --diff-base-tgtsim: this checkout's REF
    fail_under: Optional[float] = None       # gate of the changed lines
    kernel_src: Optional[str] = None         # where --diff-base is resolved


def diff_changes(paths: Paths, opts: Options) -> list[diffcov.Changes]:
    """The changes --diff-base and --diff-base-tgtsim name (a bad REF: exit 2)."""
    out = []
    if opts.diff_base is not None:
        out.append(diffcov.kernel_changes(paths.linux, opts.diff_base, opts.kernel_src))
    if opts.diff_base_tgtsim is not None:
        out.append(diffcov.tgtsim_changes(paths.root, opts.diff_base_tgtsim))
    return out


def diff_reports(paths: Paths, changes: list[diffcov.Changes], info: Path,
                 th: covgate.Thresholds, scope: list[str], fail_under: Optional[float],
                 out_dir: Optional[Path], xml: Optional[Path]
                 ) -> tuple[list[diffcov.DiffReport], list[dict[str, Any]]]:
    """The diff reports of `changes` against the tracefile `info`, written to
    `out_dir` (if given); their results.json entries."""
    if not changes:
        return [], []
    data = lcovinfo.relative_to_tree(lcovinfo.load(info), paths.linux)
    reports, entries = [], []
    for ch in changes:
        dr = diffcov.analyze(ch, data, th, scope, fail_under)
        files = diffcov.write(dr, out_dir, xml) if out_dir is not None else {}
        reports.append(dr)
        entries.append(dr.to_dict(files))
    return reports, entries


def analyze(paths: Paths, info: Path, th: covgate.Thresholds, gate: bool = True
            ) -> tuple[covgate.PatchReport, dict[str, Any], dict[str, Any]]:
    """Patch report, sim_lld report and the results.json entry of a tracefile."""
    data = lcovinfo.relative_to_tree(lcovinfo.load(info), paths.linux)
    plines = patchlines.for_tree(paths.linux)
    if not any(p in data for p in plines):
        raise InfraError(f"the tracefile {info} has no data for any file of the patch series "
                         "(no .gcda files written? is the profile built with gcov?)")
    rep = covgate.patch_report(plines, data, th)
    sim = sim_lld_report(data)
    return rep, sim, summarize(rep, sim, gate)


def check_tracefile(paths: Paths, info: Path, gate: bool = True,
                    opts: Optional[Options] = None) -> int:
    """`tgtsim coverage --tracefile FILE`: the patch report of FILE, gate
    applied; with --diff-base, the diff reports too (written beside FILE
    when its Cobertura file is there)."""
    th = covgate.load_thresholds(thresholds_path(paths))
    if not info.is_file():
        raise UsageError(f"no such tracefile: {info}")
    opts = opts or Options()
    changes = diff_changes(paths, opts)
    rep, sim, _cov = analyze(paths, info, th, gate)
    sys.stdout.write(covgate.report_text(rep))
    sys.stdout.write("\n" + sim_lld_text(sim))
    xml = info.parent / "cobertura.xml"
    try:
        diffs, _entries = diff_reports(paths, changes, info, th, effective_scope(paths),
                                       opts.fail_under, info.parent,
                                       xml if xml.is_file() else None)
    except OSError as e:
        raise InfraError(f"cannot write to {info.parent}: {e.strerror or e}") from None
    failed = []
    if gate and not rep.passed:
        failed += [(name, msg) for name, ok, msg in covgate.gate_messages(rep) if not ok]
    for dr in diffs:
        sys.stdout.write("\n" + diffcov.text(dr))
        failed += [(g["name"], g["message"]) for g in dr.gate() if not g["passed"]]
    for name, msg in failed:
        sys.stdout.write(f"FAIL {SUITE} {name}: {msg}\n")
    return 1 if failed else 0


def measures(profile: str) -> bool:
    """Whether runs of `profile` are measured with gcov."""
    return profile == PROFILE


def build_options(paths: Paths, profile: str) -> list[str]:
    """The make options `profile` needs for coverage ([] if not measured)."""
    return make_options(paths) if measures(profile) else []


@dataclass
class Collected:
    """What the stage made of a run: results.json's `coverage` entry
    ({"error": ...} when it failed) and, then, the tool's failure."""
    entry: dict[str, Any]
    crash: Optional[Crash] = None


class Coverage:
    """The coverage stage of a measured profile: the build's make options,
    the zeroed counters before the boots, the capture and reports after."""

    def __init__(self, paths: Paths, progress: Progress, opts: Options) -> None:
        # a bad thresholds or scope file: exit 2, before building
        self.thresholds = covgate.load_thresholds(thresholds_path(paths))
        self.scope = read_scope(paths)
        self.paths, self.progress, self.opts = paths, progress, opts
        self.kbuild = paths.kbuild(PROFILE)
        self.changes: list[diffcov.Changes] = []

    def check_scope(self) -> None:
        """After prepare: the series' C files outside coverage/scope join the scope."""
        extra = check_scope(self.paths, self.progress)
        self.scope = self.scope + [p for p in extra if p not in self.scope]
        # --diff-base REF: a bad REF stops the run before building (exit 2)
        self.changes = diff_changes(self.paths, self.opts)
        for ch in self.changes:
            self.progress.info(f"coverage: diff of the {ch.title}: "
                               f"{patchlines.count(ch.lines)} changed lines in "
                               f"{len(ch.lines)} files")

    def make_options(self) -> list[str]:
        return make_options(self.paths)

    def reset(self) -> None:
        """Delete the counters of earlier runs."""
        zero_counters(self.kbuild)

    def collect(self, run_dir: Path) -> Collected:
        """Capture after all boots of the run, write run_dir/coverage/."""
        out_dir = run_dir / SUBDIR
        try:
            return Collected(self._collect(out_dir))
        except OSError as e:
            return _failed(f"cannot write {out_dir}: {e.strerror or e}", "")
        except TgtsimError as e:
            return _failed(e.message, e.detail)

    def _collect(self, out_dir: Path) -> dict[str, Any]:
        paths, progress, opts, kbuild = self.paths, self.progress, self.opts, self.kbuild
        log = out_dir / "coverage.log"
        started = time.monotonic()
        out_dir.mkdir(parents=True, exist_ok=True)
        gcda = gcovjson.find_gcda(kbuild)
        n = len(gcda)
        if n == 0:
            raise InfraError(f"no .gcda files in {kbuild} after the run: the kernel wrote "
                             "no coverage data (crashed before exit, or built without gcov)")
        info = out_dir / "coverage.info"
        xml = out_dir / "cobertura.xml"
        capture(kbuild, gcda, info, log, progress, opts.jobs)
        rep, sim, cov = analyze(paths, info, self.thresholds, opts.gate)
        (out_dir / "patch.txt").write_text(covgate.report_text(rep))
        (out_dir / "sim_lld.txt").write_text(sim_lld_text(sim))
        scoped = info
        if (opts.html or opts.cobertura) and EVERYTHING not in self.scope:
            scoped = out_dir / "scope.info"
            extract(info, paths.linux, self.scope, scoped, log, progress)
        html: Optional[Background] = None
        try:
            if opts.html:     # genhtml beside the Cobertura file and the diff reports
                html = Background(lambda: genhtml(scoped, paths.linux, out_dir / "html", log,
                                                  progress))
                html.start()
            if opts.cobertura:
                write_cobertura(scoped, paths.linux, xml, progress)
            diffs, entries = diff_reports(paths, self.changes, info, self.thresholds,
                                          self.scope, opts.fail_under, out_dir,
                                          xml if opts.cobertura else None)
            if html is not None:
                html.wait()
        except BaseException:
            # failed or interrupted (also while waiting): genhtml ends first
            if html is not None and not html.ended(0):
                html.abandon()
            raise
        if entries:
            cov["diff"] = entries
            if opts.gate:
                cov["gate"] += [g for dr in diffs for g in dr.gate()]
        cov["scope"] = self.scope
        cov["tree"] = str(paths.linux)    # the paths of coverage.info (tgtsim merge)
        cov["gcda_files"] = n
        cov["duration"] = round(time.monotonic() - started, 1)
        progress.info(f"coverage: patch lines {rep.line_pct:.1f}% ({rep.lines_hit}/"
                      f"{rep.lines}), branches {rep.branch_pct:.1f}% "
                      f"({rep.branches_hit}/{rep.branches}): {out_dir}")
        return cov


def for_profile(paths: Paths, profile: str, progress: Progress,
                opts: Options) -> Optional[Coverage]:
    """The coverage stage of a run of `profile`, None if it is not measured."""
    return Coverage(paths, progress, opts) if measures(profile) else None


def _failed(message: str, detail: str) -> Collected:
    """A capture that failed is the tool's failure (exit 3), the run's crash
    unless the boot itself already failed (then its report comes first)."""
    return Collected({"error": message},
                     Crash(reason=f"coverage failed: {message}",
                           tail=(detail.splitlines() or [message])[-60:], where="coverage"))
