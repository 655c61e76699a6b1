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

from tgtsim.errors import InfraError, UsageError
from tgtsim.gitutil import Git

# path -> {line number in the new file: the line's text}
PatchLines = dict[str, dict[int, str]]

HUNK_RE = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _path_of(header: str) -> Optional[str]:
    """The path of a '+++ ' line: 'b/drivers/x.c' -> 'drivers/x.c', /dev/null -> None."""
    name = header[4:].rstrip("\n")
    if "\t" in name:        # GNU diff appends a timestamp after a tab
        name = name.split("\t", 1)[0]
    if name.startswith('"') and name.endswith('"'):
        raise UsageError(f"quoted path in diff header not supported: {name}")
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("b/", "a/")) else name


def parse_unified_diff(text: str) -> PatchLines:
    """'+' lines of a unified diff (git or GNU), by new path and new line number.

    Works on `git diff`, `git format-patch` output (mail headers and the
    diffstat are skipped) and plain `diff -u` output. Several diffs of the
    same file are merged (the numbers must then refer to the same version).
    """
    out: PatchLines = {}
    path: Optional[str] = None
    new_no = 0
    remaining_old = remaining_new = 0
    in_hunk = have_file = after_minus = False
    for raw in text.splitlines():
        if in_hunk and (remaining_old > 0 or remaining_new > 0):
            tag = raw[:1]
            if tag == "+":
                if path is not None:
                    out.setdefault(path, {})[new_no] = raw[1:]
                new_no += 1
                remaining_new -= 1
                continue
            if tag == "-":
                remaining_old -= 1
                continue
            if tag == " " or raw == "":
                new_no += 1
                remaining_old -= 1
                remaining_new -= 1
                continue
            if tag == "\\":      # "\ No newline at end of file"
                continue
            raise UsageError(f"malformed diff: unexpected line in hunk of {path}: {raw[:60]!r}")
        in_hunk = False
        if raw.startswith("\\"):
            continue
        if raw.startswith("+++ ") and after_minus:
            path, have_file, after_minus = _path_of(raw), True, False
            continue
        after_minus = raw.startswith("--- ")
        m = HUNK_RE.match(raw)
        if not m:
            # only a file header makes the next '@@' a hunk (commit messages
            # and mail signatures between the diffs are ignored)
            have_file = False
            continue
        if have_file:
            remaining_old = int(m.group(1)) if m.group(1) is not None else 1
            new_no = int(m.group(2))
            remaining_new = int(m.group(3)) if m.group(3) is not None else 1
            in_hunk = True
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
    from tgtsim.prepare import State
    git = Git(tree)
    if not git.is_repo():
        raise InfraError(f"{tree} is not prepared: run `tgtsim prepare` first")
    state = State.load(git)
    if state is None or not state.base_commit:
        raise InfraError(f"{tree} has no tgtsim state: run `tgtsim prepare` first")
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
