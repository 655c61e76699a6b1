from pathlib import Path

import pytest

from conftest import git
from test_prepare import add_patch
from tgtsim import prepare, refresh
from tgtsim.errors import InfraError, UsageError


def test_refresh_roundtrip(project, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    r = refresh.refresh(project, quiet)
    assert r.written == ["0001-scsi-change-b.patch"]
    assert r.removed == ["0001-scsi-b.patch"]
    assert project.series.read_text() == "0001-scsi-change-b.patch\n"
    text = (project.patches / "0001-scsi-change-b.patch").read_text()
    assert text.startswith("From 0000000000000000000000000000000000000000 ")
    assert "Subject: [PATCH] scsi: change b" in text
    assert "tgtsim: overlay" not in text and "sim_lld" not in text
    # prepare stays a no-op after a refresh of an unchanged tree
    assert not prepare.prepare(project, quiet).changed
    # a second refresh gives byte-identical output
    before = {p.name: p.read_bytes() for p in project.patches.iterdir()}
    refresh.refresh(project, quiet)
    assert {p.name: p.read_bytes() for p in project.patches.iterdir()} == before


def test_refresh_picks_up_new_commit(project, quiet) -> None:
    prepare.prepare(project, quiet)
    f = project.linux / "drivers/scsi/scsi.c"
    f.write_text(f.read_text() + "int d;\n")
    git(project.linux, "commit", "-qam", "scsi: add d\n\nSigned-off-by: T <t@example.org>")
    r = refresh.refresh(project, quiet)
    assert r.written == ["0001-scsi-add-d.patch"]
    # the commit sits above the overlay: prepare rebuilds base + patch + overlay
    res = prepare.prepare(project, quiet)
    assert res.changed and res.applied == ["0001-scsi-add-d.patch"]
    subjects = git(project.linux, "log", "--format=%s").splitlines()
    assert subjects[0].startswith("tgtsim: overlay") and subjects[1] == "scsi: add d"
    assert "int d;" in f.read_text()
    assert not prepare.prepare(project, quiet).changed


def test_refresh_removes_dropped(project, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    refresh.refresh(project, quiet)
    git(project.linux, "reset", "-q", "--hard", "HEAD~2")
    (project.patches / "stale.patch").write_text("x")
    r = refresh.refresh(project, quiet)
    assert r.written == [] and sorted(r.removed) == ["0001-scsi-change-b.patch", "stale.patch"]
    assert project.series.read_text() == ""


def test_refresh_unprepared(project, quiet) -> None:
    with pytest.raises(InfraError, match="tgtsim prepare"):
        refresh.refresh(project, quiet)


def test_refresh_refuses_a_detached_head(project, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    before = {p.name: p.read_bytes() for p in project.patches.iterdir()}
    git(project.linux, "checkout", "-q", "--detach", "HEAD~1")
    with pytest.raises(UsageError, match="not on a branch"):
        refresh.refresh(project, quiet)
    assert {p.name: p.read_bytes() for p in project.patches.iterdir()} == before
