"""Entry point: ``python3 -m tgtsim``.

The Python modules of Debian packages that tgtsim imports are checked first
(deps.py imports none of them): on a fresh machine `tgtsim deps --install`
and the main job install them, any other command says how, instead of an
ImportError."""

import sys

from tgtsim.deps import ensure_modules
from tgtsim.errors import TgtsimError
from tgtsim.progress import Progress

if __name__ == "__main__":
    try:
        ensure_modules(sys.argv[1:], Progress(sys.stderr))
    except TgtsimError as e:
        sys.stderr.write(f"tgtsim: error: {e.message}\n")
        # bisect-step: the tool's failure aborts `git bisect run` (128)
        sys.exit(128 if "bisect-step" in sys.argv[1:] else e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("\ntgtsim: interrupted\n")
        sys.exit(130)
    from tgtsim.cli import main  # noqa: E402  (its imports exist now)
    sys.exit(main(sys.argv[1:]))
