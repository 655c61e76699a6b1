"""A thin wrapper around the git command line."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from tgtsim.errors import InfraError

IDENTITY = {
    "GIT_AUTHOR_NAME": "tgtsim", "GIT_AUTHOR_EMAIL": "tgtsim@example.org",
    "GIT_COMMITTER_NAME": "tgtsim", "GIT_COMMITTER_EMAIL": "tgtsim@example.org",
}


def git_env(stable: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    for k, v in IDENTITY.items():
        env.setdefault(k, v)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if stable:  # ignore the user's config, so that output is reproducible
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
        for k, v in IDENTITY.items():
            env[k] = v
    return env


class Git:
    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def run(self, *args: str, check: bool = True, stable: bool = False,
            input: Optional[str] = None,
            env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
        cmd = ["git", "-C", str(self.repo), *args]
        try:
            cp = subprocess.run(cmd, env={**git_env(stable), **(env or {})},
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, input=input,
                                stdin=None if input is not None else subprocess.DEVNULL,
                                errors="backslashreplace")
        except OSError as e:
            raise InfraError(f"cannot run git: {e.strerror or e}") from None
        if check and cp.returncode != 0:
            err = (cp.stderr or cp.stdout).strip()
            raise InfraError(f"git {' '.join(args[:2])} failed in {self.repo}: "
                             + (err.splitlines()[-1] if err else f"exit {cp.returncode}"),
                             detail=err)
        return cp

    def apply_checks(self, commit: str, patches: Sequence[Path]) -> dict[Path, str]:
        """Whether each patch applies to `commit`, checked in one scratch
        index read once (the work tree and the index are not touched):
        patch -> "" if it does, else git's last line of complaint."""
        out = {}
        with tempfile.TemporaryDirectory(prefix="tgtsim-index.") as d:
            index = {"GIT_INDEX_FILE": str(Path(d) / "index")}
            self.run("read-tree", commit, env=index)
            for patch in patches:
                cp = self.run("apply", "--cached", "--check", str(patch), check=False,
                              env=index)
                err = (cp.stderr or cp.stdout).strip().splitlines()
                out[patch] = "" if cp.returncode == 0 else \
                    (err[-1] if err else f"exit {cp.returncode}")
        return out

    def out(self, *args: str, stable: bool = False) -> str:
        return self.run(*args, stable=stable).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    def is_repo(self) -> bool:
        return self.repo.is_dir() and self.ok("rev-parse", "--git-dir")

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")

    def resolve(self, ref: str) -> Optional[str]:
        cp = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return cp.stdout.strip() if cp.returncode == 0 else None

    def is_clean(self) -> bool:
        return self.out("status", "--porcelain", "--untracked-files=normal") == ""

    def git_dir(self) -> Path:
        d = Path(self.out("rev-parse", "--git-dir"))
        return d if d.is_absolute() else self.repo / d

    def subject(self, rev: str) -> str:
        return self.out("log", "-1", "--format=%s", rev)

    def commits(self, rev_range: str) -> list[str]:
        out = self.out("rev-list", "--reverse", rev_range)
        return out.split() if out else []

    def commit_all(self, message: str, paths: Sequence[str] = (), allow_empty: bool = False) -> str:
        if paths:
            self.run("add", "-A", "--", *paths)
        else:
            self.run("add", "-A")
        args = ["commit", "-q", "--no-verify", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        self.run(*args)
        return self.head()
