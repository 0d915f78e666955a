"""Comparisons along temperature curves at matched diversity, on constructed curves whose answer is known:
one curve below the other, two that cross, identical curves, one point per curve, no common range."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from bench.report import verdicts
from bench.report.curves import CROSS, CURVES, MATCHED_POINTS, NONE, A, B, compare_curves, stretches
from bench.report.stats import family_level, welch

SYNTHETIC = CURVES["synthetic"][0]  # NLL_oracle and NLL_test at matched entropy
TAUS = (0.5, 0.75, 1.0, 1.25, 1.5)
SEEDS = (0, 1, 2, 3, 4)


def curve_rows(label: str, quality: Callable[[float], float], taus=TAUS, seeds=SEEDS, shift: float = 0.0) -> list:
    """A model whose entropy is 2 τ (+ a small seed offset) and whose NLLs are `quality(entropy)` (+ seed noise)."""
    rows = []
    for seed in seeds:
        noise = 0.01 * (seed - 2)
        for tau in taus:
            entropy = 2 * tau + shift + 0.001 * seed
            nll = quality(entropy) + noise
            rows.append(
                {"algorithm": label, "selection": "end", "seed": seed, "temperature": tau, "entropy": entropy}
                | {"nll_oracle": nll, "nll_test": nll + 0.5}
            )
    return rows


def table(*rows: list) -> pd.DataFrame:
    return pd.DataFrame([row for part in rows for row in part])


def test_a_curve_below_the_other_everywhere_dominates() -> None:
    frame = table(curve_rows("a", lambda e: 1 + e), curve_rows("b", lambda e: 1.5 + e))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == A and comparison.reason == ""
    assert len(comparison.points) == MATCHED_POINTS * 2  # five matched entropies, two figures
    assert (comparison.points["winner"] == A).all()
    assert comparison.points["estimate"].to_numpy() == pytest.approx(-0.5)
    swapped = compare_curves(frame, "b", "a", "end", SYNTHETIC)
    assert swapped.outcome == B and (swapped.points["estimate"] > 0).all()
    assert verdicts.comparison_verdict("s", comparison, frame).verdict == "`a` dominates"  # 10 of 10 tests
    assert verdicts.comparison_verdict("s", swapped, frame).verdict == "`a` dominates"


def test_a_model_better_at_some_tests_and_undecided_at_the_rest_is_better_where_decided() -> None:
    """A is lower than B in NLL_oracle only (NLL_test equal): better at 5 of 10 tests, never "dominates"."""
    rows_b = curve_rows("b", lambda e: 1.5 + e)
    for row in rows_b:
        row["nll_test"] -= 0.5  # b's NLL_test equals a's
    frame = table(curve_rows("a", lambda e: 1 + e), rows_b)
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == A and len(comparison.wins(A)) == MATCHED_POINTS
    verdict = verdicts.comparison_verdict("s", comparison, frame)
    assert verdict.verdict == "`a` better where decided"
    assert verdict.evidence.startswith("`a` better at 5 of 10 matched tests")


def test_matched_points_are_interpolated_on_each_seeds_own_curve_inside_the_common_range() -> None:
    frame = table(curve_rows("a", lambda e: e * e), curve_rows("b", lambda e: 3 * e, shift=0.2))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    low = 2 * TAUS[0] + 0.2 + 0.004  # the highest of every seed's lowest entropy: b's seed 4
    high = 2 * TAUS[-1]  # the lowest of every seed's highest entropy: a's seed 0
    oracle = comparison.points[comparison.points["figure"] == "nll_oracle"]
    assert oracle["matched_value"].to_numpy() == pytest.approx(np.linspace(low, high, MATCHED_POINTS))
    at = oracle["matched_value"].iloc[2]
    by_hand = []
    for seed in SEEDS:  # linear interpolation between the two τ points of seed's curve around `at`
        xs = [2 * tau + 0.001 * seed for tau in TAUS]
        ys = [x * x + 0.01 * (seed - 2) for x in xs]
        by_hand.append(float(np.interp(at, xs, ys)))
    assert oracle["mean_a"].iloc[2] == pytest.approx(sum(by_hand) / len(by_hand))
    others = []
    for seed in SEEDS:
        xs = [2 * tau + 0.2 + 0.001 * seed for tau in TAUS]
        others.append(float(np.interp(at, xs, [3 * x + 0.01 * (seed - 2) for x in xs])))
    expected = welch(by_hand, others, family_level(0.95, 2 * MATCHED_POINTS))
    assert oracle["estimate"].iloc[2] == pytest.approx(expected.estimate)
    assert (oracle["ci_low"].iloc[2], oracle["ci_high"].iloc[2]) == pytest.approx((expected.low, expected.high))


def test_crossing_curves_name_where_each_model_wins() -> None:
    frame = table(curve_rows("a", lambda e: 1 + e), curve_rows("b", lambda e: 1 + e + (e - 2) * 0.5))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == CROSS
    oracle = comparison.points[comparison.points["figure"] == "nll_oracle"]
    winners = oracle.sort_values("matched_value")["winner"].tolist()
    assert winners[0] == B and winners[-1] == A  # b lower at low entropy, a at high entropy
    verdict = verdicts.comparison_verdict("s", comparison, frame)
    assert verdict.verdict == "curves cross"
    wins_a, wins_b = (len(comparison.wins(side)) for side in (A, B))
    assert f"`a` better at {wins_a} of 10 matched tests (NLL_oracle at entropy " in verdict.evidence
    assert f"`b` better at {wins_b} of 10 matched tests (NLL_oracle at entropy 1.004" in verdict.evidence


def test_identical_curves_cannot_be_told_apart() -> None:
    frame = table(curve_rows("a", lambda e: 1 + e), curve_rows("b", lambda e: 1 + e))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == NONE and (comparison.points["winner"] == "").all()
    assert comparison.points["estimate"].to_numpy() == pytest.approx(0.0)
    verdict = verdicts.comparison_verdict("s", comparison, frame)
    assert verdict.verdict == "cannot tell" and "better at 0 of 10 matched tests" in verdict.evidence


@pytest.mark.parametrize(
    ("a_rows", "b_rows", "reason"),
    [
        ((dict(taus=(1.0,)),), (dict(taus=(1.0,)),), "one point per curve: nothing to match on"),
        ((dict(),), (dict(shift=10.0),), "no common range of entropy (`a` 1.000–3.004, `b` 11.000–13.004)"),
        ((dict(seeds=(0,)),), (dict(),), "fewer than two seeds"),
    ],
)
def test_without_a_common_stretch_of_curve_the_answer_is_cannot_tell(a_rows, b_rows, reason: str) -> None:
    frame = table(curve_rows("a", lambda e: 1 + e, **a_rows[0]), curve_rows("b", lambda e: 9 + e, **b_rows[0]))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == NONE and comparison.reason == reason and comparison.points.empty
    assert verdicts.comparison_verdict("s", comparison, frame).evidence == reason


def test_one_point_worse_does_not_flip_a_verdict_it_is_named() -> None:
    """B is far better everywhere but at one end, where A is better: the verdict is "curves cross" and the
    evidence names the one stretch where A wins, never a plain "B dominates" or "A loses"."""
    frame = table(curve_rows("a", lambda e: 1 + e), curve_rows("b", lambda e: 1 + e - 0.3 + (0.6 if e > 2.9 else 0)))
    comparison = compare_curves(frame, "a", "b", "end", SYNTHETIC)
    assert comparison.outcome == CROSS
    assert len(comparison.wins(A)) < len(comparison.wins(B))


def test_stretches_are_runs_of_consecutive_wins() -> None:
    assert stretches([1, 2, 3, 4, 5], [True, True, False, True, False]) == [(1, 2), (4, 4)]
    assert stretches([1, 2], [False, False]) == []
