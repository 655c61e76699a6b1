"""Inline SVG for the HTML pages (page.py, runindex.py): the picture of a
chunk sequence, a bar chart of step timings, small trend charts. Plain
strings, every text escaped; no script, no external resource."""

from __future__ import annotations

from html import escape
from typing import Optional, Sequence

from tgtsim.chunktrace import Chunk, Trace, human

FONT = "font-family='DejaVu Sans, Arial, sans-serif'"
BLUE, BLUE2 = "#3b6fb6", "#7ea6dc"
RED, RED_BG = "#d62728", "#fde2e1"
MODEL = "#e08a00"
GREY, TRACK, INK = "#888888", "#e8ecf2", "#222222"
GREEN = "#2e9b4a"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start",
          color: str = INK, weight: str = "normal") -> str:
    return (f"<text x='{_n(x)}' y='{_n(y)}' font-size='{size}' text-anchor='{anchor}' "
            f"fill='{color}' font-weight='{weight}' {FONT}>{escape(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (f"<rect x='{_n(x)}' y='{_n(y)}' width='{_n(max(w, 0.6))}' "
            f"height='{_n(max(h, 0.3))}' fill='{fill}' {extra}/>")


def _ticks(total: int) -> list[int]:
    """Axis positions: 0, the quarters and the end."""
    if total <= 0:
        return [0]
    return sorted({0, total // 4, total // 2, 3 * total // 4, total})


# -- the chunk sequence ---------------------------------------------------------

W = 780            # width of the picture
LEFT, RIGHT = 56, 150   # margins: chunk numbers, segment counts
PLOT_H = 300       # at most this high for the rows
DRAW_EACH = 160    # up to this many chunks each is drawn; above, runs as one polygon


def _groups(chunks: list[Chunk], bad: set[int]) -> list[list[Chunk]]:
    """Runs of chunks that can be drawn as one staircase: contiguous, of one
    length and segment count, all bad or all good."""
    out: list[list[Chunk]] = []
    for c in chunks:
        last = out[-1][-1] if out else None
        if last is not None and c.off == last.end and c.len == last.len and \
                c.nents == last.nents and (c.index in bad) == (last.index in bad):
            out[-1].append(c)
        else:
            out.append([c])
    return out


def chunks(trace: Trace, title: str = "") -> str:
    """The picture of a chunk sequence: one row per chunk (transfer_data()
    call) down the picture, its bar from its offset to its end along the
    command; the room max_sectors*512 left it as a light track behind it;
    the model's chunks, when they differ, as orange outlines in the lower
    half of each row; chunks that are wrong in red on a red row; the
    segment count against sg_tablesize on the right; the response as a
    diamond after the chunk it followed."""
    problems = trace.problems()
    bad = {i for i in problems if i >= 0}
    rows = max(len(trace.chunks), len(trace.model), 1)
    has_model = bool(trace.model)
    rh = min(22.0, PLOT_H / rows)
    top = 40
    plot_w = W - LEFT - RIGHT
    total = max(trace.len, max((c.end for c in trace.chunks), default=0),
                max((c.end for c in trace.model), default=0), 1)

    def x(off: float) -> float:
        return LEFT + plot_w * off / total

    def y(row: float) -> float:
        return top + row * rh

    zoom = _zoom_target(trace, problems)
    height = int(y(rows) + 52 + (ZOOM_H if zoom is not None else 0))
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chunks' width='{W}' "
           f"height='{height}' viewBox='0 0 {W} {height}' role='img' "
           f"aria-label='{escape(title or 'chunk sequence', quote=True)}'>",
           _rect(0, 0, W, height, "#ffffff")]
    # header: the limits, the legend
    lim = (f"max_sectors {trace.max_sectors} ({human(trace.max_bytes)}) · sg_tablesize "
           f"{trace.sg_tablesize} · max_segment_size {human(trace.max_segment_size)} · "
           f"dma_boundary 0x{trace.dma_boundary:x}")
    out.append(_text(LEFT, 14, lim, 11, color="#444"))
    lx = LEFT
    legend = [(BLUE, "chunk the LLD got"), (TRACK, "room max_sectors*512 left it"),
              (RED, "wrong chunk")]
    if has_model:
        legend.append((MODEL, "model (expected)"))
    for color, label in legend:
        if color == MODEL:
            out.append(f"<rect x='{lx}' y='21' width='14' height='9' fill='none' "
                       f"stroke='{MODEL}' stroke-width='2' stroke-dasharray='3 2'/>")
        else:
            out.append(_rect(lx, 21, 14, 9, color))
        out.append(_text(lx + 18, 30, label, 10, color="#444"))
        lx += 26 + 6 * len(label)
    # rows with a problem: a red band across the picture; when the rows are
    # too thin for that, a red mark left of the chunk numbers
    dense = len(trace.chunks) > DRAW_EACH
    for i in sorted(bad):
        if dense:
            out.append(_rect(4, y(i), 8, rh, RED))
        else:
            out.append(_rect(0, y(i), W, rh, RED_BG))
    # the end of the command
    out.append(f"<line x1='{_n(x(trace.len))}' y1='{top - 4}' x2='{_n(x(trace.len))}' "
               f"y2='{_n(y(rows) + 4)}' stroke='{GREY}' stroke-dasharray='4 3'/>")
    obs_h = rh * (0.55 if has_model else 0.8)
    pad = rh * 0.1
    if len(trace.chunks) <= DRAW_EACH:
        for c in trace.chunks:
            r = c.index
            room = min(c.off + trace.max_bytes, total)
            out.append(_rect(x(c.off), y(r) + pad, x(room) - x(c.off), obs_h, TRACK))
            color = RED if r in bad else (BLUE if r % 2 == 0 else BLUE2)
            tip = f"chunk {r}: off {c.off} len {c.len} nents {c.nents}"
            if r in bad:
                tip += " — " + "; ".join(problems[r])
            out.append(f"<g><title>{escape(tip)}</title>"
                       + _rect(x(c.off), y(r) + pad, max(x(c.end) - x(c.off), 3), obs_h,
                               color) + "</g>")
            if r in bad and rh >= 9:
                label = _short(trace, c, problems[r])
                width = 6 * len(label)
                ty = y(r) + pad + obs_h * 0.5 + 4
                if x(c.end) + 6 + width < W - RIGHT:          # right of the bar
                    out.append(_text(x(c.end) + 6, ty, label, 10, "start", RED, "bold"))
                elif x(c.off) - 6 - width > LEFT:             # left of it
                    out.append(_text(x(c.off) - 6, ty, label, 10, "end", RED, "bold"))
                else:                                         # on it
                    out.append(_text(max(x(c.off), LEFT) + 6, ty, label, 10, "start",
                                     "#ffffff", "bold"))
            if r in bad and c.off != (trace.chunks[r - 1].end if r else 0):
                # where it should have started: a red tick and arrow
                want = trace.chunks[r - 1].end if r else 0
                out.append(f"<line x1='{_n(x(want))}' y1='{_n(y(r))}' x2='{_n(x(want))}' "
                           f"y2='{_n(y(r) + rh)}' stroke='{RED}' stroke-width='2'/>")
    else:
        # too many rows for a bar each: each run of equal, contiguous chunks is
        # a thick line from its first chunk's start to its last chunk's end
        for g in _groups(trace.chunks, bad):
            a, b = g[0], g[-1]
            color = RED if a.index in bad else BLUE
            out.append(f"<line x1='{_n(x(a.off))}' y1='{_n(y(a.index) + rh / 2)}' "
                       f"x2='{_n(max(x(b.end), x(a.off) + 2))}' "
                       f"y2='{_n(y(b.index) + rh / 2)}' stroke='{color}' stroke-width='4' "
                       "stroke-linecap='round'/>")
    if has_model:
        my = pad + obs_h + rh * 0.05
        mh = rh * 0.3
        if len(trace.model) <= DRAW_EACH:
            for m in trace.model:
                out.append(f"<rect class='model' x='{_n(x(m.off))}' "
                           f"y='{_n(y(m.index) + my)}' "
                           f"width='{_n(max(x(m.end) - x(m.off), 0.6))}' "
                           f"height='{_n(max(mh, 0.3))}' fill='none' stroke='{MODEL}' "
                           f"stroke-width='{'1.5' if rh > 6 else '0.8'}'/>")
        else:
            for g in _groups(trace.model, set()):
                a, b = g[0], g[-1]
                out.append(f"<line class='model' x1='{_n(x(a.off))}' "
                           f"y1='{_n(y(a.index) + rh / 2)}' x2='{_n(x(b.end))}' "
                           f"y2='{_n(y(b.index) + rh / 2)}' stroke='{MODEL}' "
                           "stroke-width='1.5' stroke-dasharray='6 4'/>")
    # chunk numbers on the left, when there is room for them
    step = 1 if rh >= 11 else max(1, int(12 / rh) + 1)
    if rows <= 2000:
        for r in range(0, rows, step):
            out.append(_text(LEFT - 6, y(r) + min(rh, 14) * 0.8, f"#{r}", 10, "end",
                             RED if r in bad else GREY))
    # segments: nents against sg_tablesize, on the right
    sx = W - RIGHT + 14
    sw = 70.0
    out.append(_text(sx, top - 6, f"segments / {trace.sg_tablesize}", 10, color="#444"))
    out.append(f"<line x1='{_n(sx + sw)}' y1='{top - 2}' x2='{_n(sx + sw)}' "
               f"y2='{_n(y(rows) + 2)}' stroke='{GREY}' stroke-dasharray='2 2'/>")
    if len(trace.chunks) <= DRAW_EACH * 4:
        limit = max(trace.sg_tablesize, 1)
        for c in trace.chunks:
            w = sw * min(c.nents, limit * 1.25) / limit
            over = c.nents > trace.sg_tablesize
            out.append(_rect(sx, y(c.index) + pad, w, obs_h, RED if over else "#9aa9bd"))
            if rh >= 11:
                out.append(_text(sx + sw + 6, y(c.index) + rh * 0.75, str(c.nents), 10,
                                 color=RED if over else "#444"))
    # the response: a diamond after the chunk it came after
    for rsp in trace.resp:
        ry = y(min(rsp.after, rows)) + (2 if rsp.after >= rows else 0)
        cx = x(trace.len)
        early = rsp.after < len(trace.chunks)
        color = RED if early or rsp.res else GREEN
        out.append(f"<g><title>{escape(f'response after {rsp.after} chunks')}</title>"
                   f"<polygon fill='{color}' points='{_n(cx)},{_n(ry - 6)} {_n(cx + 6)},"
                   f"{_n(ry)} {_n(cx)},{_n(ry + 6)} {_n(cx - 6)},{_n(ry)}'/></g>")
        label = "response" + (f" ×{rsp.count}" if rsp.count > 1 else "") + \
            (f" (after chunk {rsp.after - 1})" if early else "")
        out.append(_text(cx - 10, ry + 4, label, 10, "end", color))
    if not trace.resp:
        missing = trace.ended and trace.err == 0 and trace.len > 0
        out.append(_text(x(trace.len), y(rows) + 40, "no response" + (
            "" if missing else f" (err {trace.err})"), 10, "end",
            RED if missing else GREY, "bold" if missing else "normal"))
    # axis: offsets in the command
    ay = y(rows) + 18
    out.append(f"<line x1='{LEFT}' y1='{_n(ay - 8)}' x2='{_n(LEFT + plot_w)}' "
               f"y2='{_n(ay - 8)}' stroke='{GREY}'/>")
    for t in _ticks(total):
        out.append(f"<line x1='{_n(x(t))}' y1='{_n(ay - 11)}' x2='{_n(x(t))}' "
                   f"y2='{_n(ay - 5)}' stroke='{GREY}'/>")
        anchor = "start" if t == 0 else "end" if t == total else "middle"
        out.append(_text(x(t), ay + 6, human(t), 10, anchor, "#444"))
    out.append(_text(LEFT + plot_w / 2, ay + 22, "offset in the command (bytes) →", 10,
                     "middle", GREY))
    if zoom is not None:
        out.append(_zoom(trace, zoom, ay + 34))
    out.append("</svg>")
    return "".join(out)


ZOOM_H = 118


def _short(trace: Trace, c: Chunk, problems: list[str]) -> str:
    """A few words for the label of a wrong chunk."""
    prev_end = trace.chunks[c.index - 1].end if c.index else 0
    if c.off < prev_end:
        return f"#{c.index} at {c.off}: overlaps by {prev_end - c.off} B"
    if c.off > prev_end:
        return f"#{c.index} at {c.off}: {c.off - prev_end} B gap"
    if c.len > trace.max_bytes:
        return f"#{c.index}: {human(c.len)} > max_sectors"
    if c.nents > trace.sg_tablesize:
        return f"#{c.index}: {c.nents} segments > sg_tablesize"
    if c.index < len(trace.model):
        m = trace.model[c.index]
        return f"#{c.index}: {c.len} B, model {m.len} B"
    return f"#{c.index}: " + problems[0][:40]


def _zoom_target(trace: Trace, problems: dict[int, list[str]]) -> Optional[tuple[int, int]]:
    """(chunk, where it should have started) of the first chunk that is off
    by too little to see at the scale of the whole command."""
    total = max(trace.len, 1)
    for i in sorted(k for k in problems if k >= 0):
        c = trace.chunks[i]
        want = trace.chunks[i - 1].end if i else 0
        if c.off == want and i < len(trace.model):
            want = trace.model[i].off
        if c.off != want and abs(c.off - want) * (W - LEFT - RIGHT) < 4 * total:
            return i, want
    return None


def _zoom(trace: Trace, target: tuple[int, int], top: float) -> str:
    """A magnified view of the bytes around a chunk that starts a little off:
    the chunk before it, the chunk, and the model's chunk, byte by byte."""
    i, want = target
    c = trace.chunks[i]
    d = max(6, 3 * abs(c.off - want))
    lo, hi = max(0, min(c.off, want) - d), max(c.off, want) + d
    pw = W - LEFT - RIGHT

    def x(off: float) -> float:
        return LEFT + pw * (min(max(off, lo), hi) - lo) / (hi - lo)

    out = [_rect(LEFT - 50, top - 4, W - LEFT - 20, ZOOM_H - 8, "#fbfbfd",
                 "stroke='#c9d2de'"),
           _text(LEFT - 44, top + 10, f"zoom on chunk {i}: bytes {lo} to {hi} of the command",
                 11, color=INK, weight="bold")]
    lanes: list[tuple[str, Optional[Chunk], str]] = []
    if i:
        lanes.append((f"#{i - 1}", trace.chunks[i - 1], BLUE2))
    lanes.append((f"#{i}", c, RED))
    if i < len(trace.model):
        lanes.append(("model", trace.model[i], MODEL))
    for k, (label, ch, color) in enumerate(lanes):
        yy = top + 20 + k * 18
        out.append(_text(LEFT - 6, yy + 11, label, 10, "end", color if color != BLUE2
                         else GREY))
        if ch is None or ch.end <= lo or ch.off >= hi:
            continue
        if color == MODEL:
            out.append(f"<rect x='{_n(x(ch.off))}' y='{_n(yy)}' "
                       f"width='{_n(max(x(ch.end) - x(ch.off), 1))}' height='13' "
                       f"fill='none' stroke='{MODEL}' stroke-width='2' "
                       "stroke-dasharray='4 2'/>")
        else:
            out.append(_rect(x(ch.off), yy, max(x(ch.end) - x(ch.off), 1), 13, color))
    # byte grid when it is fine enough, and the two positions that matter
    if hi - lo <= 80:
        for b in range(lo, hi + 1):
            out.append(f"<line x1='{_n(x(b))}' y1='{_n(top + 18)}' x2='{_n(x(b))}' "
                       f"y2='{_n(top + 20 + 18 * len(lanes))}' stroke='#e3e7ee' "
                       "stroke-width='0.6'/>")
    ay = top + 24 + 18 * len(lanes)
    for b, color in sorted({(want, GREEN), (c.off, RED)}):
        out.append(f"<line x1='{_n(x(b))}' y1='{_n(top + 18)}' x2='{_n(x(b))}' "
                   f"y2='{_n(ay)}' stroke='{color}' stroke-width='1.5'/>")
    out.append(_text(x(want), ay + 12, f"expected start {want}", 10,
                     "end" if want <= c.off else "start", GREEN))
    out.append(_text(x(c.off), ay + 12, f"actual start {c.off}", 10,
                     "start" if want <= c.off else "end", RED))
    return "".join(out)


# -- bar chart of steps -------------------------------------------------------

def steps(items: Sequence[tuple[str, float, float, bool]], width: int = 780) -> str:
    """Steps as bars on one time axis: (name, start s, seconds, ok); steps
    that ran side by side overlap in time."""
    if not items:
        return ""
    t0 = min(s for _n0, s, _d, _ok in items)
    t1 = max(s + d for _n0, s, d, _ok in items)
    span = max(t1 - t0, 0.001)
    left, right, bh = 190, 70, 16
    height = 24 + len(items) * (bh + 4) + 22
    pw = width - left - right
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='steps' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
           "aria-label='step timings'>"]
    for i, (name, start, dur, ok) in enumerate(items):
        yy = 10 + i * (bh + 4)
        xx = left + pw * (start - t0) / span
        out.append(_text(left - 8, yy + 12, name, 11, "end"))
        out.append(_rect(xx, yy, pw * dur / span, bh, BLUE if ok else RED))
        out.append(_text(min(xx + pw * dur / span + 4, width - right + 4), yy + 12,
                         _dur(dur) + ("" if ok else " failed"), 10, color="#444"))
    ay = 14 + len(items) * (bh + 4)
    out.append(f"<line x1='{left}' y1='{ay}' x2='{left + pw}' y2='{ay}' stroke='{GREY}'/>")
    for k in range(5):
        t = span * k / 4
        out.append(_text(left + pw * k / 4, ay + 14, _dur(t), 10,
                         "start" if k == 0 else "end" if k == 4 else "middle", "#444"))
    out.append("</svg>")
    return "".join(out)


def _dur(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


# -- trends -------------------------------------------------------------------

def trend(title: str, series: Sequence[tuple[str, str, Sequence[Optional[float]]]],
          labels: Sequence[str], unit: str = "", width: int = 320, height: int = 130,
          floor_zero: bool = True) -> str:
    """A small line chart over the runs (oldest left): series of
    (name, colour, values; None where a run has no value)."""
    vals = [v for _s, _c, vs in series for v in vs if v is not None]
    left, right, top, bottom = 44, 10, 22, 22
    pw, ph = width - left - right, height - top - bottom
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='trend' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
           f"aria-label='{escape(title, quote=True)}'>",
           _text(4, 14, title, 12, weight="bold")]
    n = len(labels)
    if not vals or n == 0:
        out.append(_text(width / 2, height / 2, "no data", 11, "middle", GREY))
        out.append("</svg>")
        return "".join(out)
    lo = 0.0 if floor_zero else min(vals)
    hi = max(vals)
    if hi == lo:
        hi = lo + (1 if lo == 0 else abs(lo) * 0.1)

    def px(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def py(v: float) -> float:
        return top + ph - ph * (v - lo) / (hi - lo)

    for v in (lo, hi):
        out.append(f"<line x1='{left}' y1='{_n(py(v))}' x2='{left + pw}' y2='{_n(py(v))}' "
                   f"stroke='#dddddd'/>")
        out.append(_text(left - 4, py(v) + 4, f"{v:g}{unit}", 10, "end", "#444"))
    lx = left + 60 + 6 * len(title)
    for name, color, values in series:
        pts = [(px(i), py(v)) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            out.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='"
                       + " ".join(f"{_n(a)},{_n(b)}" for a, b in pts) + "'/>")
        for (a, b), (i, v) in zip(pts, [(i, v) for i, v in enumerate(values)
                                        if v is not None]):
            out.append(f"<g><title>{escape(f'{labels[i]}: {name} {v:g}{unit}')}</title>"
                       f"<circle cx='{_n(a)}' cy='{_n(b)}' r='3' fill='{color}'/></g>")
        if len(series) > 1:
            out.append(_rect(lx, 6, 10, 8, color))
            out.append(_text(lx + 13, 14, name, 10, color="#444"))
            lx += 22 + 6 * len(name)
    out.append(_text(left, height - 6, "oldest", 10, "start", GREY))
    out.append(_text(left + pw, height - 6, "newest", 10, "end", GREY))
    out.append("</svg>")
    return "".join(out)
