from pathlib import Path

import pytest

from tgtsim.errors import InfraError
from tgtsim.gitutil import Git


def test_basic(tmp_path: Path) -> None:
    g = Git(tmp_path)
    assert not g.is_repo() or tmp_path == Path("/")
    g.run("init", "-q")
    (tmp_path / "a").write_text("a\n")
    c1 = g.commit_all("first")
    assert g.head() == c1 and g.is_clean() and g.subject("HEAD") == "first"
    (tmp_path / "a").write_text("b\n")
    assert not g.is_clean()
    c2 = g.commit_all("second")
    assert g.commits(f"{c1}..HEAD") == [c2]
    assert g.resolve("HEAD~1") == c1 and g.resolve("nope") is None


def test_error_message(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="git log failed"):
        Git(tmp_path / "none").run("log")
