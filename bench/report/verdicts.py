"""One verdict per claim and comparison: the table at the top of a report, and its CSV.

Two kinds of rows. A *comparison* is the suite's own: every pair of models of a section along every
temperature curve its runs allow (bench/report/curves.py), at each model selection: "A dominates"
(better at every matched test), "A better where decided" (better at some, worse at none), the same
for B, "curves cross" or "cannot tell", with where each model wins. A *claim* is a
published finding (bench/report/claims.py), judged only on its benchmark (or a stated stand-in) and
at a stated share of its budget: "supports", "contradicts", "mixed" (a curve claim where each model
wins somewhere, both named), "cannot tell", or "not tested" with why, the measured direction kept as
evidence. Every number in a row's evidence is a column of verdicts.csv or curve_points.csv.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from bench.evaluation.catalogue import BY_NAME
from bench.report import claims as published_claims
from bench.report.aggregate import BEFORE_ADVERSARIAL
from bench.report.curves import CROSS, CURVES, A, B, CurveComparison, compare_curves, stretches
from bench.report.escape import code
from bench.report.published import family
from bench.report.stats import LEVEL, Difference, welch


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table."""

    section: str
    claim: str
    a: str
    b: str
    selection: str
    verdict: str
    evidence: str
    numbers: dict[str, object] = field(default_factory=dict)


def name(label: str) -> str:
    return code(label, in_table=True)


def signed(value: float) -> str:
    """`+0.423` / `−0.423`: the sign always shown, a true minus sign."""
    return f"{value:+.3f}".replace("-", "−")


# ----- comparisons along the temperature curves -------------------------------------------------


def curve_comparisons(temperature: pd.DataFrame, kind: str, labels: Sequence[str]) -> list[CurveComparison]:
    """Every pair of `labels` (in order) along every curve of `kind` the table has, at each selection."""
    if temperature.empty or "selection" not in temperature:
        return []
    found = []
    for axes in CURVES.get(kind, ()):
        if any(column not in temperature for column in (axes.matched, *axes.compared)):
            continue
        for selection in [s for s in ("end", "best nll_valid") if s in set(temperature["selection"])]:
            for a, b in combinations([label for label in labels if label in set(temperature["algorithm"])], 2):
                found.append(compare_curves(temperature, a, b, selection, axes))
    return found


def _pretrained_in_curves(temperature: pd.DataFrame, label: str, selection: str) -> bool:
    if "before_adversarial" not in temperature:
        return False
    flags = temperature[(temperature["algorithm"] == label) & (temperature["selection"] == selection)]
    flags = flags["before_adversarial"]
    return bool(len(flags)) and flags.eq(True).all()


def curve_evidence(comparison: CurveComparison) -> tuple[str, dict[str, object]]:
    """Where each model wins, as text, and the numbers it quotes."""
    points = comparison.points
    n_a, n_b = (int(points[c].iloc[0]) if len(points) else 0 for c in ("n_a", "n_b"))
    numbers: dict[str, object] = {"matched": comparison.axes.matched, "figure": " ".join(comparison.axes.compared)}
    if comparison.reason:
        return comparison.reason, numbers
    matched_label = BY_NAME[comparison.axes.matched].label
    numbers |= {"tests": len(points), "points": len(points) // len(comparison.axes.compared)}
    numbers |= {"points_a": len(comparison.wins(A)), "points_b": len(comparison.wins(B)), "n_a": n_a, "n_b": n_b}
    numbers |= {"range_low": float(points["matched_value"].min()), "range_high": float(points["matched_value"].max())}
    numbers["level"] = LEVEL
    parts = []
    for side, label in ((A, comparison.a), (B, comparison.b)):
        where = []
        for figure in comparison.axes.compared:
            rows = points[points["figure"] == figure]
            spans = stretches(rows["matched_value"].tolist(), (rows["winner"] == side).tolist())
            if spans:
                shown = ", ".join(f"{low:.3f}" if low == high else f"{low:.3f}–{high:.3f}" for low, high in spans)
                where.append(f"{BY_NAME[figure].label} at {matched_label} {shown}")
        count = numbers[f"points_{side}"]
        parts.append(
            f"{name(label)} better at {count} of {len(points)} matched tests"
            + (f" ({'; '.join(where)})" if where else "")
        )
    span = f"{matched_label} {numbers['range_low']:.3f}–{numbers['range_high']:.3f}"
    return f"{'; '.join(parts)}; common range {span}, n = {n_a}, {n_b}", numbers


DOMINATES, BETTER_WHERE_DECIDED = "dominates", "better where decided"
"""A one-sided outcome's words: better at every matched test, or at some with the rest undecided."""


def one_sided_words(winner: str, wins: int, tests: int) -> str:
    """ "dominates" only when the winner is better at every matched test; a winner at some tests, with the
    others undecided, is "better where decided" (the evidence gives the counts)."""
    return f"{winner} {DOMINATES if wins == tests else BETTER_WHERE_DECIDED}"


def comparison_verdict(section: str, comparison: CurveComparison, temperature: pd.DataFrame) -> Verdict:
    """The suite's own verdict on one pair of curves."""
    outcome = {
        A: one_sided_words(name(comparison.a), len(comparison.wins(A)), len(comparison.points)),
        B: one_sided_words(name(comparison.b), len(comparison.wins(B)), len(comparison.points)),
        CROSS: "curves cross",
    }.get(comparison.outcome, "cannot tell")
    evidence, numbers = curve_evidence(comparison)
    pretrained = [
        x for x in (comparison.a, comparison.b) if _pretrained_in_curves(temperature, x, comparison.selection)
    ]
    if pretrained:
        evidence = f"{', '.join(name(x) for x in pretrained)} at {comparison.selection}: MLE pretraining; {evidence}"
    claim = f"temperature curves: {comparison.axes.name}"
    numbers |= {"kind": "comparison"}
    return Verdict(section, claim, comparison.a, comparison.b, comparison.selection, outcome, evidence, numbers)


# ----- published claims -------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionData:
    """What a section's claims are judged from."""

    section: str
    per_run: pd.DataFrame
    summary: pd.DataFrame
    temperature: pd.DataFrame
    data: str | None
    stand_in: str | None

    def labels(self) -> list[str]:
        return list(dict.fromkeys(self.summary["group"])) if len(self.summary) else []

    def algorithm(self, label: str) -> str:
        return str(self.summary[self.summary["group"] == label]["algorithm"].iloc[0])

    def row(self, label: str, selection: str) -> pd.Series | None:
        rows = self.summary[(self.summary["group"] == label) & (self.summary["selection"] == selection)]
        return rows.iloc[0] if len(rows) else None

    def end_steps(self, label: str) -> float:
        row = self.row(label, "end")
        return float(row["steps_mean"]) if row is not None else math.nan

    def values(self, label: str, selection: str, figure: str) -> list[float]:
        rows = self.per_run[(self.per_run["group"] == label) & (self.per_run["selection"] == selection)]
        return rows[figure].tolist() if figure in rows else []


def _budget_numbers(claim: published_claims.Claim, data: SectionData, a: str, b: str) -> tuple[dict, Mapping]:
    steps = {family(data.algorithm(x)): data.end_steps(x) for x in (a, b)}
    numbers: dict[str, object] = {"steps_a": data.end_steps(a), "steps_b": data.end_steps(b)}
    numbers["min_budget_percent"] = 100 * published_claims.MIN_BUDGET_SHARE
    for side, label in (("a", a), ("b", b)):
        claimed = claim.budget.get(family(data.algorithm(label)))
        numbers[f"claim_steps_{side}"] = claimed if claimed is not None else math.nan
        numbers[f"budget_percent_{side}"] = 100 * data.end_steps(label) / claimed if claimed else math.nan
    return numbers, steps


def _budget_text(data: SectionData, a: str, b: str) -> str:
    return f"budgets: {name(a)} {data.end_steps(a):,.0f} steps, {name(b)} {data.end_steps(b):,.0f}"


def _difference_text(difference: Difference | None, a: str, b: str, lower_better: bool) -> str:
    if difference is None:
        return "fewer than two seeds: no interval"
    interval = f"difference {signed(difference.estimate)} [{signed(difference.low)}, {signed(difference.high)}]"
    if not difference.decided:
        return f"{interval}: no difference decided"
    winner = a if (difference.estimate < 0) == lower_better else b
    return f"{interval}: {name(winner)} better"


def pair_claim_verdict(claim: published_claims.Claim, data: SectionData, a: str, b: str, selection: str) -> Verdict:
    """`claim` (a is its better algorithm) at `selection`, from the per-seed figures by Welch's interval."""
    figure = str(claim.figure)
    row_a, row_b = data.row(a, selection), data.row(b, selection)
    difference = welch(data.values(a, selection, figure), data.values(b, selection, figure))
    numbers, steps = _budget_numbers(claim, data, a, b)
    numbers |= {"kind": "claim", "figure": figure, "level": LEVEL}
    for side, row in (("a", row_a), ("b", row_b)):
        numbers |= {f"mean_{side}": row[f"{figure}_mean"], f"std_{side}": row[f"{figure}_std"], f"n_{side}": row["n"]}
    if difference is not None:
        numbers |= {"estimate": difference.estimate, "ci_low": difference.low, "ci_high": difference.high}
    label = BY_NAME[figure].label
    measured = (
        f"{name(a)} {row_a[f'{figure}_mean']:.3f} ± {row_a[f'{figure}_std']:.3f} vs {name(b)} "
        f"{row_b[f'{figure}_mean']:.3f} ± {row_b[f'{figure}_std']:.3f} {label} (n = {row_a['n']}, {row_b['n']}); "
        f"{_difference_text(difference, a, b, True)}; {_budget_text(data, a, b)}"
    )
    why = published_claims.off_benchmark(claim, data.data, data.stand_in)
    if why is None and float(row_a.get(f"{BEFORE_ADVERSARIAL}_mean", math.nan)) == 1.0:
        why = f"not tested: {name(a)}'s models at {selection} are its MLE pretraining, before any adversarial step"
    why = why or published_claims.below_budget(claim, steps)
    if why is not None:
        verdict = why
    elif difference is None or not difference.decided:
        verdict = "cannot tell"
    else:
        verdict = "supports" if difference.estimate < 0 else "contradicts"
        measured += f"; {published_claims.judged_on_note(claim, data.data, data.stand_in)}"
    text = f"{claim.text} ({claim.citation})"
    return Verdict(data.section, text, a, b, selection, verdict, measured, numbers)


def curve_claim_verdict(
    claim: published_claims.Claim, data: SectionData, comparison: CurveComparison, a: str, b: str
) -> Verdict:
    """A curve claim (`a` at least as good as `b` along the curve) read off the suite's comparison of the pair."""
    flipped = comparison.a != a
    outcome = {A: B, B: A}.get(comparison.outcome, comparison.outcome) if flipped else comparison.outcome
    evidence, numbers = curve_evidence(comparison)
    if flipped:
        numbers["points_a"], numbers["points_b"] = numbers.get("points_b"), numbers.get("points_a")
    budget, steps = _budget_numbers(claim, data, a, b)
    numbers |= budget | {"kind": "claim"}
    evidence = f"{evidence}; {_budget_text(data, a, b)}"
    why = published_claims.off_benchmark(claim, data.data, data.stand_in)
    if why is None and _pretrained_in_curves(data.temperature, b, comparison.selection):
        why = f"not tested: {name(b)}'s models at {comparison.selection} are its MLE pretraining"
    why = why or published_claims.below_budget(claim, steps)
    if why is not None:
        verdict = why
    else:
        verdict = {A: "supports", B: "contradicts", CROSS: "mixed: each model better somewhere"}.get(
            outcome, "cannot tell"
        )
        evidence += f"; {published_claims.judged_on_note(claim, data.data, data.stand_in)}"
    text = f"{claim.text}: {comparison.axes.name} ({claim.citation})"
    return Verdict(data.section, text, a, b, comparison.selection, verdict, evidence, numbers)


def section_verdicts(data: SectionData, kind: str) -> tuple[list[Verdict], list[CurveComparison]]:
    """Every verdict of one section: the published claims that concern its models, then its comparisons."""
    labels = data.labels()
    comparisons = curve_comparisons(data.temperature, kind, labels)
    found = []
    for claim in published_claims.CLAIMS:
        for a in labels:
            for b in labels:
                if a == b or not published_claims.applies(claim, data.algorithm(a), data.algorithm(b)):
                    continue
                if claim.figure is not None and kind == "synthetic" and f"{claim.figure}_mean" in data.summary:
                    for selection in [s for s in ("end", "best nll_valid") if data.row(a, s) is not None]:
                        if data.row(b, selection) is not None:
                            found.append(pair_claim_verdict(claim, data, a, b, selection))
                for comparison in comparisons:
                    if comparison.axes == claim.axes and {comparison.a, comparison.b} == {a, b}:
                        found.append(curve_claim_verdict(claim, data, comparison, a, b))
    found += [comparison_verdict(data.section, c, data.temperature) for c in comparisons]
    return found, comparisons
