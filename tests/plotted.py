"""What a report's plot shows, read off the matplotlib Figure it builds: panels, their curves and legends.

Tests compare these numbers with the runs' histories, so a plot is checked by its data, not its file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Panel:
    """One axis: its labels, each labelled curve's (x, y) points, and each filled band's y-range."""

    xlabel: str
    ylabel: str
    title: str
    curves: dict[str, tuple[list[float], list[float]]]
    bands: list[tuple[float, float]]
    legend: list[str]
    """The labels of this axis's own legend (none where the figure has one legend for all)."""


@dataclass(frozen=True)
class Plot:
    """One figure a report saved: its file stem, panels in reading order (rows, then columns), the grid's
    width in panels, and the figure-level legends."""

    stem: Path
    panels: list[Panel]
    columns: int
    legends: list[list[str]]

    def panel(self, ylabel: str) -> Panel:
        [found] = [panel for panel in self.panels if panel.ylabel == ylabel]
        return found


def _curves(axis: Axes) -> dict[str, tuple[list[float], list[float]]]:
    """Labelled lines and error-bar series (a label starting with `_` is matplotlib's: not a curve)."""
    curves = {
        line.get_label(): (np.asarray(line.get_xdata(), float).tolist(), np.asarray(line.get_ydata(), float).tolist())
        for line in axis.get_lines()
        if not line.get_label().startswith("_")
    }
    for container in axis.containers:
        data_line = container.lines[0]
        x, y = np.asarray(data_line.get_xdata(), float), np.asarray(data_line.get_ydata(), float)
        curves[container.get_label()] = (x.tolist(), y.tolist())
    return curves


def _bands(axis: Axes) -> list[tuple[float, float]]:
    ranges = []
    for collection in axis.collections:
        if isinstance(collection, PolyCollection) and collection.get_paths():
            vertices = np.concatenate([path.vertices for path in collection.get_paths()])
            ranges.append((float(vertices[:, 1].min()), float(vertices[:, 1].max())))
    return ranges


def read_plot(figure: Figure, stem: Path) -> Plot:
    """The data a figure shows."""
    cells = {axis: axis.get_subplotspec() for axis in figure.axes}
    axes = sorted(figure.axes, key=lambda axis: (cells[axis].rowspan.start, cells[axis].colspan.start))
    panels = [
        Panel(
            axis.get_xlabel(),
            axis.get_ylabel(),
            axis.get_title(),
            _curves(axis),
            _bands(axis),
            [text.get_text() for text in axis.get_legend().get_texts()] if axis.get_legend() else [],
        )
        for axis in axes
    ]
    columns = max(cells[axis].get_gridspec().ncols for axis in axes)
    legends = [[text.get_text() for text in legend.get_texts()] for legend in figure.legends]
    return Plot(stem, panels, columns, legends)
