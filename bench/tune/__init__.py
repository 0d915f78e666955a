"""`python -m bench.tune experiment=NAME [overrides]`: an equal tuning budget for every algorithm, then
the tuned comparison. `plan.py` reads an experiment's `tuning` section and selects on validation NLL;
`driver.py` runs the two stages (its docstring says how)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (imported here so that reading a plan does not load Hydra's runner)."""
    from bench.tune.driver import main as drive

    return drive(argv)
