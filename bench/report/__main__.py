"""`python -m bench.report SWEEP_DIR [options]` (see bench/report/cli.py)."""

import sys

from bench.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
