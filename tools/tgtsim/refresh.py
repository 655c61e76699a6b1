"""`tgtsim refresh-patches`: build/linux commits -> patches/linux-6.12/.

Every commit between the base and HEAD, except the overlay commit, becomes a
`git format-patch` file NNNN-subject.patch; `series` lists them in order;
patch files no longer in the series are removed. The options are fixed
(zero commit hash, no signature, user config ignored) so that refreshing an
unchanged tree gives no diff.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from tgtsim import series
from tgtsim.errors import UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.prepare import OVERLAY_SUBJECT, load_state
from tgtsim.progress import Progress

FORMAT_OPTS = ("--zero-commit", "--no-signature", "--no-numbered", "--abbrev=12",
               "--no-renames", "--stat=80", "--no-thread", "--no-cover-letter",
               "--no-binary", "--encode-email-headers")


@dataclass
class RefreshResult:
    written: list[str]
    removed: list[str]


def refresh(paths: Paths, progress: Progress) -> RefreshResult:
    state = load_state(paths.linux)
    git = Git(paths.linux)
    # a detached HEAD is a rebase or cherry-pick in the middle: writing the
    # series from there would drop the patches after it
    if not git.ok("symbolic-ref", "-q", "HEAD"):
        raise UsageError(f"{paths.linux} is not on a branch (a rebase or cherry-pick in "
                         "progress?): finish it, then refresh")
    commits = git.commits(f"{state.base_commit}..HEAD")
    ours = [c for c in commits if not git.subject(c).startswith(OVERLAY_SUBJECT)]
    outdir = paths.patches
    outdir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tgtsim-fp-") as tmp:
        for n, commit in enumerate(ours, 1):
            out = git.out("format-patch", *FORMAT_OPTS, f"--start-number={n}",
                          "-o", tmp, "-1", commit, stable=True)
            produced = Path(out.splitlines()[-1])
            data = produced.read_text()
            target = outdir / produced.name
            if not target.is_file() or target.read_text() != data:
                target.write_text(data)
            names.append(produced.name)
    removed = []
    for old in sorted(outdir.glob("*.patch")):
        if old.name not in names:
            old.unlink()
            removed.append(old.name)
    series.write_series(paths.series, names)
    # keep prepare a no-op when the tree is exactly base + patches + overlay
    new = series.read_series(paths.series)
    head = git.head()
    if commits and len(commits) == len(ours) + 1 and commits[-1] not in ours:
        state.patches = [{"name": p.name, "sha256": p.sha256, "commit": c}
                         for p, c in zip(new, ours)]
        state.head = head
        state.refreshed_head = ""
    else:
        state.refreshed_head = head
    state.save(git)
    progress.info(f"refresh-patches: {len(names)} patches in {outdir}"
                  + (f", removed {', '.join(removed)}" if removed else ""))
    return RefreshResult(written=names, removed=removed)
