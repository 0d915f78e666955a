"""`python -m bench.tune`: see bench/tune/driver.py."""

import sys

from bench.tune import main

sys.exit(main())
