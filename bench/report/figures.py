"""Which figures a report shows: decided by what the runs' datasets are, then by what says something.

A synthetic dataset (an oracle) gives NLL_oracle, NLL_test, NLL_valid, the divergences and the
entropy; a text dataset gives BLEU, self-BLEU, NLL_test and the entropy (docs/design.md §4). The
kind comes from the figures the run's config names (`dataset.figures`), never from key names.
A JSD figure whose values all lie within 3 s.e. of ln 2 is saturated (docs/design.md §4.2): it
cannot tell models apart, so it is left out with a note instead of printed as a signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from omegaconf import OmegaConf

from bench.config.build import import_target
from bench.evaluation.catalogue import DIVERGENCES, TABLE_FIGURES
from bench.report.runs import RunResult

LN2 = math.log(2)
SATURATION_SE = 3.0
"""A JSD value within this many standard errors of ln 2 is indistinguishable from saturation."""


def dataset_kind(run: RunResult) -> str:
    """`synthetic`, `text` or `other`: the `kind` of the figures the run's config names (`dataset.figures`),
    read once the report has checked every target of the config (nothing foreign is imported)."""
    target = OmegaConf.select(run.config(), "dataset.figures._target_", default=None)
    return str(getattr(import_target(str(target)), "kind", "other")) if target else "other"


def candidate_figures(kind: str, runs: Sequence[RunResult]) -> tuple[str, ...]:
    """The kind's figures that at least one run reports, in the kind's order."""
    wanted = TABLE_FIGURES.get(kind)
    if wanted is None:  # a builder the user allowed: every numeric final figure, as recorded
        names = {k for run in runs for k, v in run.final.items() if isinstance(v, (int, float)) and k != "step"}
        wanted = tuple(sorted(name for name in names if not name.endswith("_se")))
    return tuple(name for name in wanted if any(name in run.final for run in runs))


def saturated(name: str, runs: Sequence[RunResult]) -> bool:
    """Whether every run's `name` lies within 3 s.e. of ln 2 (a JSD figure that separates nothing)."""
    if name not in DIVERGENCES:
        return False
    pairs = [(run.final.get(name), run.final.get(f"{name}_se")) for run in runs if name in run.final]
    if not pairs or any(not isinstance(se, (int, float)) or not math.isfinite(se) for _, se in pairs):
        return False
    return all(abs(LN2 - float(value)) <= SATURATION_SE * float(se) for value, se in pairs)


def saturation_note(name: str) -> str:
    return (
        f"`{name}` is left out: every run's value lies within {SATURATION_SE:g} s.e. of ln 2 = {LN2:.4f}, "
        "where the figure saturates and cannot tell models apart."
    )


def choose(kind: str, runs: Sequence[RunResult]) -> tuple[tuple[str, ...], list[str]]:
    """The figures to show and one note per figure left out."""
    shown, notes = [], []
    for name in candidate_figures(kind, runs):
        if saturated(name, runs):
            notes.append(saturation_note(name))
        else:
            shown.append(name)
    return tuple(shown), notes
