"""`python -m bench.data fetch coco|emnlp_news|seqgan_oracle`: the command line of `bench.datasets.fetch`.

The fetch code lives with the datasets; this module keeps the documented command and its names.
"""

from __future__ import annotations

import sys

from bench.datasets.fetch import (
    BUNDLES,
    DATA_ENV,
    DEFAULT_DATA_ROOT,
    FetchError,
    RemoteFile,
    default_root,
    fetch,
    main,
    sha256_of,
)

__all__ = [
    "BUNDLES",
    "DATA_ENV",
    "DEFAULT_DATA_ROOT",
    "FetchError",
    "RemoteFile",
    "default_root",
    "fetch",
    "main",
    "sha256_of",
]

if __name__ == "__main__":
    sys.exit(main())
