"""Tables of one dataset from pandas: numeric CSV, Markdown, and booktabs LaTeX with caption and label.

Our rows give mean ± sample std over seeds with n and the budget (steps, wall-clock with
evaluations, CPU time of the training steps alone, sequences generated); each algorithm's rows are
followed by the published figures measured on the same data, quoted as their authors gave them
("≈ 8.1") with the citation beside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.report import escape
from bench.report.aggregate import BEFORE_ADVERSARIAL, BUDGET
from bench.report.published import PublishedRow, comparable, family

OURS = "this suite"


def numeric_table(
    summary: pd.DataFrame, published: Sequence[PublishedRow], figures: Sequence[str], n_samples: int | None = None
) -> pd.DataFrame:
    """The CSV table: every number a number (mean, std, n per figure and budget); published rows beside,
    with `not_comparable` naming their figures that were computed on another number of samples than ours."""
    rows: list[dict[str, Any]] = []
    once = _PublishedOnce()
    for _, ours in summary.iterrows():
        row = {"dataset": ours["dataset"], "algorithm": ours["algorithm"], "group": ours["group"]}
        row |= {"selection": ours["selection"], "source": OURS}
        row |= {"citation": "", "approximate": "", "n": ours["n"]}
        for name in (*BUDGET, BEFORE_ADVERSARIAL, *figures):
            row |= {f"{name}_{part}": ours[f"{name}_{part}"] for part in ("mean", "std", "n")}
        rows.append(row)
        if ours["selection"] != "end":
            continue
        for entry in once.rows(ours, published, figures):
            row = {"dataset": ours["dataset"], "algorithm": entry.algorithm, "group": entry.algorithm}
            row["selection"] = "published"
            row |= {"source": entry.source, "citation": entry.citation}
            row["approximate"] = " ".join(sorted(entry.approximate))
            row["not_comparable"] = " ".join(_not_comparable(entry, figures, n_samples))
            row |= {f"{name}_mean": entry.figures.get(name, math.nan) for name in figures}
            rows.append(row)
    return pd.DataFrame(rows)


def _not_comparable(entry: PublishedRow, figures: Sequence[str], n_samples: int | None) -> list[str]:
    """The entry's figures that move with the number of samples and were computed on another number than ours."""
    return [name for name in figures if name in entry.figures and not comparable(entry, name, n_samples)]


def _published_for(algorithm: str, published: Sequence[PublishedRow], figures: Sequence[str]) -> list[PublishedRow]:
    """The published rows of the algorithm's family that share a figure with the table."""
    return [e for e in published if e.algorithm == family(algorithm) and any(f in e.figures for f in figures)]


class _PublishedOnce:
    """Published rows of a family go under the first of its groups in each dataset, not under every variant
    (`cot` and `cot_no_dropout` share CoT's published figures; repeating them would read as two sources)."""

    def __init__(self) -> None:
        self.shown: set[tuple[str, str]] = set()

    def rows(self, ours: pd.Series, published: Sequence[PublishedRow], figures: Sequence[str]) -> list[PublishedRow]:
        key = (str(ours["dataset"]), family(ours["algorithm"]))
        if key in self.shown:
            return []
        self.shown.add(key)
        return _published_for(ours["algorithm"], published, figures)


def _cell(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    return f"{mean:.{digits}f}" if std is None or math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def display_table(
    summary: pd.DataFrame, published: Sequence[PublishedRow], figures: Sequence[str], n_samples: int | None = None
) -> pd.DataFrame:
    """The human table (Markdown, LaTeX): cells "mean ± std", published figures as quoted; a published figure
    that moves with the number of samples and was computed on another number than ours is marked so."""
    rows = []
    once = _PublishedOnce()
    for _, ours in summary.iterrows():
        row = {"algorithm": ours["group"], "at": selection_label(ours), "source": f"{OURS} (n = {ours['n']})"}
        row["steps"] = _cell(ours["steps_mean"], math.nan, 0)
        row["wall-clock (s)"] = _cell(ours["wall_s_mean"], ours["wall_s_std"], 0)
        row["training CPU (s)"] = _cell(ours["train_cpu_s_mean"], ours["train_cpu_s_std"], 0)
        row["sequences"] = _cell(ours["sequences_mean"], math.nan, 0)
        row |= {name: _cell(ours[f"{name}_mean"], ours[f"{name}_std"]) for name in figures}
        rows.append(row)
        if ours["selection"] != "end":
            continue
        for entry in once.rows(ours, published, figures):
            note = f"; {entry.note}" if entry.note else ""
            row = {"algorithm": entry.algorithm, "at": "published", "source": f"{entry.citation}{note}"}
            row |= {"steps": "", "wall-clock (s)": "", "training CPU (s)": "", "sequences": ""}
            row |= {name: entry.cell(name) for name in figures}
            for name in _not_comparable(entry, figures, n_samples):
                row[name] += (
                    f" (on {entry.n_samples:,} samples: not comparable)"
                    if entry.n_samples
                    else " (sample count not stated: not comparable)"
                )
            rows.append(row)
    return pd.DataFrame(rows)


def selection_label(ours: pd.Series) -> str:
    """The row's selection, saying when the selected SeqGAN model is still its MLE pretraining."""
    share, n = ours.get(f"{BEFORE_ADVERSARIAL}_mean", math.nan), ours["n"]
    if not isinstance(share, float) or math.isnan(share) or share == 0:
        return ours["selection"]
    if share == 1:
        return f"{ours['selection']} (MLE pretraining: before any adversarial step)"
    return f"{ours['selection']} ({round(share * n)} of {n} runs before any adversarial step)"


def markdown(table: pd.DataFrame, cells_are_markdown: bool = False) -> str:
    """A Markdown table; every text cell and header escaped (shown, never applied as markup) unless the
    caller built the cells as Markdown itself (code spans of escaped names)."""
    if not cells_are_markdown:
        table = table.map(lambda value: escape.markdown(value) if isinstance(value, str) else value)
        table = table.rename(columns=escape.markdown)
    return table.to_markdown(index=False, disable_numparse=True) + "\n"  # cells as formatted ("1.0000")


def latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table (\\toprule, \\midrule, \\bottomrule) with its caption and label, every string escaped."""
    escaped = table.map(escape.latex).rename(columns=escape.latex)
    styler = escaped.style.hide(axis="index")
    return (
        styler.to_latex(
            hrules=True,
            caption=escape.latex(caption),
            label=escape.latex_label(label),
            position_float="centering",
            column_format="ll" + "l" + "r" * (len(table.columns) - 3),
        )
        + "\n"
    )
