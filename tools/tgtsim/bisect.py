"""`tgtsim bisect-step`: one step of `git bisect run` in a Linux 6.12 tree.

The step's run ends in a Status; only the kernel's failures make a commit
bad. A tree that does not build (or the series does not apply to) is
skipped; the tool's failures and usage errors abort the bisection, since
they say nothing about the commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tgtsim.errors import Status, UsageError
from tgtsim.gitutil import Git

GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128
WORDS = {GOOD: "good", BAD: "bad", SKIP: "skipped (125)",
         ABORT: "not testable: abort (128)"}


def code(status: Status) -> int:
    """The `git bisect run` exit code of a step that ended in `status`."""
    if status == Status.SUCCESS:
        return GOOD
    if status.kernel_failure:          # failed cases, a sanitizer, a crash, a hang
        return BAD
    if status == Status.BUILD_FAILURE:
        return SKIP
    return ABORT


def tree(kernel_src: Optional[str]) -> tuple[str, str]:
    """The tree being bisected (`kernel_src`, else the git tree of the
    current directory) and its HEAD commit."""
    if kernel_src:
        src = kernel_src
    else:
        top = Git(Path.cwd()).run("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise UsageError("bisect-step: run it in the git tree being bisected, "
                             "or set KERNEL_SRC")
        src = top.stdout.strip()
    if not Git(Path(src)).is_repo():
        raise UsageError(f"bisect-step: {src} is not a git tree")
    return src, Git(Path(src)).out("rev-parse", "HEAD")
