import threading
import time
from pathlib import Path

import pytest

from conftest import gone
from tgtsim import procs
from tgtsim.errors import InfraError


def test_lines_and_log(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "log"
    r = procs.run_watched(["sh", "-c", "echo a; echo b >&2; exit 3"], log=log, on_line=seen.append)
    assert r.returncode == 3 and sorted(r.lines) == ["a", "b"] and sorted(seen) == ["a", "b"]
    assert sorted(log.read_text().split()) == ["a", "b"]
    assert not r.hung


def test_idle_timeout_kills_group(tmp_path: Path) -> None:
    pid = tmp_path / "pid"
    t0 = time.monotonic()
    r = procs.run_watched(["sh", "-c", f"echo go; sleep 100 & echo $! > {pid}; wait"],
                          idle_timeout=1.0)
    assert r.idle_timed_out and r.hung
    assert time.monotonic() - t0 < 10
    assert gone(int(pid.read_text()))


def test_overall_timeout() -> None:
    r = procs.run_watched(["sh", "-c", "while :; do echo x; sleep 0.05; done"], timeout=1.0)
    assert r.timed_out and not r.idle_timed_out


def test_term_ignored_gets_killed() -> None:
    r = procs.run_watched(["sh", "-c", "trap '' TERM; echo x; sleep 100"], idle_timeout=0.5)
    assert r.hung and r.returncode is not None


def test_missing_program() -> None:
    with pytest.raises(InfraError, match="cannot run"):
        procs.run_watched(["/nonexistent/prog"])


def test_run_quiet() -> None:
    assert procs.run_quiet(["true"]).returncode == 0
    with pytest.raises(InfraError, match="boom"):
        procs.run_quiet(["sh", "-c", "echo boom >&2; exit 1"])


def test_signal_deferred_while_a_child_starts() -> None:
    """A signal between starting a child and registering it is raised once
    the child is registered; a second signal is ignored (the cleanup of the
    first must not be cut short); SIGTERM is Terminated (exit 143)."""
    import os
    import signal
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # whatever this process inherited (a background job ignores SIGINT)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        procs.install_signal_handlers()
        with pytest.raises(KeyboardInterrupt):
            with procs.deferred_signals():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)          # the handler ran: only noted
                noted = True
        assert noted
        os.kill(os.getpid(), signal.SIGTERM)    # after the first: ignored
        time.sleep(0.05)
        procs.install_signal_handlers()         # a new command
        with pytest.raises(procs.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert procs.interrupted(procs.Terminated()) == 143
        assert procs.stopping()
        with pytest.raises(procs.Stopping):     # no child starts any more
            procs.run_watched(["true"])
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
        procs._STOPPING.clear()
        procs._FIRED[0] = False


def test_interrupted_waits_for_background_threads(capfd) -> None:
    """A step beside the main one (genhtml beside the Cobertura file) that
    the interrupt ends prints its last line before `tgtsim: interrupted`."""
    import sys
    started = threading.Event()

    def step() -> None:
        try:
            procs.run_watched(["sh", "-c", "echo up; exec sleep 30"],
                              on_line=lambda _l: started.set())
        finally:
            time.sleep(0.2)             # a slow end: without the wait it would print last
            sys.stderr.write("step: FAILED\n")

    bg = procs.Background(step)
    bg.start()
    try:
        assert started.wait(10)
        t0 = time.monotonic()
        assert procs.interrupted(KeyboardInterrupt()) == 130
        assert time.monotonic() - t0 < 5
        assert not bg.is_alive()
        err = capfd.readouterr().err
        assert err.index("step: FAILED") < err.index("tgtsim: interrupted")
    finally:
        bg.join(10)
        procs._STOPPING.clear()
        procs._FIRED[0] = False


def test_run_watched_stdout_to_a_file(tmp_path: Path) -> None:
    res = procs.run_watched(["sh", "-c", "echo out; echo err >&2; exit 3"],
                            stdout=tmp_path / "o")
    assert (tmp_path / "o").read_text() == "out\n"
    assert (res.returncode, res.lines) == (3, ["err"])
    with pytest.raises(InfraError, match="cannot write .*nodir/o"):
        procs.run_watched(["true"], stdout=tmp_path / "nodir/o")


def test_a_signal_inside_a_weakref_callback_is_sent_again(monkeypatch) -> None:
    """Python drops an exception raised in a weakref callback (printing
    "Exception ignored"): the handler asks for the signal again instead."""
    import signal
    sent: list[int] = []
    monkeypatch.setattr(procs, "_resend", sent.append)
    ns: dict = {}
    exec(compile("import sys\nframe = sys._getframe()", "/usr/lib/python3.11/_weakrefset.py",
                 "exec"), ns)
    try:
        procs._on_signal(signal.SIGINT, ns["frame"])      # does not raise
        assert sent == [signal.SIGINT] and not procs._FIRED[0]
        with pytest.raises(KeyboardInterrupt):               # an ordinary frame
            procs._on_signal(signal.SIGINT, sys_frame())
        assert procs._FIRED[0]
    finally:
        procs._FIRED[0] = False


def sys_frame() -> object:
    import sys
    return sys._getframe()


def test_an_interrupted_wait_still_waits_for_the_function() -> None:
    """A signal that interrupts wait() leaves the function running; abandon()
    then waits for its end. (Python 3.11's join(), interrupted the same way,
    marks the running thread stopped: join() and is_alive() would lie.)"""
    import os
    import signal

    def on_usr1(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt()

    release, ended = threading.Event(), []

    def fn() -> None:
        release.wait(10)
        time.sleep(0.2)
        ended.append("end")

    old = signal.signal(signal.SIGUSR1, on_usr1)
    bg = procs.Background(fn)
    bg.start()
    try:
        with pytest.raises(KeyboardInterrupt):   # wherever in the block it lands
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            bg.wait()
        assert not bg.ended(0) and not ended
        release.set()
        bg.abandon()
        assert ended == ["end"] and bg.ended(0)
    finally:
        release.set()
        signal.signal(signal.SIGUSR1, old)
        bg.ended(10)
        procs._STOPPING.clear()
