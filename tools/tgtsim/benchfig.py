"""The figures of `tgtsim bench`: what the kernel's benchmark suite printed
("tgt-bench" KTAP diagnostics, format v1, kunit/README.md "Benchmark
figures") and the harness timings, turned into figures with
min/median/max over the repetitions, checked against the issue's limits,
compared with an earlier bench.json, written as bench.json, bench.md and
the gnuplot data and script of bench.svg.

A record, after whatever prefix its printer gave it (kunit_info():
"    # tgt_bench_datapath: "):

    tgt-bench: v1 begin reps=R min_ms=M hz=H hres=0|1 tick_chunks=C page_size=P
    tgt-bench: v1 lim name=default|page|seg sg_tablesize=.. max_sectors=.. ...
    tgt-bench: v1 memcpy rep=R size=S n=N ns=T
    tgt-bench: v1 dp rep=R dir=to|from lim=L compl=inline|softirq|hrtimer copy=0|1
                     size=S n=N ns=T chunks=C bytes=B
    tgt-bench: v1 skip rep=R dir=.. lim=.. compl=.. copy=.. size=S chunks=C why=timer
    tgt-bench: v1 stage rep=R name=NAME size=S n=N ns=T
    tgt-bench: v1 getput rep=R ctx=task|hardirq free=0|1 stub=0|1 n=N ns=T

(a dp record is one line). n is the number of commands (copies, calls,
pairs) timed, ns the time they took together.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from tgtsim.errors import UsageError

PREFIX = "tgt-bench: v1 "
VERSION = 1
_LINE = re.compile(r"(?:^|[\s:])tgt-bench: v1 (\w+)((?: \w+=\S+)*)\s*$")
_PAIR = re.compile(r"(\w+)=(\S+)")

SIZES = (4096, 64 << 10, 1 << 20, 16 << 20)
LIMS = ("default", "page", "seg")
MODES = ("inline", "softirq", "hrtimer")
DIRS = ("to", "from")
STAGES = ("bvec_alloc", "bio_add", "rq_append", "sg_map", "lld_data", "lld_response",
          "queue_command")
WORSE = 1.20      # --compare flags a figure whose cost grew by more than 20 %


@dataclass
class Record:
    kind: str
    fields: dict[str, str]

    def int(self, key: str) -> int:
        return int(self.fields[key], 0)


def parse(lines: Iterable[str]) -> list[Record]:
    """The tgt-bench records of a console, in order."""
    out = []
    for line in lines:
        m = _LINE.search(line)
        if m:
            out.append(Record(m.group(1), dict(_PAIR.findall(m.group(2)))))
    return out


def size_name(size: int) -> str:
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    better: str                  # "higher" or "lower"
    group: str
    samples: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, "better": self.better,
                "group": self.group, "samples": [_round(s) for s in self.samples],
                "min": _round(self.min), "median": _round(self.median),
                "max": _round(self.max)}

    @classmethod
    def from_dict(cls, key: str, d: dict[str, Any]) -> "Figure":
        return cls(key=key, label=d.get("label", key), unit=d.get("unit", ""),
                   better=d.get("better", "lower"), group=d.get("group", ""),
                   samples=[float(s) for s in d.get("samples", [])])


def _round(v: float) -> float:
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, max(0, 4 - int(math.floor(math.log10(abs(v))))))


class Figures:
    """Figures by key, in the order they were first added."""

    def __init__(self) -> None:
        self.by_key: dict[str, Figure] = {}

    def add(self, key: str, label: str, unit: str, better: str, group: str,
            value: float) -> None:
        f = self.by_key.get(key)
        if f is None:
            f = self.by_key[key] = Figure(key, label, unit, better, group)
        f.samples.append(value)

    def get(self, key: str) -> Optional[Figure]:
        return self.by_key.get(key)

    def group(self, group: str) -> list[Figure]:
        return [f for f in self.by_key.values() if f.group == group]

    def __iter__(self) -> Iterator[Figure]:
        return iter(self.by_key.values())

    def __len__(self) -> int:
        return len(self.by_key)


# -- the kernel's figures --------------------------------------------------------

@dataclass
class KernelData:
    """What the kernel's records say beyond the figures: the limit sets,
    the chunks per command, the skipped commands."""
    settings: dict[str, str] = field(default_factory=dict)
    lims: dict[str, dict[str, str]] = field(default_factory=dict)
    chunks: dict[str, float] = field(default_factory=dict)   # dp key -> chunks per command
    skipped: list[dict[str, str]] = field(default_factory=list)


def dp_key(d: str, lim: str, mode: str, copy: int, size: int) -> str:
    return f"kernel.dp.{d}.{lim}.{mode}.{'copy' if copy else 'nocopy'}.{size}"


def kernel_figures(records: list[Record], figs: Figures) -> KernelData:
    """Add the figures of the kernel's records to `figs`."""
    data = KernelData()
    memcpy_ns: dict[tuple[int, int], float] = {}       # (rep, size) -> ns per copy
    inline: dict[tuple[str, int, str], list[tuple[float, float, int]]] = {}
    per_cmd: dict[tuple[str, int, int], dict[int, float]] = {}   # (dir, rep, size) -> copy -> ns
    for r in records:
        f = r.fields
        if r.kind == "begin":
            data.settings.update(f)
        elif r.kind == "lim":
            data.lims[f["name"]] = {k: v for k, v in f.items() if k != "name"}
        elif r.kind == "skip":
            if f not in data.skipped:
                data.skipped.append(f)
        elif r.kind == "memcpy":
            size, n, ns = r.int("size"), r.int("n"), r.int("ns")
            memcpy_ns[(r.int("rep"), size)] = ns / n
            figs.add(f"kernel.memcpy.{size}", f"memcpy {size_name(size)}", "MB/s",
                     "higher", "memcpy", size * n / ns * 1e3)
        elif r.kind == "dp":
            d, lim, mode, copy = f["dir"], f["lim"], f["compl"], r.int("copy")
            size, n, ns, chunks = r.int("size"), r.int("n"), r.int("ns"), r.int("chunks")
            key = dp_key(d, lim, mode, copy, size)
            what = f"{d} {lim} {mode} {'copy' if copy else 'no copy'} {size_name(size)}"
            figs.add(key + ".MBps", what, "MB/s", "higher", "datapath",
                     size * n / ns * 1e3)
            figs.add(key + ".cmds", what, "cmds/s", "higher", "datapath", n / ns * 1e9)
            data.chunks[key] = chunks / n
            if mode == "inline" and not copy:
                inline.setdefault((d, r.int("rep"), lim), []).append(
                    (ns / n, chunks / n, size))
            if mode == "inline" and lim == "default":
                per_cmd.setdefault((d, r.int("rep"), size), {})[copy] = ns / n
                base = memcpy_ns.get((r.int("rep"), size))
                which = "e2e" if copy else "core"
                if not copy:
                    figs.add(f"kernel.core.ns_per_cmd.{d}.{size}",
                             f"core ns per {size_name(size)} command, {d}", "ns", "lower",
                             "core", ns / n)
                if base:
                    figs.add(f"kernel.{which}.vs_memcpy.{d}.{size}",
                             f"{'end to end' if copy else 'core (no copy)'} / memcpy, "
                             f"{d} {size_name(size)}", "x", "lower", "core",
                             ns / n / base)
        elif r.kind == "stage":
            figs.add(f"kernel.stage.{f['name']}", f"{f['name']} ({size_name(r.int('size'))})",
                     "ns", "lower", "stages", r.int("ns") / r.int("n"))
        elif r.kind == "getput":
            ctx, free, stub = f["ctx"], r.int("free"), r.int("stub")
            what = ("plain" if not stub else "stub, free list in use" if free
                    else "stub, allocated")
            name = "plain" if not stub else "stub_freelist" if free else "stub_alloc"
            figs.add(f"kernel.getput.{ctx}.{name}", f"get/put from {ctx}, {what}",
                     "pairs/s", "higher", "getput", r.int("n") / r.int("ns") * 1e9)
    _fit(inline, figs)
    # the end-to-end time split: sim_lld's copy = copy on - copy off
    for (d, rep, size), by in per_cmd.items():
        base = memcpy_ns.get((rep, size))
        if base and 0 in by and 1 in by:
            figs.add(f"kernel.copy.vs_memcpy.{d}.{size}",
                     f"sim_lld's copy (end to end - no copy) / memcpy, {d} {size_name(size)}",
                     "x", "lower", "core", (by[1] - by[0]) / base)
    return data


def _fit(inline: dict[tuple[str, int, str], list[tuple[float, float, int]]],
         figs: Figures) -> None:
    """ns per command = a + b * chunks + c * pages, by least squares of the
    relative error over the inline no-copy commands of all limit sets and
    sizes of one repetition: the core's (and sim_lld's bookkeeping's) cost per command,
    per chunk and per page."""
    reps: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    for (d, rep, _lim), pts in inline.items():
        reps.setdefault((d, rep), []).extend(pts)
    for (d, _rep), pts in sorted(reps.items()):
        # relative errors: each row divided by its time, so that the 4 KiB
        # commands weigh as much as the 16 MiB ones in the per-command term
        coef = least_squares([(1.0 / ns, ch / ns, size / 4096 / ns) for ns, ch, size in pts
                              if ns > 0], [1.0 for ns, _ch, _size in pts if ns > 0])
        if coef is None:
            continue
        for name, v in zip(("cmd", "chunk", "page"), coef):
            figs.add(f"kernel.core.fit.{d}.{name}_ns", f"core ns per {name} ({d}, fit)", "ns",
                     "lower", "fit", v)


def least_squares(rows: list[tuple[float, ...]], ys: list[float]) -> Optional[list[float]]:
    """x minimising |A x - y| (normal equations, Gauss-Jordan); None if
    the columns are dependent."""
    k = len(rows[0]) if rows else 0
    if len(rows) < k or k == 0:
        return None
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] +
         [sum(r[i] * y for r, y in zip(rows, ys))] for i in range(k)]
    for col in range(k):
        piv = max(range(col, k), key=lambda i: abs(a[i][col]))
        if abs(a[piv][col]) < 1e-12 * max(1.0, max(abs(a[i][col]) for i in range(k))):
            return None
        a[col], a[piv] = a[piv], a[col]
        for i in range(k):
            if i != col:
                m = a[i][col] / a[col][col]
                a[i] = [x - m * p for x, p in zip(a[i], a[col])]
    return [a[i][k] / a[i][i] for i in range(k)]


# -- checks: the acceptance limits ------------------------------------------

@dataclass
class Check:
    name: str
    key: str
    limit: float
    op: str                     # "<=" or "<"
    value: Optional[float] = None

    @property
    def ok(self) -> Optional[bool]:
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value < self.limit

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "figure": self.key, "stat": "median", "op": self.op,
                "limit": self.limit, "value": None if self.value is None else _round(self.value),
                "ok": self.ok}


CHECKS: tuple[tuple[str, str, str, float], ...] = (
    ("warm no-change make / the bare boots it wraps", "harness.make_warm.ratio", "<=", 1.5),
    ("incremental make after touching one port file (s)", "harness.make_incremental.s",
     "<", 60.0),
    ("core (no copy) / memcpy, 1 MiB to, default limits, inline",
     "kernel.core.vs_memcpy.to.1048576", "<=", 0.10),
    ("core (no copy) / memcpy, 1 MiB from, default limits, inline",
     "kernel.core.vs_memcpy.from.1048576", "<=", 0.10),
    ("core (no copy) ns per 4 KiB command, to", "kernel.core.ns_per_cmd.to.4096", "<=", 100.0),
    ("core (no copy) ns per 4 KiB command, from", "kernel.core.ns_per_cmd.from.4096", "<=",
     100.0),
    ("end to end / memcpy, 1 MiB to, default limits, inline",
     "kernel.e2e.vs_memcpy.to.1048576", "<=", 1.25),
    ("end to end / memcpy, 1 MiB from, default limits, inline",
     "kernel.e2e.vs_memcpy.from.1048576", "<=", 1.25),
)


def checks(figs: Figures, duration: Optional[float] = None) -> list[Check]:
    out = []
    for name, key, op, limit in CHECKS:
        f = figs.get(key)
        out.append(Check(name, key, limit, op, f.median if f and f.samples else None))
    if duration is not None:
        out.append(Check("tgtsim bench, all parts (s)", "duration_s", 600.0, "<", duration))
    return out


# -- bench.json and --compare --------------------------------------------------------

def to_json(figs: Figures, meta: dict[str, Any], data: Optional[KernelData],
            chk: list[Check]) -> dict[str, Any]:
    d: dict[str, Any] = {"version": VERSION, **meta,
                         "figures": {f.key: f.to_dict() for f in figs},
                         "checks": [c.to_dict() for c in chk]}
    if data is not None:
        d["kernel"] = {"settings": data.settings, "limits": data.lims,
                       "chunks_per_cmd": {k: _round(v) for k, v in data.chunks.items()},
                       "skipped": data.skipped}
    return d


def load(path: Path) -> dict[str, Figure]:
    """The figures of a bench.json."""
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--compare: {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"--compare: {path} is not a bench.json: {e}") from None
    if not isinstance(d, dict) or d.get("version") != VERSION or \
            not isinstance(d.get("figures"), dict):
        raise UsageError(f"--compare: {path} is not a bench.json of version {VERSION}")
    return {k: Figure.from_dict(k, v) for k, v in d["figures"].items() if v.get("samples")}


@dataclass
class Change:
    key: str
    label: str
    unit: str
    old: float
    new: float
    cost: float                 # > 1: worse

    @property
    def worse(self) -> bool:
        return self.cost > WORSE


def compare(old: dict[str, Figure], new: dict[str, Figure]) -> tuple[list[Change], list[str]]:
    """Each figure of both against its old median: the cost ratio (new/old
    for lower-is-better figures, old/new for higher-is-better ones); and
    the keys found in only one of them."""
    changes = []
    for key, nf in new.items():
        of = old.get(key)
        if of is None:
            continue
        o, n = of.median, nf.median
        if nf.better == "higher":
            cost = o / n if n > 0 else math.inf
        else:
            cost = n / o if o > 0 else (1.0 if n == 0 else math.inf)
        changes.append(Change(key, nf.label, nf.unit, o, n, cost))
    only = sorted(set(old) ^ set(new))
    return changes, only


# the machine's speed: a memcpy() of 4 KiB (L1-resident) in the bench boot
GAUGE = "kernel.memcpy.4096"


def gauge_note(changes: list[Change]) -> Optional[str]:
    """When the gauge is more than 20 % worse the machine itself was slower:
    what a reader of the comparison must know before blaming the code."""
    g = next((c for c in changes if c.key == GAUGE), None)
    if g is None or not g.worse:
        return None
    return (f"the machine itself was slower: a memcpy() of 4 KiB ran at {fmt(g.new)} "
            f"MB/s against {fmt(g.old)} (cost x{g.cost:.2f}); kernel figures flagged "
            "with it may be the machine's, not the code's: run both again")


def compare_md(changes: list[Change], only: list[str], old_path: Path) -> str:
    worse = [c for c in changes if c.worse]
    note = gauge_note(changes)
    lines = [f"# tgtsim bench --compare {old_path}", "",
             f"{len(changes)} figures compared (medians), {len(worse)} more than "
             f"{round((WORSE - 1) * 100)} % worse.", ""]
    if note:
        lines += [f"**Note:** {note}.", ""]
    lines += ["| figure | old | new | cost ratio | |", "| --- | --- | --- | --- | --- |"]
    for c in sorted(changes, key=lambda c: -c.cost):
        lines.append(f"| {c.label} (`{c.key}`) | {fmt(c.old)} {c.unit} | {fmt(c.new)} {c.unit} "
                     f"| {c.cost:.2f} | {'**worse**' if c.worse else ''} |")
    if only:
        lines += ["", "In one of the two only: " + ", ".join(f"`{k}`" for k in only)]
    return "\n".join(lines) + "\n"


# -- bench.md -----------------------------------------------------------------------

def fmt(v: Optional[float]) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def cell(f: Optional[Figure]) -> str:
    if f is None or not f.samples:
        return "-"
    return f"{fmt(f.median)} [{fmt(f.min)}-{fmt(f.max)}]"


def _stage_breakdown(figs: Figures) -> list[tuple[str, Optional[float]]]:
    """Where the time of a 4 KiB command goes, from the stage figures."""
    m = {s: (figs.get(f"kernel.stage.{s}").median  # type: ignore[union-attr]
             if figs.get(f"kernel.stage.{s}") else None) for s in STAGES}
    if any(v is None for v in m.values()):
        return []
    v: dict[str, float] = {k: x for k, x in m.items() if x is not None}
    lld = (v["lld_data"] - v["sg_map"]) + v["lld_response"]
    core = v["queue_command"] - lld
    return [
        ("bio_init() + bio_add_pc_page() + bio_uninit()", v["bio_add"]),
        ("blk_rq_append_bio() + blk_update_request()", v["rq_append"] - v["bio_add"]),
        ("sg_alloc_table_chained() + blk_rq_map_sg() + sg_free_table_chained() (inline "
         "entries, no allocation)", v["sg_map"] - v["rq_append"]),
        ("the rest of the core (its state, memset()s, calls, done)", core - v["sg_map"]),
        ("= the core's own time", core),
        ("sim_lld's transfer_data() without copy (checks, counters, completion)",
         v["lld_data"] - v["sg_map"]),
        ("sim_lld's transfer_response()", v["lld_response"]),
        ("= scsi_tgt_queue_command() through sim_lld, no copy", v["queue_command"]),
        ("not in a 4 KiB command: kmalloc_array() + kfree() of a bio_vec array (a command "
         "of more than 4 pages)", v["bvec_alloc"]),
    ]


def markdown(figs: Figures, data: Optional[KernelData], chk: list[Check],
             meta: dict[str, Any]) -> str:
    L: list[str] = [f"# tgtsim bench {meta.get('id', '')}", ""]
    L.append(f"{meta.get('when', '')}; {meta.get('reps', '?')} repetitions of every figure, "
             f"shown as median [min-max]; `tgtsim bench` took "
             f"{fmt(meta.get('duration_s'))} s. Absolute times depend on the machine and "
             f"its load: compare ratios.")
    if meta.get("load"):
        L.append(f"Load average when it started: {meta['load']}"
                 + (f"; when it ended: {meta['load_end']}." if meta.get("load_end") else "."))
    gauge = figs.get(GAUGE)
    if gauge is not None and gauge.samples:
        L.append(f"The machine's speed, to compare runs by: a memcpy() of 4 KiB ran at "
                 f"{cell(gauge)} MB/s; the figures in absolute time, and the core's "
                 "ratios to memcpy(), follow it.")
    if meta.get("errors"):
        L += ["", "**Errors:**", ""] + [f"- {e}" for e in meta["errors"]]
    L += ["", "## Acceptance limits (issue 21)", "", "| | limit | median | |",
          "| --- | --- | --- | --- |"]
    for c in chk:
        mark = {True: "ok", False: "**missed**", None: "not measured"}[c.ok]
        L.append(f"| {c.name} | {c.op} {fmt(c.limit)} | {fmt(c.value)} | {mark} |")
    harness = figs.group("harness")
    if harness:
        L += ["", "## What tgtsim costs", "", "| | median [min-max] | unit |",
              "| --- | --- | --- |"]
        L += [f"| {f.label} | {cell(f)} | {f.unit} |" for f in harness]
    steps = figs.group("make_steps")
    if steps:
        L += ["", "## Where the time of a warm no-change `make` goes", "",
              "The steps its run recorded (the two boots run side by side, so they "
              "overlap), and the time outside them.", "",
              "| step | s, median [min-max] |", "| --- | --- |"]
        L += [f"| {f.label.split(': ', 1)[-1]} | {cell(f)} |" for f in steps]
    cold = figs.group("bisect_cold")
    if cold:
        L += ["", "## Where the time of a `bisect-step` goes", "",
              "The steps each run recorded. The cold step clones the tree and checks it out, "
              "applies the series and builds in an empty build directory (ccache warm); "
              "the next one checks out a commit one later in place, applies the series "
              "again and rebuilds what changed."
              + (f" The clone and its build directory were {meta['bisect_scratch']}."
                 if meta.get("bisect_scratch") else ""), "",
              "| step | cold, s | next, s |", "| --- | --- | --- |"]
        for f in cold:
            nxt = figs.get(f.key.replace(".cold.", ".second.", 1))
            L.append(f"| {f.label.split(': ', 1)[-1]} | {cell(f)} | {cell(nxt)} |")
    if data is not None and figs.group("datapath"):
        L += _datapath_md(figs, data)
    core = figs.group("core") + figs.group("fit")
    if core:
        L += ["", "## The core's own cost (default limits, inline completion)", "",
              "| | median [min-max] | unit |", "| --- | --- | --- |"]
        L += [f"| {f.label} | {cell(f)} | {f.unit} |" for f in core]
    bd = _stage_breakdown(figs)
    if bd:
        L += ["", "## Where the time of a 4 KiB command goes (medians, ns)", "",
              "| | ns |", "| --- | --- |"]
        L += [f"| {name} | {fmt(ns)} |" for name, ns in bd]
    gp = figs.group("getput")
    if gp:
        L += ["", "## scsi_host_get_command() + scsi_host_put_command()", "",
              "| | pairs/s median [min-max] |", "| --- | --- |"]
        L += [f"| {f.label} | {cell(f)} |" for f in gp]
    if data is not None and data.skipped:
        wait = ("a timer interrupt per chunk" if data.settings.get("hres") == "1" else
                f"the next tick of {data.settings.get('hz', '?')} Hz per chunk")
        L += ["", f"Not timed in hrtimer mode ({wait}; more than "
              f"{data.settings.get('tick_chunks', '?')} chunks): "
              + ", ".join(sorted({f"{s['dir']} {s['lim']} copy={s['copy']} "
                                  f"{size_name(int(s['size']))} ({s['chunks']} chunks)"
                                  for s in data.skipped}))]
    return "\n".join(L) + "\n"


def _datapath_md(figs: Figures, data: KernelData) -> list[str]:
    L = ["", "## The data path: MB/s through scsi_tgt_queue_command() and sim_lld", "",
         "Limit sets: " + "; ".join(f"`{n}`: " + " ".join(f"{k}={v}" for k, v in lim.items())
                                    for n, lim in data.lims.items()) + ".", ""]
    for mode in MODES:
        if not any(figs.get(dp_key(d, lim, mode, c, s) + ".MBps")
                   for d in DIRS for lim in LIMS for c in (0, 1) for s in SIZES):
            continue
        L += [f"### {mode} completion", "",
              "| size | limits | chunks | memcpy | to | from | to, no copy | from, no copy "
              "| to, cmds/s |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for s in SIZES:
            for lim in LIMS:
                ch = data.chunks.get(dp_key("to", lim, mode, 1, s))
                row = [size_name(s), lim, fmt(ch) if ch is not None else "-",
                       cell(figs.get(f"kernel.memcpy.{s}")) if mode == "inline" else ""]
                row += [cell(figs.get(dp_key(d, lim, mode, c, s) + ".MBps"))
                        for c in (1, 0) for d in DIRS]
                row.append(cell(figs.get(dp_key("to", lim, mode, 1, s) + ".cmds")))
                L.append("| " + " | ".join(row) + " |")
        L.append("")
    return L


# -- the plot (gnuplot) ---------------------------------------------------------------

def plot_data(figs: Figures) -> tuple[str, list[bool]]:
    """One gnuplot data block per (mode, copy) panel and line: size, median,
    min, max of MB/s (direction `to`), and the memcpy line; and which
    blocks have data."""
    blocks, present = [], []
    for mode in MODES:
        for copy in (1, 0):
            for lim in LIMS:
                rows = []
                for s in SIZES:
                    f = figs.get(dp_key("to", lim, mode, copy, s) + ".MBps")
                    if f is not None and f.samples:
                        rows.append(f"{s} {f.median:.1f} {f.min:.1f} {f.max:.1f}")
                blocks.append(f"# {mode} {'copy' if copy else 'nocopy'} {lim}\n"
                              + ("\n".join(rows) if rows else "nan nan nan nan"))
                present.append(bool(rows))
    rows = [f"{s} {f.median:.1f} {f.min:.1f} {f.max:.1f}" for s in SIZES
            if (f := figs.get(f"kernel.memcpy.{s}")) is not None and f.samples]
    blocks.append("# memcpy\n" + ("\n".join(rows) if rows else "nan nan nan nan"))
    present.append(bool(rows))
    return "\n\n\n".join(blocks) + "\n", present


def plot_script(data_file: str, svg_file: str, present: list[bool]) -> str:
    """gnuplot: MB/s against command size, a panel per completion mode and
    copy/no copy, a line per limit set and the memcpy line; `present`:
    which data blocks have data (a panel without any is left empty)."""
    cmds = [
        'set terminal svg size 1500,900 dynamic noenhanced font "sans,11" background "white"',
        f'set output "{svg_file}"',
        'set multiplot layout 2,3 title "tgtsim bench: MB/s through scsi_tgt_queue_command()'
        ' and sim_lld (direction to), median with min-max, against a memcpy() of the same bytes"',
        "set logscale xy", "set grid", 'set format y "%g"', "set key bottom right font \",9\"",
        'set xtics ("4K" 4096, "64K" 65536, "1M" 1048576, "16M" 16777216)',
        'set xlabel "command size"', 'set ylabel "MB/s"', "set xrange [3000:22000000]",
    ]
    memcpy_index = len(MODES) * 2 * len(LIMS)
    for copy in (1, 0):
        for m, mode in enumerate(MODES):
            first = (m * 2 + (0 if copy else 1)) * len(LIMS)
            what = "sim_lld copies" if copy else "no copy (the core alone)"
            plots = [f'"{data_file}" index {first + i} using 1:2:3:4 with yerrorlines '
                     f'title "{lim} limits"' for i, lim in enumerate(LIMS)
                     if present[first + i]]
            if not plots:
                cmds.append("set multiplot next")
                continue
            if present[memcpy_index]:
                plots.append(f'"{data_file}" index {memcpy_index} using 1:2 with lines dt 2 '
                             f'lw 2 lc rgb "black" title "memcpy"')
            note = ", each chunk waits for a timer interrupt" if mode == "hrtimer" else ""
            cmds += [f'set title "{mode}, {what}{note}"', "plot " + ", ".join(plots)]
    cmds.append("unset multiplot")
    return "\n".join(cmds) + "\n"
