"""`python -m bench.perf [device=cpu|cuda|auto] [options]` (see bench/perf/cli.py)."""

import sys

from bench.perf.cli import main

if __name__ == "__main__":
    sys.exit(main())
