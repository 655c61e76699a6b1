"""The lines the patch series adds or changes, in the tree at the end of the series.

Patch-line coverage is measured on these. They come from the series itself:
the unified diff between the base commit of build/linux and the commit of the
last patch (before the overlay commit), so that a later patch moving or
rewriting lines of an earlier one is accounted for. A '+' line of that diff is
a patch line, numbered as in the new file; deleted files and pure deletions
contribute nothing (there is no line left to execute).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from unidiff import PatchSet, UnidiffParseError

from tgtsim.errors import InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.prepare import load_state

# path -> {line number in the new file: the line's text}
PatchLines = dict[str, dict[int, str]]

# the first file header: what comes before it (a mail, a commit message
# that may quote a hunk) is not part of the diff
_FIRST_FILE = re.compile(r"^(?:diff --git |--- .*\n\+\+\+ )", re.M)


def _path_of(target: str) -> Optional[str]:
    """'b/drivers/x.c' -> 'drivers/x.c'; /dev/null (a deleted file) -> None."""
    if target.startswith('"'):
        raise UsageError(f"quoted path in diff header not supported: {target}")
    if target == "/dev/null":
        return None
    return target[2:] if target.startswith(("b/", "a/")) else target


def parse_unified_diff(text: str) -> PatchLines:
    """'+' lines of a unified diff (git or GNU), by new path and new line
    number, read by python3-unidiff.

    Works on `git diff`, one `git format-patch` (its mail headers, message
    and diffstat before the first file are skipped) and plain `diff -u`
    output. Several diffs of the same file are merged (the numbers must
    then refer to the same version).
    """
    first = _FIRST_FILE.search(text)
    if first is None:
        return {}
    try:
        patch = PatchSet(text[first.start():])
    except UnidiffParseError as e:
        raise UsageError(f"malformed diff: {e}") from None
    out: PatchLines = {}
    for pf in patch:
        path = _path_of(pf.target_file)
        if path is None:
            continue
        for hunk in pf:
            for line in hunk:
                if line.is_added:
                    out.setdefault(path, {})[line.target_line_no] = line.value.rstrip("\r\n")
    return {p: lines for p, lines in out.items() if lines}


def from_git(tree: Path, base: str, last: str) -> PatchLines:
    """Patch lines of `base..last` in the git repository `tree`."""
    git = Git(tree)
    cp = git.run("diff", "--no-color", "--no-ext-diff", "--find-renames", "-U0",
                 "--src-prefix=a/", "--dst-prefix=b/", base, last, check=False)
    if cp.returncode != 0:
        err = (cp.stderr or "").strip().splitlines()
        raise InfraError(f"cannot diff the series in {tree} ({base[:12]}..{last[:12]}): "
                         + (err[-1] if err else f"git exit {cp.returncode}"))
    return parse_unified_diff(cp.stdout)


def series_range(tree: Path) -> tuple[str, str]:
    """(base commit, last patch commit) of a prepared build/linux."""
    state = load_state(tree)
    last = state.patches[-1]["commit"] if state.patches else state.base_commit
    return state.base_commit, last


def for_tree(tree: Path) -> PatchLines:
    base, last = series_range(tree)
    return from_git(tree, base, last)


def count(lines: PatchLines) -> int:
    return sum(len(v) for v in lines.values())


def ranges(numbers: list[int] | set[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3,7,9-10'."""
    nums = sorted(set(numbers))
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(parts)
