"""selftests/tgt_indent.c, init.sh's filter of a selftest program's output,
prints what the perl one-liner it replaced (init.sh's fallback) prints:
the same lines indented by four, the same lines timed, flushed line by
line."""

from __future__ import annotations

import re
import select
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT

SAMPLE = (b"TAP version 13\n"
          b"#  RUN           stress.mixed_10000 ...\n"
          b"# RUN\tx.tab\n"
          b"#RUN x.no_space\n"
          b"# RUNNING not a run line\n"
          b"#            OK  stress.mixed_10000\n"
          b"ok 1 stress.mixed_10000\n"
          b"not ok 12 fixture.case # SKIP no device\n"
          b"ok foo\n"
          b"okay 1 x\n"
          b"ok 1\n"
          b"    ok 2 nested\n"
          b"\n"
          b"bytes \xff\xfe kept\n"
          b"ok 3 last, without a newline")
TIME = re.compile(rb"^    # tgtsim-time: \d+\.\d{6}$", re.M)


def build(tmp_path: Path) -> Path:
    gcc = shutil.which("gcc")
    assert gcc is not None, "gcc is needed (tgtsim builds the kernel with it)"
    exe = tmp_path / "tgt_indent"
    subprocess.run([gcc, "-O2", "-Wall", "-Werror", "-std=gnu11", "-D_GNU_SOURCE", "-o",
                    str(exe), str(ROOT / "selftests" / "tgt_indent.c")], check=True)
    return exe


def perl_filter() -> list[str]:
    """The perl fallback as init.sh has it."""
    text = (ROOT / "selftests" / "init.sh").read_text()
    m = re.search(r"perl (-MTime::HiRes=\S+) -ne '(.*?)'\n", text, re.S)
    assert m, "init.sh has no perl fallback"
    return ["perl", m.group(1), "-ne", m.group(2)]


def test_same_output_as_the_perl_filter(tmp_path: Path) -> None:
    exe = build(tmp_path)
    ours = subprocess.run([str(exe)], input=SAMPLE, stdout=subprocess.PIPE,
                          check=True).stdout
    perl = subprocess.run(perl_filter(), input=SAMPLE, stdout=subprocess.PIPE,
                          check=True).stdout
    assert TIME.sub(b"T", ours) == TIME.sub(b"T", perl)
    # the timed lines: the two RUN lines and the three results
    assert len(TIME.findall(ours)) == 5
    lines = ours.split(b"\n")
    timed = [lines[i + 1] for i, ln in enumerate(lines) if TIME.match(ln)]
    assert timed == [b"    #  RUN           stress.mixed_10000 ...", b"    # RUN\tx.tab",
                     b"    ok 1 stress.mixed_10000",
                     b"    not ok 12 fixture.case # SKIP no device",
                     b"    ok 3 last, without a newline"]
    clocks = [float(ln.split(b": ")[1]) for ln in TIME.findall(ours)]
    assert clocks == sorted(clocks)
    assert ours.endswith(b"    ok 3 last, without a newline")


def test_each_line_comes_through_when_it_is_printed(tmp_path: Path) -> None:
    """A line is written out before the next one is read (the program may
    hang after it: its last lines must reach the console)."""
    proc = subprocess.Popen([str(build(tmp_path))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"ok 1 first\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output while its input stays open"
        assert TIME.match(proc.stdout.readline().rstrip(b"\n"))
        assert proc.stdout.readline() == b"    ok 1 first\n"
    finally:
        proc.stdin.close()
        proc.wait(30)
    assert proc.returncode == 0
