from pathlib import Path

import pytest

from conftest import git
from tgtsim import kernel_source
from tgtsim.errors import InfraError, UsageError


def test_tarball_missing(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="linux-source-6.12"):
        kernel_source.resolve(None, None, tmp_path / "none.tar.xz")


def test_src_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        kernel_source.resolve(str(tmp_path / "nope"), None, tmp_path)


def test_src_not_git(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git tree"):
        kernel_source.resolve(str(tmp_path), None, tmp_path)


def test_ref_missing(fake_git_kernel: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="KERNEL_REF=v9.9"):
        kernel_source.resolve(str(fake_git_kernel), "v9.9", tmp_path)


def test_not_612(fake_git_kernel: Path, tmp_path: Path) -> None:
    mk = fake_git_kernel / "Makefile"
    mk.write_text(mk.read_text().replace("PATCHLEVEL = 12", "PATCHLEVEL = 6"))
    git(fake_git_kernel, "commit", "-qam", "6.6")
    with pytest.raises(UsageError, match="not a Linux 6.12 tree .Linux 6.6."):
        kernel_source.resolve(str(fake_git_kernel), "HEAD", tmp_path)
    spec = kernel_source.resolve(str(fake_git_kernel), "v6.12", tmp_path)
    assert spec.kind == "git" and spec.ident.startswith("git:")


def test_version_parse() -> None:
    assert kernel_source.kernel_version("VERSION = 6\nPATCHLEVEL = 12\n") == (6, 12)
    assert kernel_source.kernel_version("nothing") is None


def test_drop_debian_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.o\n# Debian packaging: ignore\n/*\n!/debian/\n")
    kernel_source.drop_debian_gitignore(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == "*.o\n"


def test_create_from_tarball(fake_tarball: Path, tmp_path: Path) -> None:
    spec = kernel_source.resolve(None, None, fake_tarball)
    dest = tmp_path / "build" / "linux"
    head = kernel_source.create(spec, dest)
    assert git(dest, "rev-parse", "HEAD") == head
    assert "drivers/scsi/scsi.c" in git(dest, "ls-files")
    assert "Tgtsim-Base: tarball:" in git(dest, "log", "-1", "--format=%B")
    # the files in one pack (a clone or checkout reads it, not loose objects)
    objs = dict(ln.split(": ", 1) for ln in git(dest, "count-objects", "-v").splitlines())
    blobs = {ln.split()[2] for ln in git(dest, "ls-tree", "-r", "-l", "HEAD").splitlines()
             if int(ln.split()[3]) > kernel_source.BULK_THRESHOLD}
    assert objs["packs"] == "1" and int(objs["in-pack"]) >= len(blobs) > 0
    assert git(dest, "config", "core.untrackedCache") == "true"


def test_tune_gives_an_older_tree_the_untracked_cache(fake_git_kernel: Path) -> None:
    git(fake_git_kernel, "config", "core.untrackedCache", "false")
    kernel_source.tune(fake_git_kernel)          # set, even to false: the user's choice
    assert git(fake_git_kernel, "config", "core.untrackedCache") == "false"
    git(fake_git_kernel, "config", "--unset", "core.untrackedCache")
    kernel_source.tune(fake_git_kernel)
    assert git(fake_git_kernel, "config", "core.untrackedCache") == "true"
    kernel_source.tune(fake_git_kernel.parent / "nowhere")     # no tree: nothing to do
