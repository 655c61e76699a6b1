"""Child processes in their own process group, with a watchdog; signals.

Every child is started in a new session, so that on a timeout, a hang or
Ctrl-C the whole group (for UML: the kernel and its helper processes) is
killed and no orphan is left behind.

Signals (install_signal_handlers(), called by the CLI): SIGTERM always ends
tgtsim like Ctrl-C (exit 143 instead of 130). SIGINT does so only if tgtsim
did not inherit it ignored: a background job (`cmd &`, nohup, some CI
runners) starts with SIGINT ignored, and by the Unix convention it keeps
ignoring it (a Ctrl-C meant for the foreground job must not stop it).
Between starting a child and registering it for the cleanup, the handler
only notes a signal (deferred_signals()), so an interrupt never leaves an
unregistered child behind; once the cleanup began, no child starts.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from tgtsim.errors import EXIT_INTERRUPTED, InfraError

_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
# set by kill_all_children(): the command is being interrupted, so no new
# child may start (a thread beside the main one could otherwise start one
# just after the groups were killed, and keep tgtsim alive for minutes)
_STOPPING = threading.Event()
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


class Stopping(KeyboardInterrupt):
    """A child was to start after the command was interrupted."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job): cleaned up like Ctrl-C."""


_DEFER = [0]                 # depth of deferred_signals() in the main thread
_PENDING: list[int] = []     # signals noted while deferred
_FIRED = [False]             # one signal was raised: later ones are ignored


def _raise_for(signum: int) -> None:
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


# code in which Python ignores an exception ("Exception ignored in ...", a
# traceback on stderr): weakref callbacks (threading's WeakSet of threads
# runs one whenever a Thread object is freed) and finalizers
_UNSAFE_FILES = ("_weakrefset.py", "weakref.py")
RESEND_DELAY = 0.02


def _unsafe(frame: object) -> bool:
    code = getattr(frame, "f_code", None)
    if code is None:
        return False
    return code.co_name == "__del__" or code.co_filename.endswith(_UNSAFE_FILES)


def _resend(signum: int) -> None:
    """The signal again in a moment (the handler runs at the next safe point)."""
    t = threading.Timer(RESEND_DELAY, os.kill, (os.getpid(), signum))
    t.daemon = True
    t.start()


def _on_signal(signum: int, frame: object) -> None:
    """Raise KeyboardInterrupt (SIGINT) or Terminated (SIGTERM), once per
    command: a second signal must not cut the cleanup of the first short
    (it takes about a second), nor turn into a traceback. Raised inside a
    weakref callback or finalizer, Python would print the exception and
    drop it: the signal is sent again instead, to be raised a moment later."""
    if _FIRED[0]:
        return
    if _DEFER[0] > 0:
        _PENDING.append(signum)
        return
    if _unsafe(frame):
        _resend(signum)
        return
    _FIRED[0] = True
    _raise_for(signum)


class deferred_signals:
    """In the main thread: SIGINT/SIGTERM that arrive inside the block are
    raised when it ends (Python runs signal handlers in the main thread only,
    so the other threads need nothing)."""

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            _DEFER[0] += 1

    def __exit__(self, *exc: object) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        _DEFER[0] -= 1
        if _DEFER[0] == 0 and _PENDING:
            signum = _PENDING[0]
            _PENDING.clear()
            if exc[0] is None and not _FIRED[0]:
                _FIRED[0] = True
                _raise_for(signum)


def install_signal_handlers() -> None:
    """SIGTERM always; SIGINT unless it was inherited ignored (see above).
    A new command: nothing is stopping (a signal noted but not yet raised
    stays noted)."""
    _STOPPING.clear()
    _FIRED[0] = False
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_signal)
    # tools/bin/tgtsim blocks them while the interpreter starts (a signal
    # then would end in Python's start-up, with a traceback): from now on
    # they are handled; one that came meanwhile is raised right here
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def kill_all_children() -> None:
    """Called on KeyboardInterrupt (and SIGTERM): from now on no child starts;
    kill every group we started. SIGTERM, then after half a second SIGKILL,
    go to all groups at once: the whole cleanup takes about a second."""
    with _LIVE_LOCK:
        _STOPPING.set()
        procs = list(_LIVE)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (0.5 if sig == signal.SIGTERM else 2.0)
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if sig == signal.SIGTERM and all(p.poll() is not None for p in procs):
            # the leaders are gone; make sure nothing else of their groups survives
            for proc in procs:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return


def interrupted(e: KeyboardInterrupt) -> int:
    """Ctrl-C or SIGTERM: no child starts any more, every process group we
    started is killed (about a second at most), one line; exit 130 or 143.
    A second signal during this cleanup is ignored (_on_signal)."""
    _FIRED[0] = True
    kill_all_children()
    with _LIVE_LOCK:
        threads = [t for t in _BACKGROUND if t is not threading.current_thread()]
    deadline = time.monotonic() + 3.0
    for t in threads:   # their children are gone: they end at once
        t.ended(timeout=max(0.0, deadline - time.monotonic()))
    term = isinstance(e, Terminated)
    try:
        sys.stderr.write(f"\ntgtsim: {'terminated' if term else 'interrupted'}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGTERM if term else EXIT_INTERRUPTED


def stopping() -> bool:
    """The command is being interrupted (kill_all_children() ran)."""
    return _STOPPING.is_set()


_BACKGROUND: "set[Background]" = set()   # the Background threads running


class Background(threading.Thread):
    """A function run beside the caller; wait() returns after it ended and
    raises what it raised. An interrupted command waits for the ones still
    running (interrupted()), so that nothing they print comes after its
    last line.

    The end is an Event of its own, not join()/is_alive(): Python 3.11's
    join(), interrupted by a signal handler's exception, marks a thread that
    is still running as stopped (bpo-45274), after which join() returns at
    once and is_alive() is False."""

    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__(daemon=False)
        self.fn = fn
        self.error: Optional[BaseException] = None
        self._ended = threading.Event()

    def start(self) -> None:
        with _LIVE_LOCK:
            _BACKGROUND.add(self)
        try:
            super().start()
        except BaseException:
            if self.ident is None:     # it never ran (an interrupt may come after it started)
                with _LIVE_LOCK:
                    _BACKGROUND.discard(self)
                self._ended.set()
            raise

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as e:    # handed to wait()
            self.error = e
        finally:
            with _LIVE_LOCK:
                _BACKGROUND.discard(self)
            self._ended.set()

    def ended(self, timeout: Optional[float] = None) -> bool:
        """Wait up to `timeout` seconds (None: until it happens) for the
        function to end; whether it has."""
        return self._ended.wait(timeout)

    def wait(self) -> None:
        self.ended()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """The caller is failing: kill every child process group (those the
        function started among them) and wait for the function to end; it
        can start no new child meanwhile. Unless the command is being
        interrupted (then nothing starts any more), children may start again
        after."""
        kill_all_children()
        self.ended()
        if not _FIRED[0]:
            _STOPPING.clear()


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
                keep_lines: bool = True, stdin_pipe: bool = False,
                stdout: Optional[Path] = None) -> Result:
    """Run `cmd`, stdout+stderr merged, line by line.

    Each line is written to `log` (if given), passed to `on_line` and kept.
    The child is killed (whole process group) when `timeout` seconds have
    passed or no line came for `idle_timeout` seconds. With `stdout`, the
    child's standard output goes to that file and only its stderr is read
    line by line.
    """
    with deferred_signals():
        if _STOPPING.is_set():
            raise Stopping()
        out_f = None
        if stdout is not None:
            try:
                out_f = open(stdout, "wb")
            except OSError as e:
                raise InfraError(f"cannot write {stdout}: {e.strerror or e}") from None
        try:
            proc = subprocess.Popen(
                list(cmd), cwd=cwd, env=dict(env) if env is not None else None,
                stdout=out_f if out_f is not None else subprocess.PIPE,
                stderr=subprocess.PIPE if out_f is not None else subprocess.STDOUT,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                start_new_session=True, text=True, errors="backslashreplace",
                bufsize=1)
        except OSError as e:
            raise InfraError(f"cannot run {cmd[0]}: {e.strerror or e}") from None
        finally:
            if out_f is not None:
                out_f.close()    # the child has its own descriptor
        with _LIVE_LOCK:
            late = _STOPPING.is_set()
            if not late:
                _LIVE.add(proc)
        if late:    # another thread began the cleanup meanwhile
            kill_group(proc, grace=0.5)
            raise Stopping()
    lines_q: "queue.Queue[Optional[str]]" = queue.Queue()

    stream = proc.stdout if stdout is None else proc.stderr

    def reader() -> None:
        assert stream is not None
        for line in stream:
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
        kill_group(proc, grace=0.5)
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
