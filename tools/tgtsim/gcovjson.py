"""The lcov tracefile of a build directory's .gcda files, from gcov's JSON.

What `lcov -c -d KBUILD -b BASE --rc lcov_branch_coverage=1 -t NAME` writes,
record for record, made in parallel: `gcov --json-format` runs on the .gcda
files in `jobs` batches at once (gcov itself is fast, 0.6 s for the coverage
profile's 88 files), and the JSON becomes tracefile records here, as
geninfo 1.16's JSON path makes them (its intermediate_json_to_info): a TN
per .gcda file, an SF record per source file gcov names for it (headers
once per object, merged by whoever reads the file, as lcov's own output
is), FN/FNDA for every function, DA for every line, BRDA for every branch
of a line ('-' when the line's block never ran), source lines inside
LCOV_EXCL markers left out. geninfo spends 6-8 s in Perl on the same JSON;
this takes well under a second.

tools/tests/test_gcovjson.py checks the records against geninfo's on
recorded JSON, and, with a built coverage kernel, the whole tracefile
against `lcov -c` after both are normalized by `lcov -a`.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from tgtsim.errors import InfraError
from tgtsim.procs import Background, run_watched

GCOV_OPTIONS = ["-b", "-c", "-x", "--json-format"]   # geninfo: -b -c -x -i (-i: JSON since gcc 9)
TIMEOUT = 1800.0

# geninfo's exclusion markers (their default names)
EXCL_LINE, EXCL_BR_LINE = "LCOV_EXCL_LINE", "LCOV_EXCL_BR_LINE"
EXCL_EXCEPTION_BR_LINE = "LCOV_EXCL_EXCEPTION_BR_LINE"
EXCL_START, EXCL_STOP = "LCOV_EXCL_START", "LCOV_EXCL_STOP"
EXCL_BR_START, EXCL_BR_STOP = "LCOV_EXCL_BR_START", "LCOV_EXCL_BR_STOP"
EXCL_EXC_START = "LCOV_EXCL_EXCEPTION_BR_START"
EXCL_EXC_STOP = "LCOV_EXCL_EXCEPTION_BR_STOP"


@dataclass
class Markers:
    """Lines of a source file excluded from all data, or from branch data."""
    lines: set[int] = field(default_factory=set)
    branches: set[int] = field(default_factory=set)


NO_MARKERS = Markers()


def parse_markers(text: str) -> Markers:
    """geninfo's get_source_data(): the LCOV_EXCL markers of a source file."""
    m = Markers()
    if "LCOV_EXCL" not in text:
        return m
    flag = brflag = excflag = False
    for no, line in enumerate(text.splitlines(), 1):
        if EXCL_STOP in line:
            flag = False
        elif EXCL_START in line:
            flag = True
        if EXCL_LINE in line or flag:
            m.lines.add(no)
        if EXCL_BR_STOP in line:
            brflag = False
        elif EXCL_BR_START in line:
            brflag = True
        if EXCL_EXC_STOP in line:
            excflag = False
        elif EXCL_EXC_START in line:
            excflag = True
        if EXCL_BR_LINE in line or brflag or EXCL_EXCEPTION_BR_LINE in line or excflag:
            m.branches.add(no)
    return m


class MarkerCache:
    """Markers per source file, each file read once (an unreadable file has
    none, as in geninfo)."""

    def __init__(self) -> None:
        self._cache: dict[str, Markers] = {}

    def __call__(self, path: str) -> Markers:
        m = self._cache.get(path)
        if m is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    m = parse_markers(f.read())
            except OSError:
                m = NO_MARKERS
            self._cache[path] = m
        return m


def solve_relative_path(base: str, path: str) -> str:
    """geninfo's solve_relative_path(): `path` made absolute against `base`
    and cleaned of '//', '.', a trailing '/' and '..', its way."""
    result = path if path.startswith("/") else f"{base}/{path}"
    result = result.replace("//", "/")
    while True:
        result, n = re.subn(r"/\./", "/", result)
        if not n:
            break
    result = re.sub(r"/\.$", "/", result)
    result = re.sub(r"/$", "", result)
    while True:
        result, n = re.subn(r"/[^/]+/\.\./", "/", result, count=1)
        if not n:
            break
    return re.sub(r"^/\.\./", "/", result)


def records(doc: dict[str, Any], base: str, test_name: str,
            markers: Callable[[str], Markers]) -> str:
    """The tracefile records of one gcov JSON document (one .gcda file)."""
    files = doc.get("files")
    if not isinstance(files, list):
        raise InfraError(f"gcov wrote JSON without a file list for {doc.get('data_file', '?')}")
    if not files:
        return ""
    out = [f"TN:{test_name}\n"]
    for f in files:
        name = solve_relative_path(base, str(f["file"]))
        mk = markers(name)
        out.append(f"SF:{name}\n")
        for fn in f.get("functions", ()):
            line, count, fname = fn.get("start_line"), fn.get("execution_count"), fn.get("name")
            if line is None or count is None or fname is None or line in mk.lines:
                continue
            out.append(f"FN:{line},{fname}\nFNDA:{count},{fname}\n")
        for ln in f.get("lines", ()):
            line, count = ln.get("line_number"), ln.get("count")
            if line is None or count is None or line in mk.lines:
                continue
            out.append(f"DA:{line},{count}\n")
            if line in mk.branches:
                continue
            unexec = bool(ln.get("unexecuted_block")) and count == 0
            for i, br in enumerate(ln.get("branches", ())):
                n = br.get("count")
                out.append(f"BRDA:{line},0,{i},{'-' if n is None or unexec else n}\n")
        out.append("end_of_record\n")
    return "".join(out)


def find_gcda(kbuild: Path) -> list[Path]:
    """Every .gcda file below `kbuild` (files and symlinks, as lcov finds them)."""
    found = []
    for dirpath, _dirs, files in os.walk(kbuild):
        for f in files:
            if f.endswith(".gcda"):
                found.append(Path(dirpath) / f)
    return sorted(found)


def batches(files: list[Path], n: int) -> list[list[Path]]:
    """`files` in at most `n` batches of about the same size in bytes."""
    n = max(1, min(n, len(files)))
    out: list[list[Path]] = [[] for _ in range(n)]
    load = [0] * n

    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except OSError:
            return 0

    for sz, p in sorted(((size(p), p) for p in files), key=lambda e: e[0], reverse=True):
        i = load.index(min(load))
        out[i].append(p)
        load[i] += sz or 1
    return [b for b in out if b]


def read_documents(out_dir: Path) -> Iterator[dict[str, Any]]:
    """The JSON documents gcov wrote into `out_dir` (*.gcov.json.gz)."""
    for p in sorted(out_dir.glob("*.gcov.json.gz")):
        try:
            with gzip.open(p, "rt", encoding="utf-8", errors="backslashreplace") as f:
                doc = json.load(f)
        except (OSError, ValueError, EOFError) as e:
            raise InfraError(f"gcov wrote an unreadable JSON file {p.name}: {e}") from None
        if not isinstance(doc, dict):
            raise InfraError(f"gcov wrote unexpected JSON in {p.name}")
        yield doc


def run_gcov(files: list[Path], work: Path, jobs: int, log_line: Callable[[str], None],
             gcov: str = "gcov") -> list[Path]:
    """gcov on `files` in parallel batches, each in its own directory under
    `work`; the directories holding the JSON files. gcov's messages go to
    `log_line`; a batch that fails (exit status) is the capture's failure."""
    dirs: list[Path] = []
    jobs_bg: list[tuple[Background, list[str]]] = []
    failures: list[str] = []
    env = dict(os.environ, LC_ALL="C")
    for i, batch in enumerate(batches(files, jobs)):
        d = work / f"batch{i}"
        d.mkdir()
        dirs.append(d)
        lines: list[str] = []

        def one(batch: list[Path] = batch, d: Path = d, lines: list[str] = lines) -> None:
            res = run_watched([gcov, *GCOV_OPTIONS, *map(str, batch)], cwd=d, env=env,
                              on_line=lines.append, keep_lines=False,
                              stdout=d / "gcov.out", timeout=TIMEOUT)
            if res.returncode != 0 or res.timed_out:
                failures.append(f"gcov exited with {res.returncode} on {len(batch)} files "
                                f"from {batch[0]}" + (" (timed out)" if res.timed_out else ""))

        job = Background(one)
        job.start()
        jobs_bg.append((job, lines))
    try:
        for job, lines in jobs_bg:
            job.wait()
    except BaseException:
        for job, _ in jobs_bg:
            job.abandon()
        raise
    for _job, lines in jobs_bg:
        for line in lines:
            log_line(line)
    if failures:
        raise InfraError("gcov failed: " + "; ".join(failures),
                         detail="\n".join(ln for _j, lines in jobs_bg for ln in lines[-20:]))
    return dirs


def capture(kbuild: Path, base: Path, info: Path, test_name: str, jobs: int,
            log_line: Callable[[str], None], gcov: str = "gcov",
            files: Optional[Iterable[Path]] = None) -> int:
    """Write the tracefile `info` of the .gcda files below `kbuild` (or
    `files`), source paths relative to `base` made absolute. Returns the
    number of .gcda files read."""
    gcda = sorted(files) if files is not None else find_gcda(kbuild)
    if not gcda:
        raise InfraError(f"no .gcda files in {kbuild}")
    markers = MarkerCache()
    with tempfile.TemporaryDirectory(prefix="tgtsim-gcov-") as tmp:
        dirs = run_gcov(gcda, Path(tmp), jobs, log_line, gcov)
        seen = 0
        tmp_info = info.with_name(info.name + ".part")
        try:
            with open(tmp_info, "w", encoding="utf-8") as out:
                for d in dirs:
                    for doc in read_documents(d):
                        seen += 1
                        out.write(records(doc, str(base), test_name, markers))
            os.replace(tmp_info, info)
        except OSError as e:
            raise InfraError(f"cannot write {info}: {e.strerror or e}") from None
        finally:
            tmp_info.unlink(missing_ok=True)
    if seen < len(gcda):
        log_line(f"WARNING: gcov produced data for {seen} of {len(gcda)} .gcda files")
    return len(gcda)
