"""`python -m bench.data fetch coco|emnlp_news|seqgan_oracle`: the command line of `bench.datasets.fetch`."""

from __future__ import annotations

import sys

from bench.datasets.fetch import main

if __name__ == "__main__":
    sys.exit(main())
