"""Access to the kernel tree's own KUnit tooling (tools/testing/kunit).

tgtsim never parses KTAP itself: it imports kunit_parser from the tree.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterable, Optional

from tgtsim.errors import InfraError
from tgtsim.procs import run_quiet

_loaded: Optional[Path] = None


def locate(candidates: Iterable[Optional[Path]], tarball: Optional[Path] = None,
           cache: Optional[Path] = None) -> Path:
    """First directory holding kunit_parser.py among TGTSIM_KUNIT_DIR and
    `candidates`; else unpack tools/testing/kunit from `tarball` into `cache`."""
    env = os.environ.get("TGTSIM_KUNIT_DIR")
    for c in ([Path(env)] if env else []) + [c for c in candidates if c]:
        if (c / "kunit_parser.py").is_file():
            return c
    if tarball and cache and tarball.is_file():
        dest = cache / "kunit-tool"
        if (dest / "kunit_parser.py").is_file():
            return dest
        tmp = cache / "kunit-tool.tmp"
        run_quiet(["rm", "-rf", str(tmp)])
        tmp.mkdir(parents=True)
        run_quiet(["tar", "-xf", str(tarball), "-C", str(tmp), "--strip-components=4",
                   "--wildcards", "*/tools/testing/kunit/*.py"])
        tmp.rename(dest)
        return dest
    raise InfraError("cannot find the kernel's tools/testing/kunit (kunit_parser.py): "
                     "run `tgtsim prepare` or set TGTSIM_KUNIT_DIR")


def load_parser(kunit_dir: Path) -> ModuleType:
    """Import kunit_parser from `kunit_dir` (once per process)."""
    global _loaded
    if _loaded is not None and _loaded != kunit_dir:
        # a different tree: drop the cached modules
        for mod in ("kunit_parser", "kunit_printer"):
            sys.modules.pop(mod, None)
        sys.path.remove(str(_loaded))
    if str(kunit_dir) not in sys.path:
        sys.path.insert(0, str(kunit_dir))
    _loaded = kunit_dir
    try:
        return importlib.import_module("kunit_parser")
    except Exception as e:  # a broken tree must not give a traceback
        raise InfraError(f"cannot import kunit_parser from {kunit_dir}: {e}") from None


def parse(kunit_dir: Path, lines: list[str]):
    """Parse console lines with the tree's kunit_parser.parse_run_tests.

    Its own printing (to stdout) is captured and returned alongside.
    """
    parser = load_parser(kunit_dir)
    printer = importlib.import_module("kunit_printer")
    buf = io.StringIO()
    old = printer.stdout._output
    printer.stdout._output = buf
    try:
        with contextlib.redirect_stdout(buf):
            test = parser.parse_run_tests(lines)
    finally:
        printer.stdout._output = old
    return test, buf.getvalue()
