"""Chunk traces: the chunk sequence of a command as the tests print it, in
the KTAP diagnostic format "tgt-chunks" v1 (kunit/tgt_chunk_trace.h, the
C helper the KUnit suites and the kselftests share; documented in
kunit/README.md, "Chunk traces"):

    # tgt-chunks: v1 begin dir=to len=L max_sectors=M sg_tablesize=S max_segment_size=Z dma_boundary=0xB [name=free text]
    # tgt-chunks: chunk off=O len=N nents=E [n=K] [at=task|irq] [res=0xR] [why=W]
    # tgt-chunks: model off=O len=N nents=E [n=K]
    # tgt-chunks: resp after=C [n=K] [res=0xR] [why=W]
    # tgt-chunks: end chunks=C [model=M] err=E verdict=pass|fail

(before "tgt-chunks:" each line has whatever prefix its printer gives it:
"    # case_name: " from kunit_info(), "# " from a kselftest). A `chunk`
line with n=K stands for K chunks of that length, each starting where the
previous one ended. `model` lines, the chunks the test's model
(kunit/tgt_chunk_model.c) expects, are printed only when they differ from
the observed ones.

Failing tests always print their traces; passing ones only on request
(`tgtsim run --trace-chunks`: the kernel arguments of KERNEL_ARGS). This
module only reads them and tells what is wrong with each chunk; page.py
and svg.py draw them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

PREFIX = "tgt-chunks: "
VERSION = "v1"
# `tgtsim run --trace-chunks`: the tgt_kunit suites, sim_lld's KUnit suite
# and the kselftests (init.sh hands name=value kernel arguments to them as
# environment) print the traces of passing commands too
KERNEL_ARGS = ("tgt_kunit.trace_chunks=1", "sim_lld_kunit.trace_chunks=1",
               "tgtsim_trace_chunks=1")
MAX_CHUNKS = 20000          # a trace's chunks kept (a runaway core may send more)

_LINE = re.compile(r"(?:^|[\s:])tgt-chunks: (.*)$")
_PAIR = re.compile(r"(\w+)=(\S+)")


@dataclass
class Chunk:
    index: int
    off: int
    len: int
    nents: int
    at: str = ""
    res: int = 0
    why: str = ""

    @property
    def end(self) -> int:
        return self.off + self.len


@dataclass
class Resp:
    after: int
    count: int = 1
    res: int = 0
    why: str = ""


@dataclass
class Trace:
    """One command's chunk sequence."""
    dir: str
    len: int
    max_sectors: int
    sg_tablesize: int
    max_segment_size: int
    dma_boundary: int
    name: str = ""
    chunks: list[Chunk] = field(default_factory=list)
    model: list[Chunk] = field(default_factory=list)
    resp: list[Resp] = field(default_factory=list)
    ended: bool = False
    err: int = 0
    verdict: str = ""          # pass, fail ('' if the trace has no end line)
    truncated: int = 0         # chunks beyond MAX_CHUNKS, not kept

    @property
    def max_bytes(self) -> int:
        return self.max_sectors * 512

    @property
    def failed(self) -> bool:
        return self.verdict != "pass"

    def problems(self) -> dict[int, list[str]]:
        """What is wrong with each observed chunk (by index): not where the
        previous one ended, over a limit, failed by the LLD, not what the
        model expects; -1 for the sequence as a whole."""
        out: dict[int, list[str]] = {}

        def add(i: int, text: str) -> None:
            out.setdefault(i, []).append(text)

        pos = 0
        for c in self.chunks:
            if c.off < pos:
                add(c.index, f"starts at {c.off}, {pos - c.off} B before the end of "
                             f"the previous chunk ({pos}): overlap")
            elif c.off > pos:
                add(c.index, f"starts at {c.off}, {c.off - pos} B after the end of the "
                             f"previous chunk ({pos}): gap")
            if c.len > self.max_bytes:
                add(c.index, f"{c.len} B > max_sectors*512 = {self.max_bytes}")
            if c.nents > self.sg_tablesize:
                add(c.index, f"{c.nents} segments > sg_tablesize = {self.sg_tablesize}")
            if c.len == 0:
                add(c.index, "empty chunk")
            if c.end > self.len:
                add(c.index, f"ends at {c.end}, past the command's {self.len} B")
            if c.res or c.why:
                add(c.index, "LLD: " + " ".join(x for x in (
                    f"result 0x{c.res:x}" if c.res else "", c.why) if x))
            pos = c.end
        for i, m in enumerate(self.model):
            if i >= len(self.chunks):
                break
            c = self.chunks[i]
            if (c.off, c.len, c.nents) != (m.off, m.len, m.nents):
                add(i, f"model: off {m.off} len {m.len} nents {m.nents}")
        if self.model and len(self.model) != len(self.chunks):
            add(-1, f"{len(self.chunks)} chunks, the model expects {len(self.model)}")
        covered = max((c.end for c in self.chunks), default=0)
        if self.chunks and covered < self.len and not self.resp:
            add(-1, f"the chunks end at {covered} of {self.len} B")
        if not self.resp and self.ended and self.err == 0 and self.len:
            add(-1, "no response")
        for r in self.resp:
            if r.after < len(self.chunks):
                add(-1, f"response after chunk {r.after - 1}, before the last chunk")
            if r.count > 1:
                add(-1, f"{r.count} responses")
        return out


def _fields(text: str) -> tuple[str, dict[str, str], str]:
    """(record kind, key=value pairs, the name's free text)."""
    name = ""
    if " name=" in text:
        text, name = text.split(" name=", 1)
    words = text.split()
    kind = words[0] if words else ""
    if kind == VERSION and len(words) > 1:
        kind = words[1]
    return kind, dict(_PAIR.findall(text)), name.strip()


def _int(d: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(d[key], 0)
    except (KeyError, ValueError):
        return default


def line_text(line: str) -> Optional[str]:
    """The record of a console or log line ('' if it holds none)."""
    m = _LINE.search(line)
    return m.group(1).strip() if m else None


def parse(lines: Iterable[str]) -> list[Trace]:
    """The traces in `lines` (a case's log, a console), in order. A record
    outside a begin ... end, or of another version, is ignored; a trace cut
    short (no end line) is kept with verdict ''."""
    traces: list[Trace] = []
    cur: Optional[Trace] = None
    for line in lines:
        text = line_text(line)
        if text is None:
            continue
        kind, d, name = _fields(text)
        if kind == "begin":
            if not text.startswith(VERSION + " "):
                cur = None
                continue
            cur = Trace(dir=d.get("dir", "?"), len=_int(d, "len"),
                        max_sectors=_int(d, "max_sectors"),
                        sg_tablesize=_int(d, "sg_tablesize"),
                        max_segment_size=_int(d, "max_segment_size"),
                        dma_boundary=_int(d, "dma_boundary"), name=name)
            traces.append(cur)
        elif cur is None:
            continue
        elif kind in ("chunk", "model"):
            into = cur.chunks if kind == "chunk" else cur.model
            off, length = _int(d, "off"), _int(d, "len")
            for k in range(max(1, _int(d, "n", 1))):
                if len(into) >= MAX_CHUNKS:
                    if kind == "chunk":
                        cur.truncated += 1
                    continue
                into.append(Chunk(index=len(into), off=off + k * length, len=length,
                                  nents=_int(d, "nents"), at=d.get("at", ""),
                                  res=_int(d, "res"), why=d.get("why", "")))
        elif kind == "resp":
            cur.resp.append(Resp(after=_int(d, "after"), count=_int(d, "n", 1),
                                 res=_int(d, "res"), why=d.get("why", "")))
        elif kind == "end":
            cur.ended, cur.err, cur.verdict = True, _int(d, "err"), d.get("verdict", "")
            cur = None
    return traces


def human(n: int) -> str:
    """A byte count for people: 4096 -> '4 KiB', 524289 -> '512 KiB + 1'."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            whole, rest = divmod(n, size)
            if rest == 0:
                return f"{whole} {unit}"
            if rest < 1024:
                return f"{whole} {unit} + {rest}"
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
