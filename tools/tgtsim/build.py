"""`tgtsim build PROFILE`: configure with the tree's kunit.py, then make UML.

kunit.py config merges the profile's fragments with the UML defaults and
checks that every requested option made it into .config; make then builds
with ccache, its whole output kept in build.log. What a profile needs beyond
its fragments (the coverage profile's gcov scope) comes from the caller as
make options.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from tgtsim import profiles
from tgtsim.errors import BuildError, InfraError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.procs import run_watched
from tgtsim.progress import Progress

ERROR_RE = re.compile(r"^\S+:\d+(?::\d+)?: (?:fatal )?error: |undefined reference to|"
                      r"^ld: |multiple definition of|^\S+: error: |^Error: |"
                      r"^\S*Kconfig:\d+: |No rule to make target")
# a build that failed for the host's sake, not the tree's: the tool's
# failure (exit 3, TOOL_FAILURE), never the commit's (a bisection aborts)
HOST_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), why) for p, why in (
        (r"No space left on device|Disk quota exceeded", "the disk is full"),
        (r"Read-only file system", "the build directory is read-only"),
        (r"Cannot allocate memory|virtual memory exhausted|out of memory allocating"
         r"|Killed signal terminated program|fatal error: Killed", "out of memory"),
        (r"^(?:/bin/)?(?:ba|da)?sh: (?:\d+: )?(\S+): (?:command )?not found",
         "a program is missing: {0}"),
        (r"^make(?:\[\d+\])?: (\S+): (?:No such file or directory|Command not found)",
         "a program is missing: {0}"),
        (r"^ccache: error: ", "ccache failed"),
    ))
CONTEXT_AFTER = 4
MAX_ERRORS = 8


def ccache_options(use_ccache: bool) -> list[str]:
    if use_ccache and shutil.which("ccache"):
        return ["CC=ccache gcc", "HOSTCC=ccache gcc"]
    return []


def build_env(paths: Paths) -> dict[str, str]:
    """ccache: relative paths under the checkout, so that clones elsewhere
    (CI, a colleague's tree) hit the same cache entries."""
    env = dict(os.environ)
    env.setdefault("CCACHE_BASEDIR", str(paths.root))
    env.setdefault("CCACHE_NOHASHDIR", "1")
    return env


def compile_errors(lines: list[str]) -> list[str]:
    """The compiler's own error lines with a little context after each."""
    out: list[str] = []
    shown = 0
    i = 0
    while i < len(lines) and shown < MAX_ERRORS:
        if ERROR_RE.search(lines[i]):
            out.extend(lines[i:i + 1 + CONTEXT_AFTER])
            shown += 1
            i += 1 + CONTEXT_AFTER
        else:
            i += 1
    if not out:  # nothing recognisable: the last lines of make
        out = [ln for ln in lines if ln.strip()][-15:]
    return out


def host_failure(lines: list[str]) -> str:
    """Why a failed build is the host's failure ('' if it is the tree's)."""
    for line in lines:
        for pat, why in HOST_FAILURES:
            m = pat.search(line)
            if m:
                return why.format(*m.groups())
    return ""


def _failed(what: str, lines: list[str], detail: list[str]) -> InfraError:
    """The build failed for the host's sake (host_failure), not the tree's."""
    why = host_failure(lines)
    return InfraError(f"{what}: {why} (the host's failure, not the tree's)",
                      detail="\n".join(detail))


def config_errors(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if "ERROR" in line or "Not all Kconfig options" in line:
            return lines[i:i + 8]
    return [ln for ln in lines if ln.strip()][-10:]


STAMP = "tgtsim-build.json"


def inputs_digest(tree: Path, frags: list[Path], opts: list[str]) -> Optional[str]:
    """What a build of `tree` depends on: the content of its commit (the
    tree object: a commit redone with the same content, as prepare does
    when a patch's message changes, needs no build), the config fragments
    and the make options. None when the tree has uncommitted changes (then
    only make can tell what is up to date)."""
    git = Git(tree)
    if not git.is_repo() or not git.is_clean():
        return None
    h = hashlib.sha256(git.out("rev-parse", "HEAD^{tree}").encode())
    for f in frags:
        h.update(b"\0" + f.read_bytes())
    h.update("\0".join(opts).encode())
    return h.hexdigest()


def up_to_date(kb: Path, digest: Optional[str]) -> bool:
    """The binary in `kb` was built from exactly these inputs."""
    binary = kb / "linux"
    try:
        stamp = json.loads((kb / STAMP).read_text())
        return (digest is not None and stamp.get("digest") == digest
                and binary.stat().st_mtime_ns == stamp.get("mtime_ns"))
    except (OSError, ValueError, AttributeError):
        return False


def write_stamp(kb: Path, digest: Optional[str]) -> None:
    stamp = kb / STAMP
    if digest is None:
        stamp.unlink(missing_ok=True)
        return
    stamp.write_text(json.dumps({"digest": digest,
                                 "mtime_ns": (kb / "linux").stat().st_mtime_ns}))


def build(paths: Paths, profile: str, progress: Progress, jobs: int,
          use_ccache: bool = True, tree: Optional[Path] = None,
          kbuild: Optional[Path] = None, make_options: Sequence[str] = ()) -> Path:
    """Build `profile` from `tree` (default build/linux) into `kbuild`
    (default build/kbuild/PROFILE) with the extra `make_options`; return
    the UML binary."""
    frags = profiles.fragments(paths.profiles, profile)
    tree = tree or paths.linux
    kunit_py = tree / "tools" / "testing" / "kunit" / "kunit.py"
    if not kunit_py.is_file():
        raise InfraError(f"{tree} is not prepared (no {kunit_py}): run `tgtsim prepare` first")
    kb = kbuild or paths.kbuild(profile)
    kb.mkdir(parents=True, exist_ok=True)
    log_path = kb / "build.log"
    opts = ccache_options(use_ccache) + list(make_options)
    digest = inputs_digest(tree, frags, opts)
    if up_to_date(kb, digest):
        progress.info(f"build: {profile} is up to date ({kb / 'linux'})")
        return kb / "linux"
    (kb / STAMP).unlink(missing_ok=True)
    lines_seen = [0]

    with open(log_path, "w", encoding="utf-8", errors="backslashreplace") as log:
        def on_line(line: str) -> None:
            log.write(line + "\n")
            progress.output(line)
            lines_seen[0] += 1
            target = line.strip().split()
            if len(target) >= 2 and target[0] in ("CC", "LD", "AR", "AS", "HOSTCC"):
                progress.detail(f"[{lines_seen[0]}] {target[0]} {target[-1]}")

        cmd = [sys.executable, str(kunit_py), "config", "--arch=um", f"--build_dir={kb}",
               *[f"--kunitconfig={f}" for f in frags], *[f"--make_options={o}" for o in opts]]
        with progress.step(f"configure {profile}"):
            res = run_watched(cmd, cwd=tree, env=build_env(paths), on_line=on_line, timeout=900)
        if res.returncode != 0:
            what = f"kernel configuration for profile '{profile}' failed (log: {log_path})"
            if host_failure(res.lines):
                raise _failed(what, res.lines, config_errors(res.lines))
            raise BuildError(what, detail="\n".join(config_errors(res.lines)))
        cmd = ["make", "ARCH=um", f"O={kb}", f"--jobs={jobs}", *opts, "all"]
        log.write("$ " + " ".join(cmd) + "\n")
        with progress.step(f"build {profile}"):
            res = run_watched(cmd, cwd=tree, env=build_env(paths), on_line=on_line)
        if res.returncode != 0:
            what = f"build of profile '{profile}' failed (full log: {log_path})"
            if host_failure(res.lines):
                raise _failed(what, res.lines, compile_errors(res.lines))
            raise BuildError(what, detail="\n".join(compile_errors(res.lines)))
    binary = kb / "linux"
    if not binary.is_file():
        raise BuildError(f"build of profile '{profile}' produced no {binary}")
    write_stamp(kb, digest)
    return binary
