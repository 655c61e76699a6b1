"""What a run tested: the `provenance` object of results.json (and the
<properties> of junit.xml), so that a run directory says which kernel, which
series and which tgtsim it came from, and a bisection step's run is found by
its commit. The field names are an interface (the HTML report and the seed
handling read them; README.md documents them):

    kernel_commit   the commit of the user's tree that was tested (KERNEL_SRC),
                    or, for the Debian tarball, "linux-source-6.12 <version>"
    kernel_base     the base commit of build/linux (below the series)
    series_hash     sha256 over patches/linux-6.12/series and its patches
    profile         the config profile
    cell            the matrix cell (null outside a matrix cell)
    seed            the seed given to the suites (null: their built-in defaults)
    tgtsim_commit   the tgtsim checkout's commit, "-dirty" appended when it has
                    uncommitted changes ("unknown" outside a git checkout)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

from tgtsim import kernel_source, series
from tgtsim.errors import TgtsimError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.prepare import State

FIELDS = ("kernel_commit", "kernel_base", "series_hash", "profile", "cell", "seed",
          "tgtsim_commit")


def series_hash(series_file: Path) -> str:
    """sha256 over the series file and each patch it lists, in order."""
    h = hashlib.sha256()
    if series_file.is_file():
        h.update(b"series\0" + series_file.read_bytes() + b"\0")
        for p in series.read_series(series_file):
            h.update(p.name.encode() + b"\0" + p.path.read_bytes() + b"\0")
    return h.hexdigest()


def tgtsim_commit(root: Path) -> str:
    git = Git(root)
    try:
        if not git.is_repo():
            return "unknown"
        head = git.head()
        dirty = git.run("status", "--porcelain", "--untracked-files=normal", "--",
                        ".", ":!build", ":!out", check=False).stdout.strip()
    except TgtsimError:
        return "unknown"
    return head + ("-dirty" if dirty else "")


def kernel_ids(tree: Path) -> tuple[Optional[str], Optional[str]]:
    """(kernel_commit, kernel_base) of a prepared tree; None where unknown."""
    git = Git(tree)
    state = State.load(git) if git.is_repo() else None
    if state is None or not state.base_commit:
        return None, None
    if state.base.startswith("git:"):
        return state.base[len("git:"):], state.base_commit
    version = None
    try:
        version = kernel_source.full_version((tree / "Makefile").read_text())
    except OSError:
        pass
    name = state.base.split(":")[1].rsplit("/", 1)[-1] if ":" in state.base else "tarball"
    return f"{name} ({version or 'unknown version'})", state.base_commit


def collect(paths: Paths, profile: str, cell: Optional[str] = None,
            seed: Optional[int] = None, tree: Optional[Path] = None) -> dict[str, Any]:
    commit, base = kernel_ids(tree or paths.linux)
    return {"kernel_commit": commit, "kernel_base": base,
            "series_hash": series_hash(paths.series), "profile": profile, "cell": cell,
            "seed": seed, "tgtsim_commit": tgtsim_commit(paths.root)}
