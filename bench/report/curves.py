"""Models compared along their temperature curves at matched diversity, never at equal temperature.

Sampling temperature τ trades quality for diversity, and two models at the same τ generally have
different diversity: comparing them there conflates the two (Caccia et al. 2020). Here each seed's
models give a curve over τ; the diversity figure (`matched`: entropy on synthetic data, self-BLEU-5
on text; for the LM pair, the LM score) is matched by linear interpolation on each seed's own curve,
at `MATCHED_POINTS` evenly spaced values inside the range every seed of both models covers (never
extrapolated), and there the `compared` figures are compared over seeds with Welch's interval
(bench/report/stats.py), the family of all points and figures held at `LEVEL`.

The outcome names where each model wins: A better somewhere and B nowhere (the verdict's words, "A
dominates" or "A better where decided", depend on how many tests A wins: bench/report/verdicts.py), "curves
cross" (each better somewhere), or "cannot tell" (neither, or no common range, or a single point
per curve, or fewer than two seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.evaluation.catalogue import BY_NAME, lower_is_better
from bench.report.stats import LEVEL, family_level, welch

MATCHED_POINTS = 5
"""Matched diversity values per comparison, evenly spaced over the common range (ends included)."""


@dataclass(frozen=True)
class CurveAxes:
    """One kind of curve: the figure matched across models and the figures compared where it matches."""

    matched: str
    compared: tuple[str, ...]

    @property
    def name(self) -> str:
        compared = " and ".join(BY_NAME[name].label for name in self.compared)
        return f"{compared} at matched {BY_NAME[self.matched].label}"


CURVES = {
    "synthetic": (CurveAxes("entropy", ("nll_oracle", "nll_test")),),
    "text": (CurveAxes("self_bleu5", ("bleu5",)), CurveAxes("lm_score", ("reverse_lm_score",))),
}
"""The curves of each dataset kind: quality and coverage at matched entropy (synthetic); BLEU-5 at matched
self-BLEU-5, and the reverse-LM score at matched LM score where runs have the LM figures (text)."""

A, B, CROSS, NONE = "a", "b", "cross", "none"
"""Outcomes: A better somewhere and B nowhere, the reverse, each somewhere, neither."""
POINT_COLUMNS = (
    "matched_value",
    "figure",
    "mean_a",
    "mean_b",
    "estimate",
    "ci_low",
    "ci_high",
    "point_level",
    "n_a",
    "n_b",
    "winner",
)


@dataclass(frozen=True)
class CurveComparison:
    """Two models' curves of one kind at one selection: per matched point and figure, the difference a - b."""

    a: str
    b: str
    selection: str
    axes: CurveAxes
    outcome: str
    points: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=POINT_COLUMNS))
    reason: str = ""
    """Why there is nothing to compare (no common range, one point, one seed), else empty."""

    def wins(self, side: str) -> pd.DataFrame:
        """The points where `side` (A or B) is better."""
        return self.points[self.points["winner"] == side] if len(self.points) else self.points


def seed_curves(table: pd.DataFrame, label: str, selection: str, axes: CurveAxes) -> dict[object, pd.DataFrame]:
    """Each seed's curve of `label` at `selection`: its points sorted by the matched figure (NaN rows dropped)."""
    columns = [axes.matched, *axes.compared]
    if table.empty or any(name not in table for name in columns):
        return {}
    rows = table[(table["algorithm"] == label) & (table["selection"] == selection)]
    curves = {}
    for seed, points in rows.groupby("seed", sort=True):
        points = points[columns].apply(pd.to_numeric, errors="coerce").dropna().sort_values(axes.matched)
        curves[seed] = points.drop_duplicates(axes.matched)
    return curves


def common_range(curves: list[pd.DataFrame], matched: str) -> tuple[float, float] | None:
    """The matched values every curve covers, or None when they share no range (or a curve is one point)."""
    if not curves or any(len(curve) < 2 for curve in curves):
        return None
    low = max(float(curve[matched].min()) for curve in curves)
    high = min(float(curve[matched].max()) for curve in curves)
    return (low, high) if low < high else None


def no_common_range(matched: str, curves_a: dict, curves_b: dict, a: str, b: str) -> str:
    """Why there is no comparison, with where each model's curves lie on the matched figure (over all its
    seeds): a description of which side each is on, not a verdict (nothing is tested there)."""
    spans = []
    for label, curves in ((a, curves_a), (b, curves_b)):
        values = pd.concat([curve[matched] for curve in curves.values()])
        spans.append(f"`{label}` {values.min():.3f}–{values.max():.3f}")
    return f"no common range of {matched} ({', '.join(spans)})"


def compare_curves(
    table: pd.DataFrame, a: str, b: str, selection: str, axes: CurveAxes, level: float = LEVEL
) -> CurveComparison:
    """A's and B's curves at `selection`, compared at matched values of `axes.matched` (see the module doc)."""
    curves_a, curves_b = (seed_curves(table, label, selection, axes) for label in (a, b))
    if len(curves_a) < 2 or len(curves_b) < 2:
        return CurveComparison(a, b, selection, axes, NONE, reason="fewer than two seeds")
    every = [*curves_a.values(), *curves_b.values()]
    if any(len(curve) < 2 for curve in every):
        return CurveComparison(a, b, selection, axes, NONE, reason="one point per curve: nothing to match on")
    span = common_range(every, axes.matched)
    if span is None:
        reason = no_common_range(axes.matched, curves_a, curves_b, a, b)
        return CurveComparison(a, b, selection, axes, NONE, reason=reason)
    matched = np.linspace(span[0], span[1], MATCHED_POINTS)
    point_level = family_level(level, MATCHED_POINTS * len(axes.compared))
    rows = []
    for figure in axes.compared:
        at_a = [np.interp(matched, curve[axes.matched], curve[figure]) for curve in curves_a.values()]
        at_b = [np.interp(matched, curve[axes.matched], curve[figure]) for curve in curves_b.values()]
        for index, value in enumerate(matched):
            values_a, values_b = [float(c[index]) for c in at_a], [float(c[index]) for c in at_b]
            difference = welch(values_a, values_b, point_level)
            winner = ""
            if difference is not None and difference.decided:
                a_lower = difference.estimate < 0
                winner = A if a_lower == lower_is_better(figure) else B
            rows.append(
                {
                    "matched_value": float(value),
                    "figure": figure,
                    "mean_a": float(np.mean(values_a)),
                    "mean_b": float(np.mean(values_b)),
                    "estimate": math.nan if difference is None else difference.estimate,
                    "ci_low": math.nan if difference is None else difference.low,
                    "ci_high": math.nan if difference is None else difference.high,
                    "point_level": point_level,
                    "n_a": len(values_a),
                    "n_b": len(values_b),
                    "winner": winner,
                }
            )
    points = pd.DataFrame(rows, columns=POINT_COLUMNS)
    won = set(points["winner"]) - {""}
    outcome = CROSS if won == {A, B} else A if won == {A} else B if won == {B} else NONE
    return CurveComparison(a, b, selection, axes, outcome, points)


def stretches(values: list[float], flags: list[bool]) -> list[tuple[float, float]]:
    """The (first, last) matched values of each run of consecutive flagged points."""
    found, start, previous = [], None, None
    for value, flag in zip(values, flags, strict=True):
        if flag and start is None:
            start = value
        if not flag and start is not None:
            found.append((start, previous))
            start = None
        previous = value
    if start is not None:
        found.append((start, previous))
    return found
