"""Entry point: ``python3 -m tgtsim``."""

import sys

from tgtsim.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
