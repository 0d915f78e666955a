"""What this shows: each published claim whose algorithms are in the report, checked against its numbers.

A claim is supported when the claimed-better algorithm's mean ± std interval over seeds lies wholly
on the better side of the other's, contradicted when it lies wholly on the worse side, and "cannot
tell" when the error bars overlap (or one seed gives no error bar). Every verdict names the budget
(steps, training wall-clock) it was reached at, and whether the data are the published benchmark.
A claim about an adversarial algorithm is "not tested" by a selection whose model is still its MLE
pretraining (SeqGAN's best-validation evaluation can precede every adversarial step): that compares
two MLE models, whatever the numbers say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench.evaluation.catalogue import lower_is_better
from bench.report.aggregate import BEFORE_ADVERSARIAL
from bench.report.published import CACCIA, COT_PAPER, SEQGAN_REPO, family


@dataclass(frozen=True)
class PairClaim:
    """Claim: `better` has a lower `figure` than `worse`, as a publication found it."""

    text: str
    citation: str
    better: str
    worse: str
    figure: str = "nll_oracle"


PAIR_CLAIMS = (
    PairClaim("CoT reaches a lower NLL_oracle than MLE (≈ 8.1 vs 9.43)", COT_PAPER, "cot", "mle"),
    PairClaim("SeqGAN reaches a lower NLL_oracle than MLE (8.68 vs 9.07)", SEQGAN_REPO, "seqgan", "mle"),
)
GANS = ("seqgan", "cot")
"""The algorithms Caccia et al. compared MLE against over temperature (CoT among the "language GANs")."""


def compare(a: tuple[float, float], b: tuple[float, float], lower_is_better: bool = True) -> str:
    """ "better", "worse" or "overlap": where a's mean ± std interval lies against b's."""
    (mean_a, std_a), (mean_b, std_b) = a, b
    if any(math.isnan(v) for v in (mean_a, mean_b, std_a, std_b)):
        return "overlap"
    if mean_a + std_a < mean_b - std_b:
        return "better" if lower_is_better else "worse"
    if mean_a - std_a > mean_b + std_b:
        return "worse" if lower_is_better else "better"
    return "overlap"


def _budget(row: pd.Series) -> str:
    """`group N steps, T s` with T the training CPU time, else (older runs) the wall-clock with evaluations."""
    for column, what in (("train_cpu_s_mean", "s training CPU"), ("wall_s_mean", "s wall-clock")):
        value = row.get(column, math.nan)
        if isinstance(value, float) and not math.isnan(value):
            return f"{row['group']} {row['steps_mean']:,.0f} steps, {value:,.0f} {what}"
    return f"{row['group']} {row['steps_mean']:,.0f} steps"


def pair_verdicts(summary: pd.DataFrame, benchmark_note: str) -> list[str]:
    """One line per (claim, pair of groups, selection) whose figure both groups report."""
    lines = []
    for claim in PAIR_CLAIMS:
        rows = summary[summary["algorithm"].map(family).isin([claim.better, claim.worse])]
        for selection, at in rows.groupby("selection", sort=False):
            better = at[at["algorithm"].map(family) == claim.better]
            worse = at[at["algorithm"].map(family) == claim.worse]
            for _, b in better.iterrows():
                for _, w in worse.iterrows():
                    lines.append(_pair_line(claim, b, w, selection, benchmark_note))
    return lines


def _pretrained_share(row: pd.Series) -> float:
    """Share of the row's runs whose selected model precedes every adversarial step (0 when not phased)."""
    share = row.get(f"{BEFORE_ADVERSARIAL}_mean", math.nan)
    return 0.0 if not isinstance(share, float) or math.isnan(share) else share


def _pair_line(claim: PairClaim, b: pd.Series, w: pd.Series, selection: str, benchmark_note: str) -> str:
    f = claim.figure
    a_stats, b_stats = (b[f"{f}_mean"], b[f"{f}_std"]), (w[f"{f}_mean"], w[f"{f}_std"])
    verdict = {"better": "supports", "worse": "contradicts", "overlap": "cannot tell"}[compare(a_stats, b_stats)]
    if verdict == "cannot tell":
        verdict += " (one seed: no error bar)" if min(b["n"], w["n"]) < 2 else " (error bars overlap)"
    pretrained = _pretrained_share(b)
    if pretrained == 1:
        model = f"{b['group']}'s model at {selection}"
        verdict = f"not tested ({model} is its MLE pretraining, before any adversarial step)"
    elif pretrained > 0:
        verdict += f" ({round(pretrained * b['n'])} of {b['n']} {b['group']} runs selected before any adversarial step)"
    numbers = f"{b['group']} {a_stats[0]:.3f} ± {a_stats[1]:.3f} vs {w['group']} {b_stats[0]:.3f} ± {b_stats[1]:.3f}"
    return (
        f"- **{verdict}**: {claim.text} ({claim.citation}). Here, at {selection}: {numbers} {f} "
        f"(n = {b['n']}, {w['n']}; budgets: {_budget(b)}; {_budget(w)}){benchmark_note}."
    )


def caccia_verdicts(temperature: pd.DataFrame, kind: str, benchmark_note: str) -> list[str]:
    """Caccia et al.: MLE is at least as good as the GANs at every temperature, on both curve axes;
    one verdict per pair and model selection (final models; best-validation models where there are any)."""
    axes = ("bleu5", "self_bleu5") if kind == "text" else ("nll_oracle", "nll_test")
    if temperature.empty or any(axis not in temperature for axis in axes):
        return []
    if "selection" not in temperature:
        temperature = temperature.assign(selection="end")
    lines = []
    for selection in [s for s in ("end", "best nll_valid") if s in set(temperature["selection"])]:
        chosen = temperature[temperature["selection"] == selection]
        models = "final models" if selection == "end" else "models at their best nll_valid"
        lines += _caccia_lines(chosen, axes, models, benchmark_note)
    return lines


def _caccia_lines(temperature: pd.DataFrame, axes: tuple[str, str], models: str, benchmark_note: str) -> list[str]:
    stats = temperature.groupby(["algorithm", "temperature"])[list(axes)].agg(["mean", "std"])
    algorithms = stats.index.get_level_values(0).unique()
    lines = []
    for mle in [a for a in algorithms if _family(a) == "mle"]:
        for gan in [a for a in algorithms if _family(a) in GANS]:
            outcomes = []
            for tau in sorted(set(stats.loc[mle].index) & set(stats.loc[gan].index)):
                for axis in axes:
                    m, g = stats.loc[(mle, tau), axis], stats.loc[(gan, tau), axis]
                    outcomes.append(compare((m["mean"], m["std"]), (g["mean"], g["std"]), lower_is_better(axis)))
            if not outcomes:
                continue
            verdict = "contradicts" if "worse" in outcomes else ("supports" if "better" in outcomes else "cannot tell")
            if verdict == "cannot tell":
                verdict += " (error bars overlap at every τ)"
            pretrained = temperature.loc[temperature["algorithm"] == gan].get("before_adversarial")
            if pretrained is not None and len(pretrained) and pretrained.eq(True).all():
                verdict = f"not tested ({gan}'s {models} are its MLE pretraining, before any adversarial step)"
            lines.append(
                f"- **{verdict}**: MLE is at least as good as the GANs across temperatures ({CACCIA}). Here: "
                f"{mle} vs {gan} over τ on {' and '.join(axes)}, {models}: {outcomes.count('better')} "
                f"comparisons better, {outcomes.count('worse')} worse, {outcomes.count('overlap')} within "
                f"error bars{benchmark_note}."
            )
    return lines


def _family(label: str) -> str:
    """The published algorithm of a row label such as `mle (train.steps=50)`."""
    return family(label.split(" (")[0])


def what_this_shows(summary: pd.DataFrame, temperature: pd.DataFrame, kind: str, benchmark: str | None) -> list[str]:
    """The lines of the "What this shows" section for one dataset (empty when no claim applies)."""
    note = "" if benchmark == "canonical_oracle" else "; these data are not the published benchmark"
    lines = pair_verdicts(summary, note) if kind == "synthetic" and "nll_oracle_mean" in summary else []
    return lines + caccia_verdicts(temperature, kind, note if kind == "synthetic" else "")


def claims_section(per_dataset: Sequence[tuple[str, list[str]]]) -> list[str]:
    """The section, with one sub-list per dataset; says so when no published claim applies."""
    lines = ["## What this shows", ""]
    for dataset, found in per_dataset:
        lines += [f"On `{dataset}`:", "", *(found or ["- no published claim concerns these algorithms."]), ""]
    return lines
