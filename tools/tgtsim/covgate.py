"""Patch-line coverage and its gate (coverage/thresholds).

The patch lines (tgtsim.patchlines) that lcov has data for are the
executable ones; of those, the report counts the executed lines and the
taken branches, per file, and the gate compares the totals with the
thresholds. Exclusions take lines out of both counts, each with its reason.

coverage/thresholds, one statement per line, '#' starts a comment:

    patch-lines     PERCENT
    patch-branches  PERCENT
    exclude PATH-GLOB:FROM[-TO]    REASON...
    exclude PATH-GLOB:/REGEX/      REASON...
    exclude PATH-GLOB:/REGEX/+N    REASON...
    exclude-branches PATH-GLOB:FROM[-TO]|/REGEX/[+N]  REASON...

`exclude` takes a line and its branches out of the counts, `exclude-branches`
only its branches (e.g. the branches gcc generates inside WARN_ON_ONCE()).

The second form matches the source text of each patch line (Python regex,
searched; it ends at the first '/' followed by a blank or the end of the
line; write '\\/' for a slash inside it), so it does not need markers in the
kernel source and survives lines moving. `/REGEX/+N` also takes the N
lines that follow each matching line (the body of an error branch). PATH-GLOB is an fnmatch pattern on
the path in the kernel tree.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim.errors import InfraError, UsageError
from tgtsim.lcovinfo import Tracefile
from tgtsim.patchlines import PatchLines, ranges

KEYS = ("patch-lines", "patch-branches")


@dataclass(frozen=True)
class Exclusion:
    glob: str
    reason: str
    first: int = 0          # line range (0: not a range exclusion)
    last: int = 0
    regex: str = ""
    after: int = 0          # /REGEX/+N: the N lines after a matching line too
    where: str = ""         # file:line of the statement
    branches_only: bool = False

    def matches(self, path: str, line: int, text: str) -> bool:
        if not fnmatch.fnmatchcase(path, self.glob):
            return False
        if self.regex:
            return re.search(self.regex, text) is not None
        return self.first <= line <= self.last

    def lines_of(self, path: str, texts: dict[int, str]) -> set[int]:
        """The lines of `path` (patch line -> text) this exclusion takes."""
        if not fnmatch.fnmatchcase(path, self.glob):
            return set()
        if not self.regex:
            return {ln for ln in texts if self.first <= ln <= self.last}
        hits = [ln for ln, text in texts.items() if re.search(self.regex, text)]
        return {ln + k for ln in hits for k in range(self.after + 1)}

    def describe(self) -> str:
        what = (f"/{self.regex}/" + (f"+{self.after}" if self.after else "")) if self.regex else (
            str(self.first) if self.first == self.last else f"{self.first}-{self.last}")
        return f"{'exclude-branches' if self.branches_only else 'exclude'} {self.glob}:{what}"


@dataclass
class Thresholds:
    lines: float = 0.0
    branches: float = 0.0
    exclusions: list[Exclusion] = field(default_factory=list)


_PCT = re.compile(r"^\d+(?:\.\d+)?$")
_TARGET = re.compile(r"^(?P<glob>[^:\s]+):(?:(?P<first>\d+)(?:-(?P<last>\d+))?|/(?P<rest>.*))$")


_AFTER = re.compile(r"(?:\+(\d+))?(?=[ \t]|$)")


def _split_regex(rest: str, where: str) -> tuple[str, int, str]:
    """'REGEX/[+N] reason...' -> (REGEX, N, 'reason...'); '\\/' is a literal slash."""
    i = 0
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            i += 2
            continue
        m = _AFTER.match(rest, i + 1) if c == "/" else None
        if m is not None:
            return (rest[:i].replace("\\/", "/"), int(m.group(1) or 0),
                    rest[m.end():].strip())
        i += 1
    raise UsageError(f"{where}: regex not closed with '/' (followed by a blank)")


def parse_thresholds(text: str, name: str = "coverage/thresholds") -> Thresholds:
    th = Thresholds()
    seen: set[str] = set()
    for no, raw in enumerate(text.splitlines(), 1):
        where = f"{name}:{no}"
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        rest = rest.strip()
        if key in KEYS:
            value = rest.split("#", 1)[0].strip().rstrip("%")
            if not _PCT.match(value) or float(value) > 100:
                raise UsageError(f"{where}: {key} needs a percentage 0..100, got {rest!r}")
            if key in seen:
                raise UsageError(f"{where}: {key} given twice")
            seen.add(key)
            if key == "patch-lines":
                th.lines = float(value)
            else:
                th.branches = float(value)
            continue
        if key in ("exclude", "exclude-branches"):
            target, _, reason = rest.partition(" ")
            m = _TARGET.match(target) if target else None
            if m is None:
                raise UsageError(f"{where}: expected `{key} PATH:FROM[-TO] REASON` or "
                                 f"`{key} PATH:/REGEX/ REASON`, got {line!r}")
            if m.group("rest") is not None:
                regex, after, reason = _split_regex(rest[len(m.group("glob")) + 2:], where)
                if not regex:
                    raise UsageError(f"{where}: empty regex")
                try:
                    re.compile(regex)
                except re.error as e:
                    raise UsageError(f"{where}: bad regex /{regex}/: {e}") from None
                ex = Exclusion(glob=m.group("glob"), reason=reason, regex=regex, after=after,
                               where=where, branches_only=key == "exclude-branches")
            else:
                first = int(m.group("first"))
                last = int(m.group("last") or first)
                if first < 1 or last < first:
                    raise UsageError(f"{where}: bad line range {first}-{last}")
                ex = Exclusion(glob=m.group("glob"), reason=reason.strip(), first=first,
                               last=last, where=where, branches_only=key == "exclude-branches")
            if not ex.reason:
                raise UsageError(f"{where}: an exclusion needs a reason after the pattern")
            th.exclusions.append(ex)
            continue
        raise UsageError(f"{where}: unknown statement {key!r} "
                         f"(known: {', '.join(KEYS)}, exclude, exclude-branches)")
    for key in KEYS:
        if key not in seen:
            raise UsageError(f"{name}: {key} is missing")
    return th


def load_thresholds(path: Path) -> Thresholds:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"no coverage thresholds file {path}") from None
    except OSError as e:
        raise InfraError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_thresholds(text, str(path))


# -- the report ------------------------------------------------------------

@dataclass
class FileReport:
    path: str
    patch_lines: int = 0                 # all '+' lines of the series in this file
    lines: int = 0                       # executable (lcov has data), not excluded
    lines_hit: int = 0
    branches: int = 0
    branches_hit: int = 0
    uncovered: list[int] = field(default_factory=list)
    # line -> [taken, total] for lines with a branch never taken
    partial: dict[int, list[int]] = field(default_factory=dict)
    excluded: dict[int, str] = field(default_factory=dict)   # line -> reason
    excluded_branches: dict[int, str] = field(default_factory=dict)   # line -> reason


def pct(hit: int, total: int) -> float:
    """Percentage rounded down to 0.1 (100.0 only when all are hit)."""
    if total == 0:
        return 100.0
    return math.floor(hit * 1000 / total) / 10


@dataclass
class PatchReport:
    files: list[FileReport]
    thresholds: Thresholds
    unused_exclusions: list[Exclusion] = field(default_factory=list)
    source: dict[str, dict[int, str]] = field(default_factory=dict)   # texts, for messages

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def lines_hit(self) -> int:
        return sum(f.lines_hit for f in self.files)

    @property
    def branches(self) -> int:
        return sum(f.branches for f in self.files)

    @property
    def branches_hit(self) -> int:
        return sum(f.branches_hit for f in self.files)

    @property
    def line_pct(self) -> float:
        return pct(self.lines_hit, self.lines)

    @property
    def branch_pct(self) -> float:
        return pct(self.branches_hit, self.branches)

    def lines_ok(self) -> bool:
        return self.lines_hit * 100 >= self.thresholds.lines * self.lines

    def branches_ok(self) -> bool:
        return self.branches_hit * 100 >= self.thresholds.branches * self.branches

    @property
    def passed(self) -> bool:
        return self.lines_ok() and self.branches_ok()

    def uncovered_lines(self) -> list[tuple[str, int, str]]:
        return [(f.path, ln, self.source.get(f.path, {}).get(ln, ""))
                for f in self.files for ln in f.uncovered]

    def partial_branches(self) -> list[tuple[str, int, int, int, str]]:
        return [(f.path, ln, t, n, self.source.get(f.path, {}).get(ln, ""))
                for f in self.files for ln, (t, n) in sorted(f.partial.items())]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": {"hit": self.lines_hit, "total": self.lines, "percent": self.line_pct,
                      "threshold": self.thresholds.lines, "ok": self.lines_ok()},
            "branches": {"hit": self.branches_hit, "total": self.branches,
                         "percent": self.branch_pct, "threshold": self.thresholds.branches,
                         "ok": self.branches_ok()},
            "passed": self.passed,
            "files": [dict(asdict(f), partial={str(k): v for k, v in f.partial.items()},
                           excluded={str(k): v for k, v in f.excluded.items()},
                           excluded_branches={str(k): v for k, v in
                                              f.excluded_branches.items()})
                      for f in self.files],
            "uncovered_lines": [f"{p}:{ln}" for p, ln, _t in self.uncovered_lines()],
            "partial_branches": [f"{p}:{ln} ({t}/{n} taken)"
                                 for p, ln, t, n, _x in self.partial_branches()],
            "unused_exclusions": [f"{e.where}: {e.describe()}" for e in self.unused_exclusions],
        }


def patch_report(patch: PatchLines, data: Tracefile, th: Thresholds) -> PatchReport:
    """Coverage of the patch lines; `data` is keyed by path in the kernel tree."""
    used: set[Exclusion] = set()
    files = []
    for path in sorted(patch):
        plines = patch[path]
        cov = data.get(path)
        fr = FileReport(path=path, patch_lines=len(plines))
        if cov is not None:
            taken_by = {e: e.lines_of(path, plines) for e in th.exclusions}
            by_line: dict[int, list[Optional[int]]] = {}
            for (ln, _b, _r), taken in cov.branches.items():
                by_line.setdefault(ln, []).append(taken)
            for ln in sorted(plines):
                if ln not in cov.lines:
                    continue     # not executable: no code generated for it
                ex = next((e for e in th.exclusions
                           if not e.branches_only and ln in taken_by[e]), None)
                if ex is not None:
                    used.add(ex)
                    fr.excluded[ln] = ex.reason
                    continue
                fr.lines += 1
                if cov.lines[ln] > 0:
                    fr.lines_hit += 1
                else:
                    fr.uncovered.append(ln)
                takens = by_line.get(ln, [])
                bex = next((e for e in th.exclusions
                            if e.branches_only and ln in taken_by[e]), None)
                if bex is not None and takens:
                    used.add(bex)
                    fr.excluded_branches[ln] = bex.reason
                    takens = []
                hit = sum(1 for t in takens if t)
                fr.branches += len(takens)
                fr.branches_hit += hit
                if hit < len(takens):
                    fr.partial[ln] = [hit, len(takens)]
        files.append(fr)
    unused = [e for e in th.exclusions if e not in used]
    return PatchReport(files=files, thresholds=th, unused_exclusions=unused, source=patch)


def fmt_count(hit: int, total: int, width: int = 0) -> str:
    """'  96.1% (75/78)' (the count left-aligned in `width`), '-' for 0/0."""
    if total == 0:
        return f"{'-':>6}{'':<{width + 1}}" if width else "-"
    count = f"({hit}/{total})"
    return f"{pct(hit, total):5.1f}% {count:<{width}}"


def report_text(rep: PatchReport, title: str = "patch-line coverage") -> str:
    th = rep.thresholds
    out = [f"{title} (lines added or changed by patches/linux-6.12/, executable lines only)",
           "",
           f"patch lines:    {fmt_count(rep.lines_hit, rep.lines)}   threshold {th.lines:.1f}%"
           f"  {'ok' if rep.lines_ok() else 'BELOW THRESHOLD'}",
           f"patch branches: {fmt_count(rep.branches_hit, rep.branches)}   threshold "
           f"{th.branches:.1f}%  {'ok' if rep.branches_ok() else 'BELOW THRESHOLD'}",
           "", f"{'file':<36} {'lines':<18} {'branches':<18} patch lines (executable)"]
    for f in rep.files:
        out.append(f"{f.path:<36} {fmt_count(f.lines_hit, f.lines, 11)} "
                   f"{fmt_count(f.branches_hit, f.branches, 11)} {f.patch_lines} ({f.lines})")
    unc = rep.uncovered_lines()
    out += ["", f"uncovered patch lines ({len(unc)}):"]
    out += [f"  {p}:{ln}: {t.strip()}" for p, ln, t in unc] or ["  none"]
    part = rep.partial_branches()
    out += ["", f"patch lines with branches not taken ({len(part)}):"]
    out += [f"  {p}:{ln}: {t}/{n} taken: {x.strip()}" for p, ln, t, n, x in part] or ["  none"]
    excl = [(f.path, ln, r) for f in rep.files for ln, r in sorted(f.excluded.items())]
    out += ["", f"excluded patch lines ({len(excl)}, from coverage/thresholds):"]
    out += [f"  {p}:{ln}: {r}" for p, ln, r in excl] or ["  none"]
    bexcl = [(f.path, ln, r) for f in rep.files for ln, r in sorted(f.excluded_branches.items())]
    if bexcl:
        out += ["", f"patch lines whose branches are excluded ({len(bexcl)}):"]
        out += [f"  {p}:{ln}: {r}" for p, ln, r in bexcl]
    if rep.unused_exclusions:
        out += ["", "exclusions that match no executable patch line (stale? remove them):"]
        out += [f"  {e.where}: {e.describe()} {e.reason}" for e in rep.unused_exclusions]
    out += ["", "gate: " + ("PASS" if rep.passed else "FAIL")]
    return "\n".join(out) + "\n"


def gate_messages(rep: PatchReport, limit: int = 40) -> list[tuple[str, bool, str]]:
    """(case name, passed, message) for the two gate checks; a failing
    message names the uncovered lines (lines) or the partly taken ones."""
    th = rep.thresholds
    res = []
    unc = rep.uncovered_lines()
    msg = (f"patch lines {rep.line_pct:.1f}% ({rep.lines_hit}/{rep.lines}), "
           f"threshold {th.lines:.1f}%")
    if not rep.lines_ok():
        msg += "; uncovered: " + ", ".join(f"{p}:{ln}" for p, ln, _ in unc[:limit]) \
            + (f" (+{len(unc) - limit} more, see coverage/patch.txt)" if len(unc) > limit else "")
    res.append(("patch-lines", rep.lines_ok(), msg))
    part = rep.partial_branches()
    msg = (f"patch branches {rep.branch_pct:.1f}% ({rep.branches_hit}/{rep.branches}), "
           f"threshold {th.branches:.1f}%")
    if not rep.branches_ok():
        msg += "; not all taken: " + ", ".join(f"{p}:{ln} ({t}/{n})"
                                               for p, ln, t, n, _ in part[:limit]) \
            + (f" (+{len(part) - limit} more)" if len(part) > limit else "")
    res.append(("patch-branches", rep.branches_ok(), msg))
    return res


def uncovered_summary(rep: PatchReport) -> list[str]:
    """'path: 12,14-16' per file with uncovered patch lines."""
    return [f"{f.path}:{ranges(f.uncovered)}" for f in rep.files if f.uncovered]


def raise_thresholds(text: str, lines: float, branches: float) -> tuple[str, list[str]]:
    """`text` of coverage/thresholds with patch-lines/patch-branches raised to
    the achieved values (never lowered); comments and exclusions are kept."""
    new = {"patch-lines": math.floor(lines * 10) / 10,
           "patch-branches": math.floor(branches * 10) / 10}
    changed = []
    out = []
    for raw in text.splitlines():
        key = raw.strip().split(" ", 1)[0] if raw.strip() else ""
        if key in new:
            value = raw.strip()[len(key):].split("#", 1)[0].strip().rstrip("%")
            old = float(value) if _PCT.match(value) else 0.0
            if new[key] > old:
                changed.append(f"{key} {old:.1f} -> {new[key]:.1f}")
                raw = f"{key} {new[key]:.1f}"
        out.append(raw)
    return "\n".join(out) + "\n", changed
