"""Child processes in their own process group, with a watchdog.

Every child is started in a new session, so that on a timeout, a hang or
Ctrl-C the whole group (for UML: the kernel and its helper processes) is
killed and no orphan is left behind.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from tgtsim.errors import InfraError

_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
# the child exited but something it started still holds its output open:
# wait this long for the rest of the output, then kill the group
EXIT_GRACE = 5.0


def kill_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it after `grace`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # the leader is gone; make sure nothing else of the group survives
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return


def kill_all_children() -> None:
    """Called on KeyboardInterrupt: kill every group we started."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        kill_group(proc, grace=1.0)


class Background(threading.Thread):
    """A function run beside the caller; wait() returns after it ended and
    raises what it raised."""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__(daemon=False)
        self.fn = fn
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as e:    # handed to wait()
            self.error = e

    def wait(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """The caller is failing: kill every child process group (those the
        function started among them) and wait for the thread to end."""
        kill_all_children()
        self.join()


@dataclass
class Result:
    returncode: Optional[int]
    lines: list[str] = field(default_factory=list)
    timed_out: bool = False        # overall timeout
    idle_timed_out: bool = False   # no output for too long
    duration: float = 0.0

    @property
    def hung(self) -> bool:
        return self.timed_out or self.idle_timed_out


def run_watched(cmd: Sequence[str], *, cwd: Optional[Path] = None,
                env: Optional[Mapping[str, str]] = None,
                on_line: Optional[Callable[[str], None]] = None,
                log: Optional[Path] = None, timeout: Optional[float] = None,
                idle_timeout: Optional[float] = None,
                keep_lines: bool = True, stdin_pipe: bool = False) -> Result:
    """Run `cmd`, stdout+stderr merged, line by line.

    Each line is written to `log` (if given), passed to `on_line` and kept.
    The child is killed (whole process group) when `timeout` seconds have
    passed or no line came for `idle_timeout` seconds.
    """
    try:
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            start_new_session=True, text=True, errors="backslashreplace",
            bufsize=1)
    except OSError as e:
        raise InfraError(f"cannot run {cmd[0]}: {e.strerror or e}") from None
    with _LIVE_LOCK:
        _LIVE.add(proc)
    lines_q: "queue.Queue[Optional[str]]" = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines_q.put(line)
        lines_q.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = Result(returncode=None)
    start = time.monotonic()
    last = start
    exited: Optional[float] = None
    logf = None
    try:
        if log:
            logf = _open_log(log)
        while True:
            now = time.monotonic()
            wait = 0.5
            if timeout is not None and now - start > timeout:
                result.timed_out = True
                break
            if idle_timeout is not None and now - last > idle_timeout:
                result.idle_timed_out = True
                break
            try:
                item = lines_q.get(timeout=wait)
            except queue.Empty:
                if proc.poll() is not None:
                    exited = exited or time.monotonic()
                    if time.monotonic() - exited > EXIT_GRACE:
                        break   # orphans hold the pipe open; the group is killed below
                continue
            if item is None:
                break
            last = time.monotonic()
            if logf:
                _log_write(logf, log, item)
            if keep_lines:
                result.lines.append(item.rstrip("\n"))
            if on_line:
                on_line(item.rstrip("\n"))
        if result.hung:
            kill_group(proc)
        else:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_group(proc)
            # helpers of the child may outlive it: clean the group up
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        result.returncode = proc.returncode
    except BaseException:
        kill_group(proc, grace=1.0)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
        thread.join(timeout=2)
        if logf:
            try:
                logf.close()
            except OSError:
                pass   # the write error, if any, was reported
    result.duration = time.monotonic() - start
    return result


def _open_log(log: Path):
    try:
        return open(log, "w", encoding="utf-8", errors="backslashreplace")
    except OSError as e:
        raise InfraError(f"cannot write {log}: {e.strerror or e}") from None


def _log_write(logf, log: Optional[Path], item: str) -> None:
    """A full disk while the child runs is an InfraError (the caller kills it)."""
    try:
        logf.write(item)
        logf.flush()
    except OSError as e:
        raise InfraError(f"cannot write {log}: {e.strerror or e}") from None


def run_quiet(cmd: Sequence[str], *, cwd: Optional[Path] = None,
              env: Optional[Mapping[str, str]] = None,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run a short command, capturing output. Raise InfraError on failure."""
    try:
        cp = subprocess.run(list(cmd), cwd=cwd, env=dict(env) if env else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True,
                            errors="backslashreplace")
    except OSError as e:
        raise InfraError(f"cannot run {cmd[0]}: {e.strerror or e}") from None
    if check and cp.returncode != 0:
        msg = (cp.stderr or cp.stdout).strip().splitlines()
        raise InfraError(f"{' '.join(cmd[:3])} failed: " + (msg[-1] if msg else f"exit {cp.returncode}"),
                         detail=(cp.stderr or cp.stdout))
    return cp
