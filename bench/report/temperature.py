"""Temperature curves: every complete run's saved models re-evaluated over a grid of τ, no retraining.

Caccia et al. compare models over the whole quality-diversity curve that temperature traces
(docs/design.md §4): NLL_oracle against NLL_test on synthetic data, BLEU-5 against self-BLEU-5 on
text, and there also the LM score against the reverse-LM score where the runs recorded them. Each
run gives its final model (`model.pt`, selection "end") and, where it has a validation sample, the
model of its lowest `nll_valid` (`model_best_valid.pt`, selection "best nll_valid"): an MLE run past
its best is overfitted, and its final model alone would be an unfair curve. The dataset is rebuilt
from each run's saved config, and only when every `_target_` in it is the suite's own; a model file
that cannot be read, or whose step is not the history's best, skips that model with the reason listed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from bench.config.schema import EvalConfig
from bench.errors import BenchError
from bench.evaluation.catalogue import CURVE_AXES, LM_CURVE_AXES
from bench.evaluation.evaluator import Evaluator, saved_evaluation_parts
from bench.report.aggregate import before_adversarial, best_valid_row
from bench.report.plots import colour, save_figure
from bench.report.reading import check_file
from bench.report.runs import RunResult, check_targets
from bench.training.checkpoint import load_model, saved_model_step
from bench.training.records import BEST_VALID_MODEL, MODEL

DEFAULT_TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
END, BEST_VALID = "end", "best nll_valid"
"""The two selections of a run's model, as the tables name them."""


def best_valid_step(run: RunResult) -> int | None:
    """The step of the run's evaluation with the lowest `nll_valid` (first of equals), or None without one."""
    best = best_valid_row(run.history())
    return None if best is None else int(best["step"])


def model_before_adversarial(run: RunResult, selection: str) -> bool | None:
    """Whether the selected model precedes every adversarial step (SeqGAN's MLE pretraining); None when
    the run has no adversarial phase (the tables' `before_adversarial`, as a flag)."""
    history = run.history()
    row = history.iloc[-1] if selection == END else best_valid_row(history)
    flag = before_adversarial(history, None if row is None else row.get("phase"))
    return None if math.isnan(flag) else flag == 1.0


def _models(run: RunResult) -> tuple[list[tuple[str, Path]], list[tuple[str, str]], bool]:
    """(selection, file) of the run's models to sweep, lines for those left out, and whether the best
    model is the final one (its curve is then the final model's, not evaluated twice)."""
    models, skipped = [(END, run.path / MODEL)], []
    best = best_valid_step(run)
    if best is None:
        return models, skipped, False
    final_step = int(run.history()["step"].iloc[-1])
    if best == final_step:
        return models, skipped, True
    path = run.path / BEST_VALID_MODEL
    try:
        check_file(path, run.top, "model")
        saved = saved_model_step(path)
    except BenchError as error:
        skipped.append((str(run.path), f"{BEST_VALID_MODEL} left out of the temperature curves ({error})"))
        return models, skipped, False
    if saved != best:
        why = f"{BEST_VALID_MODEL} is from step {saved}, not the best nll_valid step {best}"
        skipped.append((str(run.path), f"{why}; left out of the temperature curves"))
        return models, skipped, False
    return models + [(BEST_VALID, path)], skipped, False


def temperature_table(
    runs: Sequence[RunResult],
    temperatures: Sequence[float],
    n_samples: int,
    device: torch.device,
    allowed: Sequence[str] = (),
    labels: dict[Path, str] | None = None,
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The figures of every complete run's models at each τ (column `selection`: end, best nll_valid),
    and one line per model skipped (with why).

    `labels` names each run's row group (its algorithm and group-by values); default: the algorithm.
    """
    labels = labels or {}
    rows, skipped, parts, evaluators = [], [], {}, {}
    complete = [run for run in runs if run.complete and os.path.lexists(run.path / MODEL)]
    for run in tqdm(complete, desc="temperature curves", disable=not complete):
        config = check_targets(run, allowed)
        key = OmegaConf.to_yaml(config.dataset)
        if key not in parts:
            parts[key] = saved_evaluation_parts(config.dataset, device)
        dataset, figures_kind = parts[key]
        models, left_out, best_is_final = _models(run)
        skipped += left_out
        label = labels.get(run.path, run.algorithm)
        for selection, path in models:
            try:
                check_file(path, run.top, "model")
                generator = load_model(path, dataset).to(device)
            except (BenchError, OSError, RuntimeError, ValueError, KeyError, EOFError) as error:
                why = str(error).splitlines()[0] if str(error) else repr(error)
                skipped.append((str(run.path), f"{path.name} unreadable, left out of the temperature curves ({why})"))
                continue
            selections = [END, BEST_VALID] if selection == END and best_is_final else [selection]
            with torch.no_grad():
                for tau in temperatures:
                    if (key, tau) not in evaluators:  # its fixed scores (oracle on test, ...) serve every run
                        config_tau = EvalConfig(n_samples=n_samples, temperature=tau)
                        evaluators[key, tau] = Evaluator(config_tau, dataset, 0, device, figures_kind)
                    evaluator = evaluators[key, tau]
                    evaluator.seed = int(run.seed or 0)  # samples depend on (seed, step) only, as in training
                    figures = evaluator(generator, step=-1).figures
                    for chosen in selections:
                        where = {"selection": chosen, "before_adversarial": model_before_adversarial(run, chosen)}
                        rows.append({"algorithm": label, **where, "seed": run.seed, "temperature": tau, **figures})
    return pd.DataFrame(rows), skipped


AXIS_LABELS = {
    "nll_test": "NLL_test (nats/token, coverage)",
    "nll_oracle": "NLL_oracle (nats/token, quality)",
    "self_bleu5": "self-BLEU-5 (lower: more diverse)",
    "bleu5": "BLEU-5 (quality)",
    "reverse_lm_score": "reverse-LM score (nats/token, coverage; lower: better)",
    "lm_score": "LM score (nats/token, quality; lower: better)",
}


def curve_axes(kind: str, table: pd.DataFrame) -> list[tuple[str, tuple[str, str]]]:
    """(file suffix, (diversity, quality) columns) of each temperature curve the table can draw: NLL_oracle
    vs NLL_test (synthetic), BLEU-5 vs self-BLEU-5 (text), and LM vs reverse-LM score where runs have them."""
    pairs = [("", CURVE_AXES.get(kind, CURVE_AXES["synthetic"]))]
    if kind == "text":
        pairs.append(("_lm", LM_CURVE_AXES))
    drawable = [(suffix, (x, y)) for suffix, (x, y) in pairs if x in table and y in table]
    return [(suffix, (x, y)) for suffix, (x, y) in drawable if table[[x, y]].notna().any().all()]


def plot_temperature_curves(table: pd.DataFrame, kind: str, stem: Path) -> list[Path]:
    """Quality against diversity over τ, one figure per curve (`curve_axes`), one panel per selection (final
    models; best-validation models where runs have them)."""
    if table.empty:
        return []
    files = []
    for suffix, (x, y) in curve_axes(kind, table):
        files += _plot_curve(table, x, y, stem.with_name(stem.name + suffix))
    return files


def _plot_curve(table: pd.DataFrame, x: str, y: str, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    selections = [s for s in (END, BEST_VALID) if s in set(table.get("selection", pd.Series([END])))]
    figure, axes = plt.subplots(1, len(selections), figsize=(5.5 * len(selections), 4.2), squeeze=False)
    for axis, selection in zip(axes[0], selections, strict=True):
        chosen = table[table["selection"] == selection] if "selection" in table else table
        for algorithm, group in chosen.groupby("algorithm"):
            by_tau = group.groupby("temperature")[[x, y]]
            mean, std = by_tau.mean(), by_tau.std(ddof=1).fillna(0.0)
            axis.errorbar(
                mean[x], mean[y], xerr=std[x], yerr=std[y], color=colour(algorithm), marker="o", label=algorithm
            )
            for tau, point in mean.iterrows():
                axis.annotate(f"{tau:g}", (point[x], point[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        axis.set_xlabel(AXIS_LABELS.get(x, x))
        axis.set_ylabel(AXIS_LABELS.get(y, y))
        models = "final models" if selection == END else "models at the best nll_valid"
        axis.set_title(f"temperature sweep, {models} (labels: τ)")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return save_figure(figure, stem)
