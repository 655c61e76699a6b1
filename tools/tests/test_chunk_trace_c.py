"""The C helper that prints chunk traces (kunit/tgt_chunk_trace.h, header
only, plain C) and the reader (chunktrace.py) agree: a small program built
with the host's gcc prints traces, chunktrace.parse() reads back exactly
the chunks it was given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from tgtsim import chunktrace

PROGRAM = r"""
#include <stdio.h>
#include "tgt_chunk_trace.h"

static void print(void *priv, const char *line)
{
	fprintf((FILE *)priv, "    # case: %s\n", line);
}

int main(void)
{
	struct tgt_trace t;
	unsigned int i;

	/* 1024 page chunks, then one a byte off, a model, a response */
	tgt_trace_begin(&t, print, stdout, "to", 4194305, 8, 128, 65536,
			0xffffffffULL, "a name with spaces = and more");
	for (i = 0; i < 1024; i++)
		tgt_trace_chunk(&t, i * 4096ULL, 4096, 1, i ? "irq" : "task", 0, NULL);
	tgt_trace_chunk(&t, 4194303, 2, 1, "irq", 0x70000, "offset");
	for (i = 0; i < 1025; i++)
		tgt_trace_model(&t, i * 4096ULL, i < 1024 ? 4096 : 1, 1);
	tgt_trace_resp(&t, 1025, 1, 0, NULL);
	tgt_trace_end(&t, -5, 1);

	/* the same chunk twice at one offset: two lines, not a run */
	tgt_trace_begin(&t, print, stdout, "from", 1, 1024, 128, 65536, 0xfff, NULL);
	tgt_trace_chunk(&t, 0, 1, 1, NULL, 0, NULL);
	tgt_trace_chunk(&t, 0, 1, 1, NULL, 0x70000, "stopped");
	tgt_trace_end(&t, 0, 0);
	return 0;
}
"""


def test_c_helper_and_reader_agree(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc")
    src = tmp_path / "t.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "t"
    subprocess.run([gcc, "-Wall", "-Wextra", "-Werror", "-std=gnu11",
                    f"-I{ROOT / 'kunit'}", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, text=True, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == 12, "runs of equal chunks are not one line each:\n" + out
    assert all(len(ln) < chunktrace_line_max() for ln in lines)
    first, second = chunktrace.parse(lines)
    assert first.name == "a name with spaces = and more"
    assert (first.dir, first.len, first.max_sectors, first.dma_boundary) == \
        ("to", 4194305, 8, 0xffffffff)
    assert len(first.chunks) == 1025 and len(first.model) == 1025
    assert [c.off for c in first.chunks[:1024]] == [i * 4096 for i in range(1024)]
    assert first.chunks[0].at == "task" and first.chunks[1].at == "irq"
    last = first.chunks[-1]
    assert (last.off, last.len, last.res, last.why) == (4194303, 2, 0x70000, "offset")
    assert (first.err, first.verdict, first.resp[0].after) == (-5, "fail", 1025)
    assert sorted(first.problems()) == [1024]
    assert [(c.off, c.len, c.why) for c in second.chunks] == [(0, 1, ""), (0, 1, "stopped")]
    assert second.verdict == "pass" and second.name == ""


def chunktrace_line_max() -> int:
    """TGT_TRACE_LINE of the header, plus the printer's prefix."""
    text = (ROOT / "kunit" / "tgt_chunk_trace.h").read_text()
    for line in text.splitlines():
        if line.startswith("#define TGT_TRACE_LINE"):
            return int(line.split()[2]) + len("    # case: ")
    raise AssertionError("no TGT_TRACE_LINE")
