"""Host packages tgtsim needs (Debian 12), checked with dpkg-query.

This module imports no package it installs: __main__ uses it to install the
Python modules of the others (ensure_modules) before it imports them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from tgtsim.errors import InfraError
from tgtsim.procs import run_watched
from tgtsim.progress import Progress

# Debian package -> why it is needed
PACKAGES: dict[str, str] = {
    "gcc": "compiler", "make": "kbuild", "git": "build/linux repository",
    "xz-utils": "tarball", "flex": "kconfig", "bison": "kconfig", "bc": "kbuild",
    "libelf-dev": "kbuild", "libssl-dev": "kbuild", "perl": "checkpatch",
    "linux-source-6.12": "default kernel source",
    "ccache": "compiler cache", "lcov": "coverage (lcov -e, -a, genhtml)",
    "sparse": "static checks", "rsync": "headers install",
    "python3": "tgtsim", "python3-pytest": "tgtsim tests", "mypy": "type check (make check)",
    "python3-junitparser": "JUnit writing and reading",
    "python3-lxml": "JUnit XSD and Cobertura DTD validation",
    "python3-unidiff": "patch-line diffs",
    "gnuplot-nox": "the plot of make bench (bench.svg)",
    "chromium": "screenshots of the HTML pages (make check: headless, no network)",
    "python3-jsonschema": "results.json schema (tests)",
    "python3-yaml": "CI template checks (tools/check_ci.py)",
    "diff-cover": "diff coverage reports (coverage --diff-base)",
}
# Python modules tgtsim imports -> their Debian package
MODULES: dict[str, str] = {"junitparser": "python3-junitparser", "lxml": "python3-lxml",
                           "unidiff": "python3-unidiff", "diff_cover": "diff-cover"}


@dataclass
class DepsStatus:
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing

    def install_line(self) -> str:
        return "apt-get install -y " + " ".join(self.missing)


def installed_packages(names: list[str]) -> set[str]:
    """Names among `names` that dpkg reports as installed."""
    if shutil.which("dpkg-query") is None:
        raise InfraError("dpkg-query not found: tgtsim deps needs Debian 12 (or install "
                         + " ".join(names) + " by hand)")
    cp = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\\n", *names],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    have = set()
    for line in cp.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("ii"):
            have.add(parts[0].split(":")[0])
    return have


def check(packages: list[str] | None = None) -> DepsStatus:
    names = sorted(packages if packages is not None else PACKAGES)
    have = installed_packages(names)
    return DepsStatus(missing=[n for n in names if n not in have])


def install(missing: list[str], progress: Progress) -> None:
    if os.geteuid() != 0:
        raise InfraError("missing packages and not root; run as root:\n  "
                         + DepsStatus(missing).install_line())
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", *missing]):
        with progress.step(" ".join(cmd[:2])):
            res = run_watched(cmd, env=env, on_line=progress.output, timeout=1800)
        if res.returncode != 0:
            tail = "\n".join(res.lines[-15:])
            raise InfraError(f"{' '.join(cmd[:2])} failed (exit {res.returncode})", detail=tail)


def run_deps(do_install: bool, progress: Progress) -> int:
    status = check()
    if status.ok:
        progress.info("deps: all packages present")
        return 0
    if not do_install:
        raise InfraError("missing packages: " + " ".join(status.missing)
                         + "\n  install them with: tgtsim deps --install   (or: "
                         + status.install_line() + ")")
    progress.info("deps: installing " + " ".join(status.missing))
    install(status.missing, progress)
    again = check()
    if not again.ok:
        raise InfraError("still missing after install: " + " ".join(again.missing))
    return 0


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_modules() -> list[str]:
    """The Debian packages of the Python modules tgtsim imports that are not
    there."""
    return sorted(pkg for mod, pkg in MODULES.items() if not _importable(mod))


def _installs(argv: Sequence[str]) -> bool:
    """The command line asks for the dependency step (`deps --install`, or
    `all`/`coverage` without --no-deps)."""
    words = set(argv)
    return ("deps" in words and "--install" in words) or \
        (bool(words & {"all", "coverage"}) and "--no-deps" not in words)


def ensure_modules(argv: Sequence[str], progress: Progress) -> None:
    """Before tgtsim imports its modules: install the missing Python
    packages if the command installs dependencies anyway, else tell how."""
    missing = missing_modules()
    if not missing:
        return
    if not _installs(argv):
        raise InfraError("missing Python packages: " + " ".join(missing)
                         + "\n  install them with: tgtsim deps --install   (or: "
                         + DepsStatus(missing).install_line() + ")")
    progress.info("deps: installing " + " ".join(missing))
    install(missing, progress)
    importlib.invalidate_caches()
    if missing_modules():
        raise InfraError("still missing after install: " + " ".join(missing_modules()))
    sys.path_importer_cache.clear()
