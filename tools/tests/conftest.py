"""Shared fixtures: import path, the kernel's kunit_parser, fake kernel trees."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import io
from pathlib import Path
from typing import Callable, Optional

import pytest

TOOLS = Path(__file__).resolve().parent.parent
ROOT = TOOLS.parent
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(TOOLS))

from tgtsim import ktap, kunit_results  # noqa: E402
from tgtsim.paths import DEFAULT_TARBALL, Paths  # noqa: E402
from tgtsim.progress import Progress  # noqa: E402
from tgtsim.results import Results  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout.strip()


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def eventually(cond: Callable[[], bool], within: float = 5.0) -> bool:
    """cond() holds within `within` seconds (polled every 10 ms)."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone(pid: int, within: float = 5.0) -> bool:
    """The process is gone (or a zombie) within `within` seconds. SIGKILL is
    asynchronous: a killed process may still be exiting when the kill
    returns, longer on a loaded machine."""
    return eventually(lambda: not alive(pid), within)


@pytest.fixture(scope="session")
def kunit_dir() -> Path:
    """The kernel's tools/testing/kunit: $TGTSIM_KUNIT_DIR, build/linux, or
    unpacked from the Debian tarball into build/ (cached)."""
    cache = Path(os.environ.get("TGTSIM_KUNIT_CACHE", ROOT / "build"))
    candidates = [ROOT / "build/linux/tools/testing/kunit"]
    try:
        return ktap.locate(candidates, DEFAULT_TARBALL, cache)
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"kunit_parser not available: {e}")


def analyse(lines: list[str], kunit_dir: Path, hang: str = "", returncode: Optional[int] = 0,
            expect_kmemleak: bool = False) -> Results:
    """The KUnit results of console `lines` (read once by kunit_parser)."""
    return kunit_results.analyse(lines, ktap.parse(kunit_dir, lines), hang=hang,
                                 returncode=returncode, expect_kmemleak=expect_kmemleak)


def recorded(name: str) -> list[str]:
    """The lines of a recorded console of tests/data."""
    return (DATA / name).read_text().splitlines()


@pytest.fixture
def run_paths(tmp_path: Path, kunit_dir: Path, monkeypatch) -> Paths:
    """A scratch project with the kunit profile, to boot fake kernels in."""
    root = tmp_path / "proj"
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/base.config").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit/profiles/kunit.config").write_text("")
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    return Paths.make(root, root / "build", root / "out")


def latest_run(out: Path) -> Path:
    """out/latest of a run that wrote one."""
    link = out / "latest"
    assert link.exists(), f"no run in {out}"
    return link.resolve()


@pytest.fixture
def quiet() -> Progress:
    return Progress(io.StringIO(), live=False)


FAKE_MAKEFILE = """VERSION = 6
PATCHLEVEL = 12
SUBLEVEL = 117
"""
FAKE_GITIGNORE = """*.o
# Debian packaging: ignore everything at the top level
/*
!/debian/
"""


def make_tree_files(root: Path) -> None:
    (root / "drivers/scsi").mkdir(parents=True)
    (root / "Makefile").write_text(FAKE_MAKEFILE)
    (root / ".gitignore").write_text(FAKE_GITIGNORE)
    (root / "drivers/scsi/Kconfig").write_text('menu "SCSI"\nendmenu\n')
    (root / "drivers/scsi/Makefile").write_text("obj-y += scsi.o\n")
    (root / "drivers/scsi/scsi.c").write_text("int a;\nint b;\nint c;\n")
    kt = root / "tools/testing/kunit"
    kt.mkdir(parents=True)
    (kt / "kunit.py").write_text("import sys\nsys.exit(0)\n")


@pytest.fixture
def fake_tarball(tmp_path: Path) -> Path:
    """A tiny 'linux-source-6.12.tar.xz' with the Debian .gitignore trap."""
    src = tmp_path / "tarsrc" / "linux-source-6.12"
    make_tree_files(src)
    tb = tmp_path / "linux-source-6.12.tar.xz"
    with tarfile.open(tb, "w:xz") as t:
        t.add(src, arcname="linux-source-6.12")
    return tb


@pytest.fixture
def fake_git_kernel(tmp_path: Path) -> Path:
    """A tiny git 'kernel' tree tagged v6.12."""
    repo = tmp_path / "kernel"
    make_tree_files(repo)
    git(repo, "init", "-q", "-b", "master")
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-qm", "Linux 6.12")
    git(repo, "tag", "v6.12")
    return repo


@pytest.fixture
def project(tmp_path: Path, fake_tarball: Path, monkeypatch) -> Paths:
    """A scratch tgtsim checkout (patches/, sim_lld/, kunit/) using the fake tarball."""
    root = tmp_path / "proj"
    (root / "patches/linux-6.12").mkdir(parents=True)
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/base.config").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit/profiles/kunit.config").write_text("")
    (root / "sim_lld").mkdir()
    (root / "sim_lld/Kconfig").write_text("config SCSI_SIM_LLD\n\ttristate \"sim\"\n")
    (root / "sim_lld/Makefile").write_text("obj-$(CONFIG_SCSI_SIM_LLD) += sim_lld.o\n")
    (root / "sim_lld/sim_lld.c").write_text("int sim;\n")
    (root / "sim_lld/README.md").write_text("not copied\n")
    monkeypatch.setenv("TGTSIM_TARBALL", str(fake_tarball))
    return Paths.make(root, root / "build", root / "out")


def patch_for(tmp_path: Path, base_tree_files, edit, subject: str, name: str) -> str:
    """Make a git format-patch text by applying `edit` to a throwaway tree."""
    repo = tmp_path / f"mk-{name}"
    if repo.exists():
        import shutil
        shutil.rmtree(repo)
    base_tree_files(repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-qm", "base")
    edit(repo)
    git(repo, "commit", "-qam", subject)
    return git(repo, "format-patch", "--stdout", "-1", "HEAD") + "\n"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "uml: boots a real UML kernel (build/kbuild/*/linux; "
                            "skipped without one)")
    config.addinivalue_line("markers", "slow: builds a kernel of its own (minutes; `-m slow`, "
                            "make check CHECK_SLOW=1)")
