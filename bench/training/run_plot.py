"""A finished run's learning curves, drawn into its folder (`learning_curves.png`), so that there is
something to look at without a report: the generator's loss and the headline figures against step.

Drawn from the run's own history rows when it completes (again when a larger budget extends it).
A plot is a view of history.csv, never a record: a failure to draw it is a warning in the run's log,
never a failed run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.evaluation.catalogue import PROGRESS, axis_label
from bench.files import atomic_write_bytes

log = logging.getLogger(__name__)

COLUMNS = 3
"""Panels to a row."""


def plotted_figures(history: Sequence[dict[str, Any]]) -> list[str]:
    """The generator's loss and the headline figures that the run recorded, in the progress bar's order."""
    return [name for name in PROGRESS if any(_number(row.get(name)) for row in history)]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def learning_curves_figure(history: Sequence[dict[str, Any]], title: str) -> Any:
    """One panel per plotted figure against step, at most `COLUMNS` to a row; None when there is nothing."""
    names = plotted_figures(history)
    if not names:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(COLUMNS, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False)
    for axis in axes.flat[len(names) :]:
        axis.remove()
    for axis, name in zip(axes.flat, names, strict=False):
        points = [(row["step"], row[name]) for row in history if _number(row.get(name))]
        axis.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=2.5, linewidth=1.2, label=name)
        axis.set_xlabel("step")
        axis.set_ylabel(axis_label(name), fontsize=8)
        axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def write_plot(history: Sequence[dict[str, Any]], title: str, path: Path) -> None:
    """Draw the learning curves into `path` (PNG, written atomically); any failure is logged as a
    warning naming the file, and the run itself goes on."""
    try:
        figure = learning_curves_figure(history, title)
        if figure is None:
            return
        import matplotlib.pyplot as plt

        try:
            atomic_write_bytes(
                path, lambda stream: figure.savefig(stream, format="png", dpi=90, metadata={"Software": None})
            )
        finally:
            plt.close(figure)
    except Exception as error:  # a plot is a view: never the reason a run fails
        log.warning("%s not drawn (%s: %s)", path.name, type(error).__name__, str(error).strip()[:200])
