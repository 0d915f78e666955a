"""The report of a sweep: collect runs, group and aggregate them, tables, plots, temperature curves, verdicts.

One job per module: `reading` (bounded, link-safe reads of the sweep's files), `runs` (read a
results folder, refusing foreign code), `grouping` (which runs may be averaged, sections per data
variant), `traceability` (the runs' code and machines), `figures` (which figures to show),
`aggregate` (mean, std, n, budget), `provenance` (which data by sha256), `tables`, `plots`,
`temperature`, `stats` (Welch's interval), `curves` (comparisons at matched diversity), `claims`
(published claims, their benchmarks and budgets), `verdicts`, `prose` ("What this shows"), `tuned`
(a tuned sweep's stages), `escape` (inert strings), `header`, `sections`, `writer` (all files or
none), `cli` (`main`).

Nothing is imported here: `python -m bench.report` first takes the working directory off the import
path (bench/report/__main__.py), and only then imports the modules that read results.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """`cotbench-report` / `python -m bench.report`: see bench/report/cli.py."""
    from bench.report.cli import main as report_main

    return report_main(argv)


__all__ = ["main"]
