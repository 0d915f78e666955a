"""The report's figures: learning curves (against step and wall-clock), prefix-JSD curves, the CoT JSD figure.

Every curve is the mean over seeds with a ±std band, one colour per algorithm choice everywhere.
Saturated JSD figures never reach these plots (bench/report/figures.py leaves them out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from bench.evaluation.catalogue import HEADLINE, axis_label
from bench.report.grouping import Group
from bench.report.runs import RunResult

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

COLOURS = {"mle": "#1f77b4", "seqgan": "#d62728", "cot": "#2ca02c", "nested_cot": "#ff7f0e"}
_EXTRA = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
GRID_COLUMNS = 4
"""Learning-curve panels to a row: a grid readable at a glance, however many figures a dataset has."""
COT_CURVES = {
    "jsd": "true JSD(P, G)",
    "jsd_stepwise_bound": "stepwise bound (per-token mixture)",
    "jsd_mediator_bound": "mediator bound ½KL(P‖M) + ½KL(G‖M)",
}


def colour(name: str) -> str:
    return COLOURS.get(name, _EXTRA[sum(map(ord, name)) % len(_EXTRA)])


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """PNG and PDF without timestamps, so the same data give the same files."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)
    return paths


def _band(axis: plt.Axes, curves: pd.DataFrame, name: str, label: str, linestyle: str = "-") -> None:
    with np.errstate(invalid="ignore"):  # an infinite value (a diverged run) has no finite spread
        mean, std = curves.mean(axis=1), curves.std(axis=1, ddof=1).fillna(0.0)
    axis.plot(mean.index, mean.values, color=colour(name), label=label, linestyle=linestyle)
    axis.fill_between(mean.index, mean - std, mean + std, color=colour(name), alpha=0.2, linewidth=0)


def _curves(runs: Sequence[RunResult], x: str, y: str) -> pd.DataFrame:
    """One column per run: `y` indexed by `x` (runs evaluated at different x are aligned by pandas)."""
    columns = [h.set_index(x)[y] for h in (run.history() for run in runs) if x in h and y in h]
    return pd.concat(columns, axis=1).sort_index().interpolate(limit_area="inside") if columns else pd.DataFrame()


def headline_first(figures: Sequence[str]) -> list[str]:
    """The headline figures (the catalogue's `HEADLINE`), then the rest, each part in the given order."""
    return [name for name in figures if name in HEADLINE] + [name for name in figures if name not in HEADLINE]


def curve_clock(groups: dict[Group, list[RunResult]]) -> tuple[str, str]:
    """The wall-clock column every run records and its axis label: the training clock (compute-matched),
    else wall-clock with evaluations for runs made before the training clock was recorded."""
    members = [run for runs in groups.values() for run in runs]
    if all("train_s" in run.history() for run in members):
        return "train_s", "training wall-clock (s)"
    return "wall_s", "wall-clock with evaluations (s)"


def learning_curve_figure(
    groups: dict[Group, list[RunResult]], figures: Sequence[str], x: str, xlabel: str
) -> plt.Figure:
    """One panel per figure (headline figures first) against the history column `x`, at most
    `GRID_COLUMNS` panels to a row, one legend for the whole grid."""
    names = headline_first(figures)
    columns = min(GRID_COLUMNS, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.2 * rows), squeeze=False, layout="constrained")
    panels = axes.flatten()
    for axis in panels[len(names) :]:
        axis.remove()  # a last row that is not full
    for axis, name in zip(panels, names, strict=False):
        for group, runs in groups.items():
            curves = _curves(runs, x, name)
            if not curves.empty:
                _band(axis, curves, group.algorithm, f"{group.label} (n = {curves.shape[1]})")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(axis_label(name))
        axis.grid(alpha=0.3)
    legend = {}
    for axis in panels[: len(names)]:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if legend:
        figure.legend(legend.values(), legend.keys(), loc="outside upper center", ncols=min(len(legend), 4))
    return figure


def plot_learning_curves(groups: dict[Group, list[RunResult]], figures: Sequence[str], stem: Path) -> list[Path]:
    """Each figure against step (`stem`) and against wall-clock (`stem`_wall_clock, compute-matched)."""
    if not figures or not groups:
        return []
    clock, clock_label = curve_clock(groups)
    by_step = learning_curve_figure(groups, figures, "step", "step (each algorithm's own unit)")
    by_clock = learning_curve_figure(groups, figures, clock, clock_label)
    return save_figure(by_step, stem) + save_figure(by_clock, stem.with_name(f"{stem.name}_wall_clock"))


def final_prefix_curves(runs: Sequence[RunResult]) -> pd.DataFrame:
    """One column per run: J_t at the run's last evaluation, indexed by t."""
    columns = []
    for run in runs:
        table = run.prefix_jsd()
        if table is not None and len(table):
            last = table[table["step"] == table["step"].max()]
            columns.append(last.set_index("t")["jsd"])
    return pd.concat(columns, axis=1).sort_index() if columns else pd.DataFrame()


def plot_prefix_jsd(groups: dict[Group, list[RunResult]], stem: Path) -> list[Path]:
    """The final J_t = JSD(P_{1:t} ‖ G_{1:t}) against t, mean ± std over seeds per algorithm."""
    curves = {group: final_prefix_curves(runs) for group, runs in groups.items()}
    curves = {group: table for group, table in curves.items() if not table.empty}
    if not curves:
        return []
    figure, axis = plt.subplots(figsize=(5.5, 4.0))
    for group, table in curves.items():
        _band(axis, table, group.algorithm, f"{group.label} (n = {table.shape[1]})")
    axis.set_xlabel("prefix length t")
    axis.set_ylabel("J_t = JSD(P_{1:t} ‖ G_{1:t}) (nats)")
    axis.set_title("prefix JSD at the end of training")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    return save_figure(figure, stem)


def plot_cot_jsd(groups: dict[Group, list[RunResult]], shown: Sequence[str], stem: Path) -> list[Path]:
    """Per CoT variant: true JSD, stepwise bound and mediator bound against step (the CoT paper's JSD figure)."""
    cot_groups = {
        group: runs
        for group, runs in groups.items()
        if "jsd" in shown and any("jsd_mediator_bound" in run.history() for run in runs)
    }
    if not cot_groups:
        return []
    figure, axes = plt.subplots(1, len(cot_groups), figsize=(5.5 * len(cot_groups), 4.0), squeeze=False)
    styles = dict(zip(COT_CURVES, ("-", "--", ":"), strict=True))
    for axis, (group, runs) in zip(axes[0], cot_groups.items(), strict=True):
        for name, label in COT_CURVES.items():
            curves = _curves(runs, "step", name)
            if not curves.empty:
                mean, std = curves.mean(axis=1), curves.std(axis=1, ddof=1).fillna(0.0)
                axis.plot(mean.index, mean.values, linestyle=styles[name], label=label)
                axis.fill_between(mean.index, mean - std, mean + std, alpha=0.15, linewidth=0)
        axis.set_title(f"{group.label} on {group.dataset} (n = {len(runs)})")
        axis.set_xlabel("step")
        axis.xaxis.set_major_locator(MaxNLocator(5))  # step labels like 40000 overlap at the default density
        axis.set_ylabel("nats")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return save_figure(figure, stem)
