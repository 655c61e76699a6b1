"""The test matrix: matrix.toml of the checkout (tomllib), its cells and
the deterministic shares of `tgtsim shard`.

A cell is (profile, KUnit suites, selftest programs, seed, more kernel
arguments): one run of the profile's kernel. Only the profile needs a
build; the rest are boot parameters. A malformed file or an unknown cell is
a usage error (exit 2) with one message.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim import profiles
from tgtsim.errors import UsageError

FILE = "matrix.toml"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
KEYS = {"id", "profile", "kunit", "selftests", "seed", "args", "cost", "description"}
# seconds a cell of a profile takes when the matrix gives no cost
ESTIMATE = {"kunit": 20.0, "coverage": 60.0, "debug": 150.0}


@dataclass(frozen=True)
class Cell:
    id: str
    profile: str
    kunit: str
    selftests: Optional[str] = None
    seed: Optional[int] = None
    args: tuple[str, ...] = field(default_factory=tuple)
    cost: Optional[float] = None

    @property
    def estimate(self) -> float:
        return self.cost if self.cost is not None else ESTIMATE.get(self.profile, 60.0)

    def describe(self) -> str:
        parts = [f"kunit={self.kunit}", f"selftests={self.selftests or '-'}"]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        parts += list(self.args)
        return " ".join(parts)


class MatrixError(UsageError):
    pass


def default_path(root: Path) -> Path:
    return root / FILE


def load(path: Path, profiles_dir: Path) -> list[Cell]:
    """The cells of `path`; MatrixError (exit 2) for anything malformed."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise MatrixError(f"{path}: no such matrix file") from None
    except OSError as e:
        raise MatrixError(f"{path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise MatrixError(f"{path}: not TOML: {e}") from None
    extra = set(data) - {"cell"}
    if extra:
        raise MatrixError(f"{path}: unknown top-level key(s) {', '.join(sorted(extra))}; "
                          "the cells are [[cell]] tables")
    raw = data.get("cell", [])
    if not isinstance(raw, list) or not raw:
        raise MatrixError(f"{path}: no [[cell]] table")
    known = profiles.known(profiles_dir)
    cells: list[Cell] = []
    for n, c in enumerate(raw, 1):
        cells.append(_cell(path, n, c, known))
    ids = [c.id for c in cells]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise MatrixError(f"{path}: cell id(s) used twice: {', '.join(dup)}")
    return cells


def _cell(path: Path, n: int, c: Any, known: list[str]) -> Cell:
    where = f"{path}: cell {n}"
    if not isinstance(c, dict):
        raise MatrixError(f"{where}: not a table")
    if isinstance(c.get("id"), str):
        where += f" ({c['id']})"
    bad = set(c) - KEYS
    if bad:
        raise MatrixError(f"{where}: unknown key(s) {', '.join(sorted(bad))}; known: "
                          + ", ".join(sorted(KEYS)))
    for key in ("id", "profile", "kunit"):
        if not isinstance(c.get(key), str) or not c[key]:
            raise MatrixError(f"{where}: `{key}` (a non-empty string) is missing")
    if not ID_RE.match(c["id"]):
        raise MatrixError(f"{where}: id {c['id']!r}: lower-case letters, digits, . _ - only")
    if c["profile"] not in known:
        raise MatrixError(f"{where}: unknown profile {c['profile']!r}; known: "
                          + ", ".join(known))
    sel = c.get("selftests")
    if sel is not None and (not isinstance(sel, str) or not sel):
        raise MatrixError(f"{where}: `selftests` is a glob of programs (leave it out for none)")
    seed = c.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise MatrixError(f"{where}: `seed` is an integer >= 0")
    args = c.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) and a and " " not in a
                                             for a in args):
        raise MatrixError(f"{where}: `args` is a list of kernel arguments (no spaces)")
    cost = c.get("cost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))
                             or cost <= 0):
        raise MatrixError(f"{where}: `cost` is a number of seconds > 0")
    return Cell(id=c["id"], profile=c["profile"], kunit=c["kunit"], selftests=sel, seed=seed,
                args=tuple(args), cost=float(cost) if cost is not None else None)


def find(cells: list[Cell], cell_id: str, path: Path) -> Cell:
    for c in cells:
        if c.id == cell_id:
            return c
    raise UsageError(f"no cell {cell_id!r} in {path}; cells: " + ", ".join(c.id for c in cells))


def select(cells: list[Cell], globs: str) -> list[Cell]:
    """The cells whose id matches one of the comma-separated globs ('' or
    '*': all); a glob that matches nothing is a usage error."""
    pats = [g.strip() for g in globs.split(",") if g.strip()] if globs else []
    if not pats:
        return list(cells)
    for p in pats:
        if not any(fnmatch.fnmatchcase(c.id, p) for c in cells):
            raise UsageError(f"--cells: {p!r} matches no cell; cells: "
                             + ", ".join(c.id for c in cells))
    return [c for c in cells if any(fnmatch.fnmatchcase(c.id, p) for p in pats)]


def shares(cells: list[Cell], total: int) -> list[list[Cell]]:
    """`total` balanced, deterministic shares: the most expensive cell first
    to the share with the least cost so far (ties: cell id, lowest share),
    each share in the matrix's order. The same file gives every runner the
    same shares."""
    order = sorted(range(len(cells)), key=lambda i: (-cells[i].estimate, cells[i].id))
    load_: list[float] = [0.0] * total
    picked: list[list[int]] = [[] for _ in range(total)]
    for i in order:
        k = min(range(total), key=lambda s: (load_[s], s))
        picked[k].append(i)
        load_[k] += cells[i].estimate
    return [[cells[i] for i in sorted(p)] for p in picked]


def share(cells: list[Cell], index: int, total: int) -> list[Cell]:
    """Share `index` (1..total) of `total`."""
    if total < 1:
        raise UsageError(f"--total must be >= 1 (got {total})")
    if not 1 <= index <= total:
        raise UsageError(f"--index must be between 1 and --total {total} (got {index})")
    return shares(cells, total)[index - 1]
