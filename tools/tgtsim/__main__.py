"""Entry point: ``python3 -m tgtsim``.

The Python modules of Debian packages that tgtsim imports are checked first
(deps.py imports none of them): on a fresh machine `tgtsim deps --install`
and the main job install them, any other command says how, instead of an
ImportError.

The signal handlers come first of all (procs.install_signal_handlers): a
SIGTERM or Ctrl-C while the modules load is exit 143/130 and one line,
never a traceback."""

import sys

from tgtsim.procs import install_signal_handlers, interrupted

install_signal_handlers()

from tgtsim.deps import ensure_modules  # noqa: E402
from tgtsim.errors import TgtsimError  # noqa: E402
from tgtsim.progress import Progress  # noqa: E402


def _main() -> int:
    try:
        ensure_modules(sys.argv[1:], Progress(sys.stderr))
    except TgtsimError as e:
        sys.stderr.write(f"tgtsim: error: {e.message}\n")
        return e.exit_code
    from tgtsim.cli import main  # (its imports exist now)
    return main(sys.argv[1:])


if __name__ == "__main__":
    try:
        rc = _main()
    except KeyboardInterrupt as e:    # before cli.main, or after it returned
        rc = interrupted(e)
    sys.exit(rc)
