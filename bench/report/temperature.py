"""Temperature curves: every complete run's saved final model re-evaluated over a grid of τ, no retraining.

Caccia et al. compare models over the whole quality-diversity curve that temperature traces
(docs/design.md §4): NLL_oracle against NLL_test on synthetic data, BLEU-5 against self-BLEU-5 on
text. The dataset is rebuilt from each run's saved config, and only when every `_target_` in it
is the suite's own; a model.pt that cannot be read skips that run, with the reason listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from bench.build import build
from bench.checkpoint import load_model
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation import Evaluator
from bench.report.plots import colour, save_figure
from bench.report.runs import RunResult, check_targets
from bench.schema import EvalConfig

DEFAULT_TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)


def temperature_table(
    runs: Sequence[RunResult], temperatures: Sequence[float], n_samples: int, device: torch.device,
    allowed: Sequence[str] = (), labels: dict[Path, str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """The figures of every complete run's model at each τ, and one line per run skipped (with why).

    `labels` names each run's row group (its algorithm and group-by values); default: the algorithm.
    """
    labels = labels or {}
    rows, skipped, datasets, evaluators = [], [], {}, {}
    complete = [run for run in runs if run.complete and (run.path / "model.pt").exists()]
    for run in tqdm(complete, desc="temperature curves", disable=not complete):
        config = check_targets(run, allowed)
        key = OmegaConf.to_yaml(config.dataset)
        if key not in datasets:
            datasets[key] = build(config.dataset, "dataset")
        dataset: Dataset = datasets[key]
        try:
            generator = load_model(run.path / "model.pt", dataset).to(device)
        except (BenchError, OSError, RuntimeError, ValueError, KeyError, EOFError) as error:
            why = str(error).splitlines()[0] if str(error) else repr(error)
            skipped.append(f"`{run.path}`: model.pt unreadable, run left out of the temperature curves ({why})")
            continue
        label = labels.get(run.path, run.algorithm)
        with torch.no_grad():
            for tau in temperatures:
                if (key, tau) not in evaluators:  # its fixed scores (oracle on test, ...) serve every run
                    config_tau = EvalConfig(n_samples=n_samples, temperature=tau)
                    evaluators[key, tau] = Evaluator(config_tau, dataset, 0, device)
                evaluator = evaluators[key, tau]
                evaluator.seed = int(run.seed or 0)  # samples depend on (seed, step) only, as in training
                figures = evaluator(generator, step=-1).figures
                rows.append({"algorithm": label, "seed": run.seed, "temperature": tau, **figures})
    return pd.DataFrame(rows), skipped


def plot_temperature_curves(table: pd.DataFrame, kind: str, stem: Path) -> list[Path]:
    """Quality against diversity over τ: NLL_oracle vs NLL_test (synthetic), BLEU-5 vs self-BLEU-5 (text)."""
    x, y = ("self_bleu5", "bleu5") if kind == "text" else ("nll_test", "nll_oracle")
    if table.empty or x not in table or y not in table:
        return []
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for algorithm, group in table.groupby("algorithm"):
        by_tau = group.groupby("temperature")[[x, y]]
        mean, std = by_tau.mean(), by_tau.std(ddof=1).fillna(0.0)
        axis.errorbar(mean[x], mean[y], xerr=std[x], yerr=std[y], color=colour(algorithm), marker="o", label=algorithm)
        for tau, point in mean.iterrows():
            axis.annotate(f"{tau:g}", (point[x], point[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel({"nll_test": "NLL_test (nats/token, coverage)"}.get(x, "self-BLEU-5 (lower: more diverse)"))
    axis.set_ylabel({"nll_oracle": "NLL_oracle (nats/token, quality)"}.get(y, "BLEU-5 (quality)"))
    axis.set_title("temperature sweep (labels: τ)")
    axis.grid(alpha=0.3)
    axis.legend()
    return save_figure(figure, stem)
