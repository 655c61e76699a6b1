"""Entry point: ``python3 -m tgtsim`` (tools/bin/tgtsim runs it).

The Python modules of Debian packages that tgtsim imports are checked first
(deps.py imports none of them): on a fresh machine `tgtsim deps --install`
and the main job install them, any other command says how, instead of an
ImportError.

The signal handlers come first of all (procs.install_signal_handlers), which
also unblock SIGINT and SIGTERM if the launcher blocked them while the
interpreter started: a signal at any moment is exit 130/143 and one line,
never a traceback."""

import faulthandler
import signal
import sys

from tgtsim.procs import deferred_signals, install_signal_handlers, interrupted


def _main() -> int:
    # a signal while modules load is raised once they are loaded: inside an
    # import it could come out as another exception (a dataclass field's
    # __set_name__ turns it into a RuntimeError)
    with deferred_signals():
        from tgtsim.deps import ensure_modules
        from tgtsim.errors import TgtsimError
        from tgtsim.progress import Progress
    try:
        ensure_modules(sys.argv[1:], Progress(sys.stderr))
    except TgtsimError as e:
        sys.stderr.write(f"tgtsim: error: {e.message}\n")
        # bisect-step: the tool's failure aborts `git bisect run` (128)
        return 128 if "bisect-step" in sys.argv[1:] else e.exit_code
    with deferred_signals():
        from tgtsim.cli import main  # (its imports exist now)
    return main(sys.argv[1:])


if __name__ == "__main__":
    # `kill -USR1 PID` prints where every thread of tgtsim is (a hang to debug)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        install_signal_handlers()     # a signal pending since start-up is raised here
        rc = _main()
    except KeyboardInterrupt as e:    # before cli.main, or after it returned
        rc = interrupted(e)
    sys.exit(rc)
