"""The report of a sweep: collect runs, group and aggregate them, tables, plots, temperature curves, claims.

One job per module: `runs` (read a results folder, refusing foreign code), `grouping` (which runs
may be averaged), `figures` (which figures to show), `aggregate` (mean, std, n, budget),
`provenance` (which data by sha256), `tables`, `plots`, `temperature`, `claims` ("What this
shows"), `header` (command, commit, machine), `writer` (all files or none), `cli` (`main`).
"""

from bench.report.cli import main

__all__ = ["main"]
