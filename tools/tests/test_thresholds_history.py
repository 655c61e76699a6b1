"""coverage/thresholds never goes down: every committed version (and the
working copy) has thresholds >= those of the version before it."""

import subprocess

import pytest

from conftest import ROOT
from tgtsim import covgate

PATH = "coverage/thresholds"


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def versions() -> list[tuple[str, str]]:
    cp = git("log", "--format=%H", "--follow", "--", PATH)
    if cp.returncode != 0:
        pytest.skip(f"no git history here: {cp.stderr.strip()}")
    if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("shallow clone: the history of coverage/thresholds is incomplete")
    out = []
    for commit in reversed(cp.stdout.split()):
        show = git("show", f"{commit}:{PATH}")
        if show.returncode == 0:     # absent in a commit that deleted/renamed it
            out.append((commit[:12], show.stdout))
    out.append(("working copy", (ROOT / PATH).read_text()))
    return out


def first_decrease(history: list[tuple[str, str]]) -> str:
    """'' if no version lowers a threshold of the one before, else why."""
    prev_name, prev = "", None
    for name, text in history:
        th = covgate.parse_thresholds(text, f"{PATH}@{name}")
        if prev is not None:
            for key, old, new in (("patch-lines", prev.lines, th.lines),
                                  ("patch-branches", prev.branches, th.branches)):
                if new < old:
                    return f"{PATH}: {key} went down from {old} ({prev_name}) to {new} ({name})"
        prev_name, prev = name, th
    return ""


def test_thresholds_never_go_down() -> None:
    assert first_decrease(versions()) == ""


def test_a_decrease_is_found() -> None:
    history = [("c1", "patch-lines 90\npatch-branches 50\n"),
               ("c2", "patch-lines 95\npatch-branches 50\n"),
               ("c3", "patch-lines 95\npatch-branches 49.9\n")]
    assert first_decrease(history[:2]) == ""
    assert first_decrease(history) == \
        f"{PATH}: patch-branches went down from 50.0 (c2) to 49.9 (c3)"
