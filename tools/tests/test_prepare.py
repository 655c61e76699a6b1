import time
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import git, make_tree_files, patch_for
from tgtsim import prepare
from tgtsim.errors import BuildError, InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths


def add_patch(paths: Paths, tmp_path: Path, name: str, line: str, subject: str) -> None:
    def edit(repo: Path) -> None:
        f = repo / "drivers/scsi/scsi.c"
        f.write_text(f.read_text().replace("int b;", line))
    text = patch_for(tmp_path, make_tree_files, edit, subject, name)
    (paths.patches / name).write_text(text)
    with open(paths.series, "a") as s:
        s.write(name + "\n")


def add_stacked_patches(paths: Paths, tmp_path: Path,
                        edits: list[tuple[str, str]]) -> list[str]:
    """One patch per (old, new) line edit of scsi.c, each made on top of
    the ones before it; their names, in series order."""
    names = []
    for i, (old, new) in enumerate(edits):
        def base(root: Path, done: list[tuple[str, str]] = edits[:i]) -> None:
            make_tree_files(root)
            f = root / "drivers/scsi/scsi.c"
            for o, n in done:
                f.write_text(f.read_text().replace(o, n))

        def edit(repo: Path, old: str = old, new: str = new) -> None:
            f = repo / "drivers/scsi/scsi.c"
            f.write_text(f.read_text().replace(old, new))
        name = f"000{i + 1}-scsi-{new.split()[1].rstrip(';')}.patch"
        (paths.patches / name).write_text(patch_for(tmp_path, base, edit, f"scsi: {new}", name))
        names.append(name)
    paths.series.write_text("".join(n + "\n" for n in names))
    return names


def log(paths: Paths) -> list[str]:
    return git(paths.linux, "log", "--format=%s").splitlines()


def test_fresh_prepare(project: Paths, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    r = prepare.prepare(project, quiet)
    assert r.changed and r.applied == ["0001-scsi-b.patch"]
    subjects = log(project)
    assert subjects[0].startswith(prepare.OVERLAY_SUBJECT)
    assert subjects[1] == "scsi: change b"
    assert subjects[2].startswith("tgtsim: base")
    tree = project.linux
    assert "int b2;" in (tree / "drivers/scsi/scsi.c").read_text()
    assert (tree / "drivers/scsi/sim_lld/sim_lld.c").is_file()
    assert not (tree / "drivers/scsi/sim_lld/README.md").exists()
    assert 'source "drivers/scsi/sim_lld/Kconfig"' in (tree / "drivers/scsi/Kconfig").read_text()
    assert "obj-y += sim_lld/" in (tree / "drivers/scsi/Makefile").read_text()
    assert "Debian packaging" not in (tree / ".gitignore").read_text()
    assert Git(tree).is_clean()


def test_idempotent_touches_nothing(project: Paths, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    f = project.linux / "drivers/scsi/scsi.c"
    os.utime(f, (1000, 1000))
    head = Git(project.linux).head()
    r = prepare.prepare(project, quiet)
    assert not r.changed and r.head == head
    assert f.stat().st_mtime == 1000


def test_changed_patch_redone_from_there(project: Paths, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    base = Git(project.linux).out("rev-list", "--max-parents=0", "HEAD")
    untouched = project.linux / "Makefile"
    os.utime(untouched, (1000, 1000))
    (project.patches / "0001-scsi-b.patch").unlink()
    project.series.write_text("")
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b3;", "scsi: change b again")
    r = prepare.prepare(project, quiet)
    assert r.changed and r.applied == ["0001-scsi-b.patch"]
    assert "int b3;" in (project.linux / "drivers/scsi/scsi.c").read_text()
    assert Git(project.linux).out("rev-list", "--max-parents=0", "HEAD") == base
    assert untouched.stat().st_mtime == 1000  # not re-unpacked


def test_redone_commits_keep_the_mtimes_of_what_comes_out_the_same(
        project: Paths, quiet, tmp_path: Path, monkeypatch) -> None:
    """A changed patch: the reset and the commits redone rewrite the files of
    the patch and of the overlay; only the file whose content changed gets a
    new mtime (an incremental make rebuilds only it)."""
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet)
    tree = project.linux
    same = ["drivers/scsi/sim_lld/sim_lld.c", "drivers/scsi/Makefile", "drivers/scsi/Kconfig"]
    for f in [*same, "drivers/scsi/scsi.c"]:
        os.utime(tree / f, (1000, 1000))
    (project.patches / "0001-scsi-b.patch").unlink()
    project.series.write_text("")
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b3;", "scsi: change b again")
    snaps: list[prepare.Snapshot] = []
    real = prepare._snapshot

    def spy(g: Git, target: str) -> prepare.Snapshot:
        snaps.append(real(g, target))
        return snaps[-1]

    monkeypatch.setattr(prepare, "_snapshot", spy)
    r = prepare.prepare(project, quiet)
    assert r.changed and r.applied == ["0001-scsi-b.patch"]
    # only the files git rewrites (the patch's and the overlay's) are looked at
    assert [sorted(s.mtimes) for s in snaps] == [[
        "drivers/scsi/Kconfig", "drivers/scsi/Makefile", "drivers/scsi/scsi.c",
        "drivers/scsi/sim_lld/Kconfig", "drivers/scsi/sim_lld/Makefile",
        "drivers/scsi/sim_lld/sim_lld.c"]]
    assert {f: (tree / f).stat().st_mtime for f in same} == {f: 1000 for f in same}
    assert (tree / "drivers/scsi/scsi.c").stat().st_mtime > 1000
    assert "int b3;" in (tree / "drivers/scsi/scsi.c").read_text()
    assert Git(tree).is_clean()


def test_overlay_change_only_redoes_overlay(project: Paths, quiet) -> None:
    prepare.prepare(project, quiet)
    (project.root / "sim_lld/sim_lld.c").write_text("int sim2;\n")
    (project.root / "sim_lld/extra.h").write_text("#define X 1\n")
    r = prepare.prepare(project, quiet)
    assert r.changed and r.applied == []
    tree = project.linux
    assert (tree / "drivers/scsi/sim_lld/sim_lld.c").read_text() == "int sim2;\n"
    assert (tree / "drivers/scsi/sim_lld/extra.h").is_file()
    assert len([s for s in log(project) if s.startswith(prepare.OVERLAY_SUBJECT)]) == 1
    (project.root / "sim_lld/extra.h").unlink()
    prepare.prepare(project, quiet)
    assert not (tree / "drivers/scsi/sim_lld/extra.h").exists()


def test_patch_that_does_not_apply(project: Paths, quiet, tmp_path: Path) -> None:
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    text = (project.patches / "0001-scsi-b.patch").read_text().replace("-int b;", "-int zzz;")
    (project.patches / "0002-broken.patch").write_text(text)
    with open(project.series, "a") as s:
        s.write("0002-broken.patch\n")
    with pytest.raises(BuildError) as e:
        prepare.prepare(project, quiet)
    assert "0002-broken.patch" in e.value.message
    assert e.value.exit_code == 3
    # no am in progress afterwards, and the good patch stays
    assert not (project.linux / ".git/rebase-apply").exists()
    # fixing the series makes prepare work again
    project.series.write_text("0001-scsi-b.patch\n")
    assert prepare.prepare(project, quiet).changed


def test_series_gives_one_commit_per_patch(project: Paths, quiet, tmp_path: Path) -> None:
    edits = [("int a;", "int a2;"), ("int b;", "int b2;"), ("int c;", "int c2;")]
    names = add_stacked_patches(project, tmp_path, edits)
    r = prepare.prepare(project, quiet)
    assert r.applied == names
    state = prepare.load_state(project.linux)
    assert [p["name"] for p in state.patches] == names
    # each recorded commit is its own patch: its subject, and the file as
    # that patch and the ones before it left it
    for i, (rec, (_old, new)) in enumerate(zip(state.patches, edits)):
        assert git(project.linux, "log", "-1", "--format=%s", rec["commit"]) == f"scsi: {new}"
        text = git(project.linux, "show", f"{rec['commit']}:drivers/scsi/scsi.c")
        assert [n in text for _o, n in edits] == [j <= i for j in range(len(edits))]
    assert log(project)[1:4] == ["scsi: int c2;", "scsi: int b2;", "scsi: int a2;"]


def test_patch_that_does_not_apply_in_the_middle(project: Paths, quiet, tmp_path: Path) -> None:
    names = add_stacked_patches(project, tmp_path,
                                [("int a;", "int a2;"), ("int b;", "int b2;"),
                                 ("int c;", "int c2;")])
    second = project.patches / names[1]
    second.write_text(second.read_text().replace("-int b;", "-int zzz;"))
    with pytest.raises(BuildError) as e:
        prepare.prepare(project, quiet)
    assert f"patch {names[1]} does not apply" in e.value.message
    assert names[0] not in e.value.message and names[2] not in e.value.message
    assert not (project.linux / ".git/rebase-apply").exists()
    # the patch before it stays applied and recorded, nothing after it
    assert log(project)[0] == "scsi: int a2;"
    assert [p["name"] for p in prepare.load_state(project.linux).patches] == names[:1]
    assert "int a2;\nint b;\nint c;\n" == (project.linux / "drivers/scsi/scsi.c").read_text()


def test_host_failure_in_the_series_am_names_the_patch(
        project: Paths, quiet, tmp_path: Path, monkeypatch) -> None:
    """The disk fills up while the second patch of a series is applied:
    the host's failure, named with that patch, and nothing half done."""
    names = add_stacked_patches(project, tmp_path,
                                [("int a;", "int a2;"), ("int b;", "int b2;"),
                                 ("int c;", "int c2;")])
    prepare.prepare(project, quiet)
    base = prepare.load_state(project.linux).base_commit
    git(project.linux, "reset", "-q", "--hard", base)
    state = prepare.load_state(project.linux)
    state.patches, state.head = [], base
    state.save(Git(project.linux))
    real = Git.run

    def full_disk(self: Git, *args: str, **kw: Any) -> Any:
        if args[:1] == ("am",) and len(args) > 5:     # the whole series at once
            cp = real(self, "am", "-q", "--keep-cr", args[-3], **kw)
            assert cp.returncode == 0
            return cp.__class__(cp.args, 128, "",
                                "error: unable to write file: No space left on device\n")
        return real(self, *args, **kw)
    monkeypatch.setattr(Git, "run", full_disk)
    with pytest.raises(InfraError) as e:
        prepare.prepare(project, quiet)
    assert e.value.message == f"git am of {names[1]} failed: " \
        "error: unable to write file: No space left on device"
    assert not (project.linux / ".git/rebase-apply").exists()
    assert git(project.linux, "rev-parse", "HEAD") == base
    assert prepare.load_state(project.linux).patches == []


def test_missing_patch_file(project: Paths, quiet) -> None:
    project.series.write_text("0001-nope.patch\n")
    with pytest.raises(UsageError, match="0001-nope.patch"):
        prepare.prepare(project, quiet)


def test_user_commits_are_not_destroyed(project: Paths, quiet) -> None:
    prepare.prepare(project, quiet)
    f = project.linux / "drivers/scsi/scsi.c"
    f.write_text("int mine;\n")
    git(project.linux, "commit", "-qam", "my work")
    (project.root / "sim_lld/sim_lld.c").write_text("int changed;\n")
    with pytest.raises(UsageError, match="refresh-patches"):
        prepare.prepare(project, quiet)
    assert f.read_text() == "int mine;\n"


def test_dirty_tree_refused_when_work_needed(project: Paths, quiet) -> None:
    prepare.prepare(project, quiet)
    f = project.linux / "drivers/scsi/scsi.c"
    f.write_text("int dirty;\n")
    assert not prepare.prepare(project, quiet).changed  # nothing to do: fine
    (project.root / "sim_lld/sim_lld.c").write_text("int changed;\n")
    with pytest.raises(UsageError, match="uncommitted"):
        prepare.prepare(project, quiet)
    assert f.read_text() == "int dirty;\n"


def test_kernel_src_git(project: Paths, quiet, fake_git_kernel: Path) -> None:
    r = prepare.prepare(project, quiet, str(fake_git_kernel), "v6.12")
    base = Git(project.linux).out("rev-list", "--max-parents=0", "HEAD")
    assert base == git(fake_git_kernel, "rev-parse", "v6.12")
    assert r.changed
    assert not prepare.prepare(project, quiet, str(fake_git_kernel), "v6.12").changed


def test_recovers_from_interrupted_overlay(project: Paths, quiet, monkeypatch) -> None:
    prepare.prepare(project, quiet)
    (project.root / "sim_lld/sim_lld.c").write_text("int v2;\n")

    def interrupted(*a, **k):
        overlay_apply(*a, **k)
        raise KeyboardInterrupt
    from tgtsim import overlay
    overlay_apply = overlay.apply
    monkeypatch.setattr(overlay, "apply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare.prepare(project, quiet)
    monkeypatch.setattr(overlay, "apply", overlay_apply)
    assert prepare.prepare(project, quiet).changed
    assert Git(project.linux).is_clean()
    assert (project.linux / "drivers/scsi/sim_lld/sim_lld.c").read_text() == "int v2;\n"


def test_another_commit_of_the_same_tree_is_switched_in_place(
        project: Paths, quiet, tmp_path: Path, fake_git_kernel: Path) -> None:
    """A bisection step: build/linux is not cloned again, and only the files
    the new commit changed get a new mtime (make rebuilds only them)."""
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet, str(fake_git_kernel), "v6.12")
    tree = project.linux
    (tree / ".git" / "marker").write_text("same clone\n")
    old = {p: (tree / p).stat().st_mtime_ns for p in ("Makefile", "drivers/scsi/scsi.c",
                                                      "drivers/scsi/sim_lld/sim_lld.c")}
    time.sleep(0.05)
    (fake_git_kernel / "drivers/scsi/hosts.c").write_text("int hosts;\n")
    git(fake_git_kernel, "add", "-A", "-f")
    git(fake_git_kernel, "commit", "-qm", "scsi: hosts")
    r = prepare.prepare(project, quiet, str(fake_git_kernel), "HEAD")
    assert r.changed and r.applied == ["0001-scsi-b.patch"]
    assert (tree / ".git" / "marker").is_file()
    assert (tree / "drivers/scsi/hosts.c").read_text() == "int hosts;\n"
    assert "int b2;" in (tree / "drivers/scsi/scsi.c").read_text()
    assert {p: (tree / p).stat().st_mtime_ns for p in old} == old
    assert git(tree, "status", "--porcelain") == ""
    assert prepare.load_state(tree).base_commit == git(fake_git_kernel, "rev-parse", "HEAD")


def test_keep_base_stays_on_the_users_kernel_tree(
        project: Paths, quiet, tmp_path: Path, fake_git_kernel: Path) -> None:
    """lint, mutants, planted-bugs and bench take no kernel source: on a
    build/linux made from KERNEL_SRC they must not go back to the tarball."""
    add_patch(project, tmp_path, "0001-scsi-b.patch", "int b2;", "scsi: change b")
    prepare.prepare(project, quiet, str(fake_git_kernel), "v6.12")
    head = Git(project.linux).head()
    # the user's tree moved on: the base stays the commit build/linux has
    (fake_git_kernel / "drivers/scsi/hosts.c").write_text("int later;\n")
    git(fake_git_kernel, "add", "-A", "-f")
    git(fake_git_kernel, "commit", "-qm", "later")
    r = prepare.keep_base(project, quiet)
    assert not r.changed and r.head == head
    assert prepare.load_state(project.linux).base.startswith("git:")
    assert prepare.prepare(project, quiet).changed      # the tarball: a new base


def test_keep_base_without_a_tree_takes_the_tarball(project: Paths, quiet) -> None:
    r = prepare.keep_base(project, quiet)
    assert r.changed
    assert prepare.load_state(project.linux).base.startswith("tarball:")
