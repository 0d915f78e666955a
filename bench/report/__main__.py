"""`python -m bench.report SWEEP_DIR [options]` (see bench/report/cli.py).

`python -m` puts the working directory first on the import path, and a report is often made from
inside a sweep folder that came from elsewhere (`python -m bench.report .`): a `metrics/` or
`models/` folder planted there would be imported in place of the suite's own. So the working
directory is taken off the path before anything else is imported, unless it is the folder that
holds this very suite (a checkout, where its packages are the suite's).
"""

import os
import sys
from pathlib import Path


def _without_working_directory(path: list[str], suite_root: Path, cwd: Path) -> list[str]:
    """`path` without the entries naming the working directory ('' or its path), unless that is `suite_root`."""
    if cwd == suite_root:
        return path
    return [entry for entry in path if entry not in ("", ".") and Path(entry).resolve() != cwd]


sys.path[:] = _without_working_directory(sys.path, Path(__file__).resolve().parents[2], Path(os.getcwd()).resolve())

from bench.report.cli import main  # noqa: E402  (after the import path is safe)

if __name__ == "__main__":
    sys.exit(main())
