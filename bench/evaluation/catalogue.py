"""The figure catalogue: every figure an evaluation records, with its label, unit and direction.

One home for what a figure is called and which way is better: the progress bar, a run's last line,
the report's tables, plots and claims all read it. A history row also holds the training losses of
the algorithm (`g_loss`, ...) and the clocks (`CLOCKS`); those are not figures of the model.
Definitions: docs/outputs.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One figure of an evaluation."""

    name: str
    """The column in history.csv and metrics.json."""
    label: str
    """How tables and plots name it."""
    unit: str
    lower_is_better: bool | None
    """Which way is better; None for a diagnostic that is neither (entropy, a share)."""
    headline: bool = False
    """Shown on a run's last line and on the progress bar."""

    @property
    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


_NLL = "nats/token"
FIGURES = (
    Figure("nll_oracle", "NLL_oracle", _NLL, True, headline=True),
    Figure("nll_test", "NLL_test", _NLL, True, headline=True),
    Figure("nll_valid", "NLL_valid", _NLL, True, headline=True),
    Figure("jsd", "true JSD", "nats", True, headline=True),
    Figure("jsd_prefix_mean", "mean prefix JSD J̄", "nats", True, headline=True),
    Figure("jsd_stepwise_bound", "stepwise bound", "nats", True),
    Figure("jsd_mediator_bound", "mediator bound", "nats", True),
    Figure("entropy", "entropy", _NLL, None),
    *(Figure(f"bleu{n}", f"BLEU-{n}", "", False, headline=n == 5) for n in (2, 3, 4, 5)),
    *(Figure(f"self_bleu{n}", f"self-BLEU-{n}", "", True, headline=n == 5) for n in (2, 3, 4, 5)),
    Figure("sacrebleu", "sacreBLEU", "0-100", False, headline=True),
    *(Figure(f"distinct{n}", f"distinct-{n}", f"unique / all {n}-grams", False) for n in (1, 2, 3, 4)),
    Figure("lm_score", "LM score", _NLL, True),
    Figure("reverse_lm_score", "reverse-LM score", _NLL, True),
    Figure("lm_judge_nll_test", "judge LM's NLL_test", _NLL, None),
    Figure("no_eos_share", "samples without EOS", "share of samples", None),
    Figure("n_samples", "samples scored", "", None),
    Figure("test_unk_share", "test <unk> share", "share of test tokens", None),
    Figure("m_balanced_nll", "mediator balanced NLL", _NLL, None),
    Figure("d_test_acc", "discriminator balanced test accuracy", "", None),
)
BY_NAME = {figure.name: figure for figure in FIGURES}

TABLE_FIGURES = {
    "synthetic": (
        "nll_oracle",
        "nll_test",
        "nll_valid",
        "jsd_prefix_mean",
        "jsd",
        "jsd_stepwise_bound",
        "jsd_mediator_bound",
        "entropy",
    ),
    "text": (
        "bleu2",
        "bleu3",
        "bleu4",
        "bleu5",
        "self_bleu2",
        "self_bleu3",
        "self_bleu4",
        "self_bleu5",
        "distinct1",
        "distinct2",
        "distinct3",
        "distinct4",
        "nll_test",
        "test_unk_share",
        "lm_score",
        "reverse_lm_score",
        "sacrebleu",
        "entropy",
        "no_eos_share",
    ),
}
"""The figures a report's table shows for each dataset kind, in order."""
DIVERGENCES = ("jsd_prefix_mean", "jsd", "jsd_stepwise_bound", "jsd_mediator_bound")
"""The JSD figures (and their bounds): at most ln 2, and saturated when within a few s.e. of it."""
CURVE_AXES = {"synthetic": ("nll_test", "nll_oracle"), "text": ("self_bleu5", "bleu5")}
"""A temperature curve's (diversity, quality) axes on each kind (Caccia et al.)."""
LM_CURVE_AXES = ("reverse_lm_score", "lm_score")
"""Text's second temperature curve (Caccia et al. Fig. 5), where the runs recorded the LM figures:
reverse-LM score (coverage) against LM score (quality), both lower is better."""
SAMPLE_COUNT_FIGURES = frozenset(
    {*(f"self_bleu{n}" for n in (2, 3, 4, 5)), *(f"distinct{n}" for n in (1, 2, 3, 4)), "reverse_lm_score"}
)
"""Figures that move with the number of samples they are computed on (`n_samples`): self-BLEU grows
with it (Texygen's MLE file: self-BLEU-5 0.409 at 9,984 samples, 0.276 at 2,000), distinct-n falls,
the reverse LM learns from more. Compare them only at equal `n_samples`; BLEU against the test set,
sacreBLEU and the LM score are means over samples and do not."""

CLOCKS = ("wall_s", "train_s", "train_cpu_s")
"""A history row's clocks: the budget, not figures of the model."""
HEADLINE = tuple(figure.name for figure in FIGURES if figure.headline)
PROGRESS = ("g_loss", *HEADLINE)
"""What the progress bar shows when present: the generator's loss, then the headline figures."""


def axis_label(name: str) -> str:
    """`NLL_oracle (nats/token)` for a catalogued figure, the name itself otherwise."""
    figure = BY_NAME.get(name)
    return figure.axis_label if figure else name


def lower_is_better(name: str) -> bool:
    """Which way a figure is better; a KeyError for a figure that has no direction."""
    direction = BY_NAME[name].lower_is_better
    if direction is None:
        raise KeyError(f"{name}: has no better direction")
    return direction


def headline(row: dict, brief: bool = False) -> str:
    """The figures of one history row (with `brief`, only the headline ones), as `name value, ...`."""
    skip = ("step", "phase", *CLOCKS)
    names = [k for k in HEADLINE if k in row] if brief else [k for k in row if k not in skip]
    return ", ".join(f"{k} {row[k]:.4g}" if isinstance(row[k], float) else f"{k} {row[k]}" for k in names)


SELECTION = "nll_valid"
"""Model selection without the test set: the evaluation with the lowest validation NLL (a fresh
oracle sample on synthetic data), the first of equal values. The run keeps that model
(model_best_valid.pt) and the report reads that row; both call `best_evaluation`."""


def best_evaluation(values: Sequence[object]) -> int | None:
    """Index of the lowest finite value of `SELECTION` over a run's evaluations (the first of equals),
    None when there is none."""
    best = None
    for index, value in enumerate(values):
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            if best is None or value < values[best]:
                best = index
    return best
