"""The table a finished sweep prints and writes beside `sweep_progress.log` (`sweep_summary.md`): per
algorithm and dataset (and the overrides that tell runs apart besides the seed), how many runs are
complete and the mean ± std of their headline figures; then every run that is missing or incomplete.

A Hydra callback (conf/config.yaml): the jobs the sweep expands to are known before the first starts
(`bench.training.preflight`), so a run that never wrote a metrics.json is listed as missing, not
forgotten. The table is written when the sweep ends, and by the command line when a sweep stops early
(a run failed, or a signal), so an unfinished sweep says what it lacks. It is a glance at the sweep,
not a report: `python -m bench.report <sweep folder>` checks, groups and compares.
"""

from __future__ import annotations

import math
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from bench.evaluation.catalogue import HEADLINE
from bench.files import atomic_write_text
from bench.training import preflight
from bench.training.records import read_metrics

SUMMARY_NAME = "sweep_summary.md"
_PENDING: list[SweepSummary] = []
"""The summary of the sweep this process runs, until it is written."""


def variant(folder: Path, sweep_dir: Path) -> tuple[str, str]:
    """(where the run sits without its seed, the overrides besides the seed) for a run folder:
    `mle/synthetic_tiny/seed1,algorithm.lr=0.1` -> (`mle/synthetic_tiny`, `algorithm.lr=0.1`)."""
    try:
        relative = folder.relative_to(sweep_dir)
    except ValueError:
        relative = folder
    parent, name = relative.parent.as_posix(), relative.name
    return parent, ",".join(part for part in name.split(",") if not re.fullmatch(r"seed\d+", part))


def _cell(values: Sequence[float]) -> str:
    if not values:
        return ""
    mean = statistics.fmean(values)
    return f"{mean:.4g}" if len(values) == 1 else f"{mean:.4g} ± {statistics.stdev(values):.2g}"


def summary_table(sweep_dir: Path, folders: Sequence[Path]) -> str:
    """The sweep's summary as Markdown: one row per group of runs that differ only in the seed."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    lacking: list[str] = []
    for folder in folders:
        metrics = read_metrics(folder)
        where = folder.relative_to(sweep_dir) if folder.is_relative_to(sweep_dir) else folder
        if metrics is None:
            lacking.append(f"- `{where}`: missing (no metrics.json)")
            continue
        status = str(metrics.get("status"))
        if status != "complete":
            reason = f": {metrics['reason']}" if metrics.get("reason") else ""
            lacking.append(f"- `{where}`: {status}{reason}")
        finals = metrics.get("final") if status == "complete" and isinstance(metrics.get("final"), dict) else None
        groups.setdefault(variant(folder, sweep_dir), []).extend([finals] if finals is not None else [])
    common = set.intersection(*(set(o.split(",")) for _, o in groups)) if groups else set()
    groups = {(w, ",".join(p for p in o.split(",") if p not in common)): runs for (w, o), runs in groups.items()}
    shown = [n for n in HEADLINE if any(n in f for runs in groups.values() for f in runs)]
    complete = sum(len(runs) for runs in groups.values())
    lines = [f"# Sweep summary: {sweep_dir.name}", ""]
    lines += [f"{len(folders)} runs: {complete} complete, {len(folders) - complete} missing or incomplete.", ""]
    lines.append("| runs | overrides | n | " + " | ".join(shown) + " |")
    lines.append("|---|---|---|" + "---|" * len(shown))
    for (where, overrides), runs in sorted(groups.items()):
        cells = [
            _cell([f[n] for f in runs if isinstance(f.get(n), int | float) and math.isfinite(f[n])]) for n in shown
        ]
        lines.append(f"| {where} | {overrides or '-'} | {len(runs)} | " + " | ".join(cells) + " |")
    if lacking:
        lines += ["", "Missing or incomplete (re-run the same command to resume them):", "", *lacking]
    return "\n".join(lines) + "\n"


class SweepSummary(Callback):
    """Writes and prints the sweep's summary when it ends (see the module's docstring)."""

    def __init__(self) -> None:
        self.sweep_dir: Path | None = None
        self.folders: list[Path] = []

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        self.folders = [Path(folder) for folder in preflight.JOB_FOLDERS]
        _PENDING[:] = [self]

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.write()

    def write(self) -> None:
        """Write `sweep_summary.md` and print it (once)."""
        if self in _PENDING:
            _PENDING.remove(self)
        if self.sweep_dir is None or not self.folders or not self.sweep_dir.is_dir():
            return
        table = summary_table(self.sweep_dir, self.folders)
        try:
            atomic_write_text(self.sweep_dir / SUMMARY_NAME, table)
        except OSError as error:
            print(f"{self.sweep_dir / SUMMARY_NAME}: not written ({error.strerror})", file=sys.stderr)
        try:
            print(table, end="", flush=True)
        except OSError:  # a closed stdout: the file holds it
            pass


def write_pending() -> None:
    """The summary of a sweep that stopped before its end (a run failed, a signal): what it lacks."""
    for summary in list(_PENDING):
        summary.write()
