"""`tgtsim prepare`: build/linux = base + one commit per patch + overlay.

State (what each commit was made from) is kept in .git/tgtsim-state.json of
build/linux. When nothing changed, nothing is touched; otherwise the tree is
reset to the last commit that is still valid and rebuilt from there, and the
files that come out as they were keep their mtimes (make rebuilds only what
changed).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from tgtsim import kernel_source, overlay, series
from tgtsim.errors import BuildError, InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.progress import Progress

STATE_FILE = "tgtsim-state.json"
# git am failing for the host's sake: the tool's failure, not the series'
HOST_FAILURES = ("No space left on device", "Disk quota exceeded", "Read-only file system",
                 "Cannot allocate memory", "Out of memory")
OVERLAY_SUBJECT = "tgtsim: overlay"


@dataclass
class State:
    base: str = ""
    base_commit: str = ""
    patches: list[dict[str, str]] = field(default_factory=list)   # name, sha256, commit
    overlay: str = ""
    head: str = ""
    refreshed_head: str = ""

    @classmethod
    def load(cls, git: Git) -> Optional["State"]:
        try:
            data = json.loads((git.git_dir() / STATE_FILE).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, git: Git) -> None:
        path = git.git_dir() / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)


def load_state(tree: Path) -> State:
    """The state of a prepared tree (build/linux); the one place that says
    to run `tgtsim prepare` first."""
    git = Git(tree)
    if not git.is_repo():
        raise InfraError(f"{tree} is not prepared: run `tgtsim prepare` first")
    state = State.load(git)
    if state is None or not state.base_commit:
        raise InfraError(f"{tree} has no tgtsim state: run `tgtsim prepare` first")
    return state


@dataclass
class PrepareResult:
    changed: bool
    head: str
    applied: list[str]


def _am(git: Git, patch: series.Patch) -> str:
    cp = git.run("am", "-q", "--keep-cr", str(patch.path), check=False)
    if cp.returncode != 0:
        reason = (cp.stderr or cp.stdout).strip()
        git.run("am", "--abort", check=False)
        lines = [ln for ln in reason.splitlines() if ln.strip() and not ln.startswith("hint:")]
        if any(m in reason for m in HOST_FAILURES):     # not the patch's fault
            raise InfraError(f"git am of {patch.name} failed: " + (lines[-1] if lines else ""),
                             detail="\n".join(lines[:20]))
        raise BuildError(f"patch {patch.name} does not apply: "
                         + (lines[0] if lines else "git am failed"),
                         detail="\n".join(lines[:20]))
    return git.head()


def _host_failure(reason: str) -> Optional[str]:
    """The lines of git's output that say the host failed (not the
    series), or None."""
    if not any(m in reason for m in HOST_FAILURES):
        return None
    lines = [ln for ln in reason.splitlines() if ln.strip() and not ln.startswith("hint:")]
    return "\n".join(lines[:20])


def _am_all(git: Git, todo: list[series.Patch]) -> Optional[list[str]]:
    """All of `todo` in one `git am` (each call refreshes and writes the
    index of the whole tree: one call instead of one per patch saves
    seconds on every bisection step): the commit of each patch, or None
    when that did not give one commit per patch, with the tree back where
    it was (the caller then applies them one at a time, which names the
    patch that fails). A failure of the host is raised at once."""
    start = git.head()
    cp = git.run("am", "-q", "--keep-cr", "--patch-format=mbox",
                 *[str(p.path) for p in todo], check=False)
    made = git.out("rev-list", "--reverse", f"{start}..HEAD").split()
    if cp.returncode == 0 and len(made) == len(todo):
        return made
    if (git.git_dir() / "rebase-apply").exists():
        git.run("am", "--abort", check=False)
    git.run("reset", "-q", "--hard", start, check=False)
    host = _host_failure(cp.stderr or cp.stdout or "") if cp.returncode != 0 else None
    if host is not None:
        name = todo[min(len(made), len(todo) - 1)].name
        raise InfraError(f"git am of {name} failed: " + host.splitlines()[-1], detail=host)
    return None


def _overlay_commit(git: Git, tree: Path, ov: overlay.Overlay) -> str:
    touched = [t for t in overlay.apply(ov, tree)
               if (tree / t).exists() or git.out("ls-files", "--", t)]
    if touched:
        git.run("add", "-A", "-f", "--", *touched)
    n = len(ov.files)
    git.run("commit", "-q", "--no-verify", "--allow-empty", "-m",
            f"{OVERLAY_SUBJECT} of sim_lld/ and kunit/ ({n} files)\n\n"
            f"Generated by tgtsim prepare; do not edit, edit sim_lld/ and kunit/.\n\n"
            f"Tgtsim-Overlay: {ov.digest()}")
    return git.head()


def prepare(paths: Paths, progress: Progress, kernel_src: Optional[str] = None,
            kernel_ref: Optional[str] = None) -> PrepareResult:
    spec = kernel_source.resolve(kernel_src, kernel_ref, paths.tarball)
    patches = series.read_series(paths.series)
    ov = overlay.collect(paths.root)
    tree = paths.linux
    git = Git(tree)
    state = State.load(git) if git.is_repo() else None

    # 1. the base
    snapshot: Optional[dict[str, tuple[str, int]]] = None
    if state is None or state.base != spec.ident or not git.resolve(state.base_commit or "x"):
        snapshot = _switchable(git, spec, state)
        if snapshot is not None:
            # another commit of the same git tree (a bisection step): check
            # it out in place, so that only the files that differ change
            with progress.step("prepare: base"):
                progress.info(f"prepare: switching {tree} to {spec.describe()}")
                git.run("checkout", "-q", "-f", "-B", "tgtsim", spec.commit)
            base_commit = spec.commit
        else:
            with progress.step("prepare: base"):
                progress.info(f"prepare: creating {tree} from {spec.describe()}")
                base_commit = kernel_source.create(spec, tree)
        state = State(base=spec.ident, base_commit=base_commit, head=base_commit)
        state.save(git)
        keep = 0
    else:
        _recover_interrupted(git, state)
        head = git.head()
        if head != state.head and head != state.refreshed_head:
            raise UsageError(f"{tree} has commits that are not in patches/ (HEAD {head[:12]}); "
                             "run `tgtsim refresh-patches` to save them, or "
                             f"`git -C {tree} reset --hard {state.head[:12]}` to drop them")
        if not git.is_clean():
            if state.head == head and _up_to_date(state, patches, ov):
                return PrepareResult(False, head, [])
            raise UsageError(f"{tree} has uncommitted changes; commit them and run "
                             "`tgtsim refresh-patches`, or discard them "
                             f"(git -C {tree} stash)")
        keep = 0
        for old, new in zip(state.patches, patches):
            if old["name"] != new.name or old["sha256"] != new.sha256:
                break
            keep += 1
        if (head == state.head and keep == len(state.patches) == len(patches)
                and state.overlay == ov.digest()):
            return PrepareResult(False, head, [])
        # the commits from the first changed patch on are redone: the files
        # they give the same content again keep their mtimes, so that make
        # rebuilds only what really changed
        snapshot = _snapshot(git)

    # 2. reset to the last valid commit, then the patches
    target = state.patches[keep - 1]["commit"] if keep else state.base_commit
    if git.head() != target:
        git.run("reset", "-q", "--hard", target)
    state.patches = state.patches[:keep]
    state.head, state.overlay, state.refreshed_head = target, "", ""
    state.save(git)
    applied = []
    todo = patches[keep:]
    if todo:
        with progress.step("prepare: patches"):
            commits = _am_all(git, todo) if len(todo) > 1 else None
            if commits is None and len(todo) > 1:
                progress.info("prepare: the series did not apply in one `git am`; "
                              "applying it one patch at a time")
            for i, p in enumerate(todo):
                commit = commits[i] if commits is not None else _am(git, p)
                applied.append(p.name)
                state.patches.append({"name": p.name, "sha256": p.sha256, "commit": commit})
                state.head = commit
                if commits is None:     # HEAD is at this commit: save as we go
                    state.save(git)
            state.save(git)
    # 3. the overlay
    head = _overlay_commit(git, tree, ov)
    state.overlay, state.head = ov.digest(), head
    state.save(git)
    if snapshot is not None:
        _keep_mtimes(git, tree, snapshot)
    progress.info(f"prepare: {tree} at {head[:12]} ({len(patches)} patches"
                  f"{', applied ' + ', '.join(applied) if applied else ''}, "
                  f"{len(ov.files)} overlay files)")
    return PrepareResult(True, head, applied)


def keep_base(paths: Paths, progress: Progress) -> PrepareResult:
    """prepare() on the base build/linux already has: the commit of the
    KERNEL_SRC tree it was cloned from, or the tarball (also when there is
    no build/linux yet). For the commands that take no kernel source of
    their own (lint, mutants, planted-bugs, bench): they must not switch a
    tree made from the user's kernel back to the tarball."""
    git = Git(paths.linux)
    state = State.load(git) if git.is_repo() else None
    if state is not None and state.base.startswith("git:"):
        origin = git.run("config", "remote.origin.url", check=False).stdout.strip()
        if origin:
            return prepare(paths, progress, origin, state.base_commit)
    return prepare(paths, progress)


def _files(git: Git) -> dict[str, str]:
    """path -> blob of the tree's index."""
    out = {}
    for entry in git.out("ls-files", "-s", "-z").split("\0"):
        if "\t" in entry:
            meta, path = entry.split("\t", 1)
            out[path] = meta.split()[1]
    return out


def _switchable(git: Git, spec: kernel_source.BaseSpec, state: Optional[State]
                ) -> Optional[dict[str, tuple[str, int]]]:
    """When build/linux is a clean clone of the same git tree as the new
    base, the blob and mtime of each of its files (else None: recreate).
    The new commit's objects are there already: the clone shares the
    tree's object store (--shared)."""
    if spec.kind != "git" or state is None or not state.base.startswith("git:"):
        return None
    if not git.is_repo() or git.head() != state.head or not git.is_clean():
        return None
    origin = git.run("config", "remote.origin.url", check=False).stdout.strip()
    if not origin or Path(origin).resolve() != spec.location or git.resolve(spec.commit) is None:
        return None
    return _snapshot(git)


def _snapshot(git: Git) -> dict[str, tuple[str, int]]:
    """The blob and mtime of each file of the index."""
    snap = {}
    root = str(git.repo)        # str paths: pathlib costs seconds over 86,000 files
    for path, blob in _files(git).items():
        try:
            snap[path] = (blob, os.lstat(os.path.join(root, path)).st_mtime_ns)
        except OSError:
            continue
    return snap


def _keep_mtimes(git: Git, tree: Path, snapshot: dict[str, tuple[str, int]]) -> None:
    """Give each file whose content is what it was before the switch (or
    before the changed patches were redone) its old mtime back: git
    rewrote it (checkout or reset, then git am), make must not rebuild
    what depends on it. Only the files that really changed keep their new
    mtime."""
    root = str(tree)
    for path, blob in _files(git).items():
        old = snapshot.get(path)
        if old is None or old[0] != blob:
            continue
        full = os.path.join(root, path)
        try:
            st = os.lstat(full)
            if st.st_mtime_ns != old[1] and not stat.S_ISLNK(st.st_mode):
                os.utime(full, ns=(st.st_atime_ns, old[1]))
        except OSError:
            continue
    git.run("update-index", "-q", "--refresh", check=False)


def _recover_interrupted(git: Git, state: State) -> None:
    """Undo what an interrupted prepare left behind (never the user's work:
    only a `git am` in progress, or the uncommitted overlay of our own)."""
    if (git.git_dir() / "rebase-apply").exists():
        git.run("am", "--abort", check=False)
    if state.overlay == "" and git.head() == state.head and not git.is_clean():
        git.run("reset", "-q", "--hard", state.head)
        git.run("clean", "-q", "-fd", "--", *[dst for _src, dst in overlay.MAPPING])


def _up_to_date(state: State, patches: list[series.Patch], ov: overlay.Overlay) -> bool:
    return ([(p["name"], p["sha256"]) for p in state.patches] == [(p.name, p.sha256) for p in patches]
            and state.overlay == ov.digest())
