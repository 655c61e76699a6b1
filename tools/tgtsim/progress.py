"""Progress display: a live line on a terminal, timestamped lines otherwise.

Durations of each step are stored in build/timings.json so that the next run
can show an estimate.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def is_interactive(stream: IO[str]) -> bool:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Timings:
    """Durations of the previous run's steps, keyed by step name."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.data: dict[str, float] = {}
        # the steps of this process, in the order they ended: name, start
        # (epoch seconds), seconds, ok; a run records them (RunInfo.steps)
        self.session: list[dict[str, object]] = []
        self._lock = threading.Lock()    # steps may end in two threads at once
        if path is not None:
            try:
                self.data = {k: float(v) for k, v in
                             json.loads(path.read_text()).items()}
            except (OSError, ValueError, AttributeError):
                self.data = {}

    def get(self, step: str) -> Optional[float]:
        return self.data.get(step)

    def record(self, step: str, seconds: float) -> None:
        with self._lock:
            self._record(step, seconds)

    def note(self, step: str, start: float, seconds: float, ok: bool) -> None:
        """A step of this process ended (also a failed one)."""
        with self._lock:
            self.session.append({"name": step, "start": round(start, 2),
                                 "seconds": round(seconds, 2), "ok": ok})

    def _record(self, step: str, seconds: float) -> None:
        self.data[step] = round(seconds, 1)
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            tmp.replace(self.path)
        except OSError:
            pass  # timings are a nicety, never an error


class Progress:
    """Reports steps. Use ``with progress.step("build kunit"):``."""

    def __init__(self, stream: IO[str] = sys.stderr, timings: Optional[Timings] = None,
                 verbose: bool = False, live: Optional[bool] = None) -> None:
        self.stream = stream
        self.timings = timings or Timings(None)
        self.verbose = verbose
        self.live = is_interactive(stream) if live is None else live
        self.color = self.live and not os.environ.get("NO_COLOR")
        self._lock = threading.Lock()
        self._current: Optional[str] = None
        self._start = 0.0
        self._detail = ""
        self._line_shown = False

    # -- plain output ---------------------------------------------------
    def _stamp(self) -> str:
        return time.strftime("%H:%M:%S")

    def info(self, message: str) -> None:
        with self._lock:
            self._clear_line()
            self.stream.write(f"[{self._stamp()}] {message}\n")
            self.stream.flush()

    def output(self, line: str) -> None:
        """A line of child output, shown with -v."""
        if not self.verbose:
            return
        with self._lock:
            self._clear_line()
            self.stream.write(line if line.endswith("\n") else line + "\n")
            self.stream.flush()

    def detail(self, text: str) -> None:
        """Short live detail for the current step (e.g. last compiled file)."""
        self._detail = text

    def paint(self, text: str, color: str) -> str:
        codes = {"red": "1;31", "green": "1;32", "yellow": "1;33"}
        if not self.color or color not in codes:
            return text
        return f"\033[{codes[color]}m{text}\033[0m"

    # -- live line ------------------------------------------------------
    def _clear_line(self) -> None:
        if self.live and self._line_shown:
            self.stream.write("\r\033[K")
            self._line_shown = False

    def _render(self) -> None:
        if self._current is None:
            return
        elapsed = time.monotonic() - self._start
        est = self.timings.get(self._current)
        text = f"{self._current}: {fmt_duration(elapsed)}"
        if est:
            text += f" (last run {fmt_duration(est)})"
        if self._detail:
            text += f"  {self._detail}"
        width = 100
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns - 1
        except (OSError, ValueError, AttributeError):
            pass
        with self._lock:
            self.stream.write("\r\033[K" + text[:max(width, 20)])
            self.stream.flush()
            self._line_shown = True

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        est = self.timings.get(name)
        hint = f" (last run {fmt_duration(est)})" if est is not None else ""
        # the live line is the main thread's; a step in another thread runs
        # beside it and only prints plain lines
        main = threading.current_thread() is threading.main_thread()
        outer = (self._current, self._detail, self._start)   # steps nest
        start = time.monotonic()
        wall = time.time()
        if main:
            self._current, self._detail, self._start = name, "", start
        stop = threading.Event()
        ticker: Optional[threading.Thread] = None
        if main and self.live and not self.verbose:
            def tick() -> None:
                while not stop.wait(0.5):
                    self._render()
            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        else:
            self.info(f"{name}: started{'' if main else ' beside the main step'}{hint}")
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
            elapsed = time.monotonic() - start
            if main:
                self._current, self._detail, self._start = outer
            if ok:
                self.timings.record(name, elapsed)
            self.timings.note(name, wall, elapsed, ok)
            word = "done" if ok else "FAILED"
            self.info(f"{name}: {word} in {fmt_duration(elapsed)}")
