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


def test_apply_check_against_a_commit_leaves_tree_and_index(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    g = Git(repo)
    g.run("init", "-q")
    (repo / "f.c").write_text("one\ntwo\nthree\n")
    base = g.commit_all("base")
    (repo / "f.c").write_text("one\nTWO\nthree\n")
    patch = tmp_path / "p.patch"
    patch.write_text(g.out("diff") + "\n")
    later = g.commit_all("later")
    (repo / "f.c").write_text("dirty\n")     # neither the work tree nor HEAD is used
    other = tmp_path / "other.patch"
    other.write_text(patch.read_text().replace("-two\n", "-later\n"))
    assert g.apply_checks(base, [patch, other])[patch] == ""
    err = g.apply_checks(later, [patch])[patch]
    assert "does not apply" in err and "f.c" in err
    assert "does not apply" in g.apply_checks(base, [patch, other])[other]
    assert (repo / "f.c").read_text() == "dirty\n"
    assert g.out("diff", "--cached") == ""
    with pytest.raises(InfraError, match="read-tree"):
        g.apply_checks("0" * 40, [patch])
