"""lcov tracefiles (.info): parse, merge records of the same file, map paths.

Only what the reports need: line counts (DA), branches (BRDA) and functions
(FN/FNDA). A BRDA whose count is '-' (its block never ran) counts as not taken.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tgtsim.errors import InfraError

BranchKey = tuple[int, int, int]   # (line, block, branch)


@dataclass
class FileCoverage:
    lines: dict[int, int] = field(default_factory=dict)              # line -> count
    branches: dict[BranchKey, Optional[int]] = field(default_factory=dict)  # None: '-'
    functions: dict[str, int] = field(default_factory=dict)          # name -> count
    function_lines: dict[str, int] = field(default_factory=dict)     # name -> first line

    def merge(self, other: "FileCoverage") -> None:
        for ln, n in other.lines.items():
            self.lines[ln] = self.lines.get(ln, 0) + n
        for key, taken in other.branches.items():
            old = self.branches.get(key)
            self.branches[key] = None if old is None and taken is None \
                else (old or 0) + (taken or 0)
        for name, n in other.functions.items():
            self.functions[name] = self.functions.get(name, 0) + n
        for name, ln in other.function_lines.items():
            self.function_lines.setdefault(name, ln)

    def branches_on(self, line: int) -> list[tuple[BranchKey, Optional[int]]]:
        return sorted((k, v) for k, v in self.branches.items() if k[0] == line)

    @property
    def lines_found(self) -> int:
        return len(self.lines)

    @property
    def lines_hit(self) -> int:
        return sum(1 for n in self.lines.values() if n > 0)

    @property
    def branches_found(self) -> int:
        return len(self.branches)

    @property
    def branches_hit(self) -> int:
        return sum(1 for n in self.branches.values() if n)

    @property
    def functions_found(self) -> int:
        return len(self.function_lines) or len(self.functions)

    @property
    def functions_hit(self) -> int:
        return sum(1 for n in self.functions.values() if n > 0)


Tracefile = dict[str, FileCoverage]   # source path (as in SF:) -> coverage


class TracefileError(InfraError):
    pass


def _ints(text: str, n: int, where: str) -> list[int]:
    parts = text.split(",")
    if len(parts) < n:
        raise TracefileError(f"{where}: expected {n} comma-separated fields: {text!r}")
    try:
        return [int(p) for p in parts[:n]]
    except ValueError:
        raise TracefileError(f"{where}: not a number in {text!r}") from None


def parse(text: str, name: str = "tracefile") -> Tracefile:
    """Parse lcov tracefile `text`; records of the same SF are merged."""
    out: Tracefile = {}
    cur: Optional[FileCoverage] = None
    path = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{name}:{no}"
        if not line or line.startswith("TN:"):
            continue
        if line.startswith("SF:"):
            if cur is not None:
                raise TracefileError(f"{where}: SF without end_of_record of {path}")
            path, cur = line[3:], FileCoverage()
            continue
        if line == "end_of_record":
            if cur is None:
                raise TracefileError(f"{where}: end_of_record without SF")
            if path in out:
                out[path].merge(cur)
            else:
                out[path] = cur
            cur = None
            continue
        if cur is None:
            raise TracefileError(f"{where}: data outside a record: {line[:60]!r}")
        tag, _, rest = line.partition(":")
        if tag == "DA":
            ln, n = _ints(rest, 2, where)
            cur.lines[ln] = cur.lines.get(ln, 0) + max(n, 0)
        elif tag == "BRDA":
            parts = rest.split(",")
            if len(parts) != 4:
                raise TracefileError(f"{where}: BRDA needs 4 fields: {rest!r}")
            ln, block, branch = _ints(",".join(parts[:3]), 3, where)
            taken = None if parts[3] == "-" else _ints(parts[3], 1, where)[0]
            key = (ln, block, branch)
            old = cur.branches.get(key)
            cur.branches[key] = None if old is None and taken is None \
                else (old or 0) + (taken or 0)
        elif tag == "FN":
            ln_s, _, fname = rest.partition(",")
            cur.function_lines[fname] = _ints(ln_s, 1, where)[0]
        elif tag == "FNDA":
            n_s, _, fname = rest.partition(",")
            cur.functions[fname] = cur.functions.get(fname, 0) + _ints(n_s, 1, where)[0]
        elif tag in ("FNF", "FNH", "BRF", "BRH", "LF", "LH", "VER"):
            continue   # summaries: recomputed from the data
        else:
            raise TracefileError(f"{where}: unknown tracefile record {tag!r}")
    if cur is not None:
        raise TracefileError(f"{name}: last record of {path} has no end_of_record")
    return out


def load(path: Path) -> Tracefile:
    try:
        text = path.read_text(errors="backslashreplace")
    except OSError as e:
        raise InfraError(f"cannot read tracefile {path}: {e.strerror or e}") from None
    return parse(text, str(path))


def relative_to_tree(data: Tracefile, tree: Path) -> Tracefile:
    """Key the files by their path relative to `tree` (the kernel source
    tree); files outside it keep their path. Records that map to the same
    file (symlinks, '..' in paths) are merged."""
    roots = {os.path.normpath(str(tree)), os.path.realpath(str(tree))}
    out: Tracefile = {}
    for src, cov in data.items():
        key = os.path.normpath(src)
        for root in roots:
            if key.startswith(root + os.sep):
                key = key[len(root) + 1:]
                break
        else:
            real = os.path.realpath(src)
            for root in roots:
                if real.startswith(root + os.sep):
                    key = real[len(root) + 1:]
                    break
        if key in out:
            out[key].merge(cov)
        else:
            merged = FileCoverage()
            merged.merge(cov)
            out[key] = merged
    return out
