"""Mean, sample standard deviation and n over seeds, per group, at the end and at the best validation NLL.

MLE overfits 10,000 sequences within a few epochs, so the figures at the end of a budget alone are
unfair to it: each run is also read at its evaluation with the lowest `nll_valid` (a fresh oracle
sample, never the test set), which is model selection without the test set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.evaluation.catalogue import SELECTION, best_evaluation
from bench.report.grouping import Group
from bench.report.runs import RunResult

BUDGET = ("steps", "wall_s", "train_s", "train_cpu_s", "sequences")
"""The budget columns: training steps; wall-clock seconds with evaluations, and of training steps alone;
process CPU seconds of training steps; sequences generated in training. (Runs made before the
training clocks existed have only `wall_s`.)"""
SELECTIONS = ("end", "best nll_valid")
PRETRAINING_PHASES = ("pretrain_g", "pretrain_d")
"""Phases of a phased algorithm (SeqGAN) before its own update rule runs: G is still the MLE model."""
BEFORE_ADVERSARIAL = "before_adversarial"
"""Per run: 1.0 when the selected evaluation precedes every adversarial step (the model is SeqGAN's MLE
pretraining), 0.0 after one, NaN for an algorithm without those phases. Averaged over seeds it is the
share of runs whose "best nll_valid" model is their pretrained generator."""


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def run_figures(run: RunResult, selection: str) -> dict[str, float] | None:
    """The run's figures and budget at the end, or at its best `nll_valid` evaluation (None without one)."""
    history = run.history()
    if selection == "end":
        row = {**history.iloc[-1].to_dict(), **run.final} if len(history) else dict(run.final)
        if run.wall_s is not None:
            row["wall_s"] = run.wall_s
    else:
        best = best_valid_row(history)
        if best is None:
            return None
        row = best.to_dict()
    figures = {key: _number(value) for key, value in row.items()}
    figures[BEFORE_ADVERSARIAL] = before_adversarial(history, row.get("phase"))
    figures["steps"] = figures.get("step", math.nan)
    figures["sequences"] = figures.get("sequences_generated", math.nan)
    return figures


def best_valid_row(history: pd.DataFrame) -> pd.Series | None:
    """The evaluation the one selection rule picks (`best_evaluation`: lowest `nll_valid`, first of equals)."""
    if SELECTION not in history:
        return None
    best = best_evaluation(history[SELECTION].tolist())
    return None if best is None else history.iloc[best]


def before_adversarial(history: pd.DataFrame, phase: Any) -> float:
    """1.0 / 0.0 for a run with an adversarial phase (selected row before / in it), NaN otherwise."""
    if "phase" not in history or not (history["phase"] == "adversarial").any():
        return math.nan
    return 1.0 if phase in PRETRAINING_PHASES else 0.0


def per_run(groups: dict[Group, list[RunResult]], figures: Sequence[str]) -> pd.DataFrame:
    """One row per run and selection (end, best nll_valid): its own figures and budget, before averaging."""
    rows = []
    for group, runs in groups.items():
        for run in runs:
            for selection in SELECTIONS:
                values = run_figures(run, selection)
                if values is not None:
                    row = {"dataset": group.dataset, "algorithm": group.algorithm, "group": group.label}
                    row |= {"seed": run.seed, "selection": selection, "path": str(run.path)}
                    columns = (*BUDGET, BEFORE_ADVERSARIAL, *figures)
                    rows.append(row | {name: values.get(name, math.nan) for name in columns})
    return pd.DataFrame(rows)


def summarise(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample std (ddof 1; NaN for one value) and n of the finite values."""
    series = pd.Series(values, dtype=float).dropna()
    n = len(series)
    with np.errstate(invalid="ignore"):  # an infinite figure (a diverged run) has no finite spread
        return (series.mean() if n else math.nan, series.std(ddof=1) if n > 1 else math.nan, n)


def aggregate(groups: dict[Group, list[RunResult]], figures: Sequence[str]) -> pd.DataFrame:
    """One row per group and selection: n runs, budget means, and mean/std/n of every figure."""
    rows = []
    for group, runs in groups.items():
        for selection in SELECTIONS:
            per_run = [run_figures(run, selection) for run in runs]
            per_run = [figures_ for figures_ in per_run if figures_ is not None]
            if not per_run:
                continue
            row: dict[str, Any] = {
                "dataset": group.dataset,
                "algorithm": group.algorithm,
                "group": group.label,
                "selection": selection,
                "n": len(per_run),
            }
            for name in (*BUDGET, BEFORE_ADVERSARIAL, *figures):
                mean, std, n = summarise([values.get(name, math.nan) for values in per_run])
                row |= {f"{name}_mean": mean, f"{name}_std": std, f"{name}_n": n}
            rows.append(row)
    return pd.DataFrame(rows)
