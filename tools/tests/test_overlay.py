from pathlib import Path

from tgtsim import overlay


def mkrepo(root: Path) -> None:
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/base.config").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit/README.md").write_text("doc\n")
    (root / "kunit/Kconfig").write_text("config X\n")
    (root / "kunit/Makefile").write_text("obj-y += x.o\n")
    (root / "kunit/x.c").write_text("int x;\n")
    (root / "kunit/mutants").mkdir()
    (root / "kunit/mutants/01-x.patch").write_text("diff\n")   # harness-side, not kernel code
    (root / "sim_lld").mkdir()
    (root / "sim_lld/only.h").write_text("#define A\n")   # no Kconfig, no Makefile


def test_collect(tmp_path: Path) -> None:
    mkrepo(tmp_path)
    ov = overlay.collect(tmp_path)
    assert sorted(ov.files) == ["drivers/scsi/sim_lld/only.h", "drivers/scsi/tgt_kunit/Kconfig",
                                "drivers/scsi/tgt_kunit/Makefile", "drivers/scsi/tgt_kunit/x.c"]
    assert ov.kconfig_dirs == ["drivers/scsi/tgt_kunit"]
    assert ov.make_dirs == ["drivers/scsi/tgt_kunit"]
    assert ov.makefile_hook().strip().endswith("obj-y += tgt_kunit/")
    assert 'source "drivers/scsi/tgt_kunit/Kconfig"' in ov.kconfig_hook()


def test_digest_changes_with_content(tmp_path: Path) -> None:
    mkrepo(tmp_path)
    d1 = overlay.collect(tmp_path).digest()
    (tmp_path / "kunit/README.md").write_text("changed doc\n")
    assert overlay.collect(tmp_path).digest() == d1
    (tmp_path / "kunit/x.c").write_text("int y;\n")
    assert overlay.collect(tmp_path).digest() != d1


def test_empty(tmp_path: Path) -> None:
    ov = overlay.collect(tmp_path)
    assert ov.files == {} and ov.kconfig_hook() == "" and ov.makefile_hook() == ""


def test_apply_idempotent(tmp_path: Path) -> None:
    repo, tree = tmp_path / "repo", tmp_path / "tree"
    repo.mkdir()
    mkrepo(repo)
    (tree / "drivers/scsi").mkdir(parents=True)
    (tree / "drivers/scsi/Kconfig").write_text("endmenu\n")
    (tree / "drivers/scsi/Makefile").write_text("obj-y += a.o\n")
    ov = overlay.collect(repo)
    overlay.apply(ov, tree)
    k1 = (tree / "drivers/scsi/Kconfig").read_text()
    overlay.apply(ov, tree)
    assert (tree / "drivers/scsi/Kconfig").read_text() == k1
    assert k1.count("source") == 1
    (tree / "drivers/scsi/tgt_kunit/stale.c").write_text("old\n")
    overlay.apply(ov, tree)
    assert not (tree / "drivers/scsi/tgt_kunit/stale.c").exists()
