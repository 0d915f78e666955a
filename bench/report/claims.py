"""The published claims a report may judge, each with the benchmark and the budget it was made at.

A claim is judged only on its own benchmark (the data's sha256, bench/report/provenance.py) or on a
stand-in the user states (`--stand-in canonical_oracle`), and only where every model it names ran
at least `MIN_BUDGET_SHARE` of the claim's budget in steps; otherwise its verdict is "not tested",
saying why, and the measured direction stays in the evidence as data. A 300-step run on a tiny
oracle therefore never "contradicts" a result obtained with 200,000 iterations on SeqGAN's oracle.

Budgets in steps are the references' (bench/conf/experiment/paper_synthetic.yaml reproduces them):
MLE 18,750 batches (120 epochs of 10,000 sequences at batch 64), CoT 200,000 iterations, SeqGAN's
reference schedule 18,970 steps (120 MLE epochs of 156 batches, 50 discriminator rounds, 200
adversarial rounds). Caccia et al. train every model to its best validation score and state no step
budget for their News models: there the share is not stated, and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.report.curves import CURVES, CurveAxes
from bench.report.published import CACCIA, CACCIA_NEWS, COT_PAPER, SEQGAN_REPO, family

MIN_BUDGET_SHARE = 0.5
"""The least share of a claim's budget (in steps, per model) at which a run may judge the claim."""
BENCHMARK_NAMES = {
    "canonical_oracle": "SeqGAN's oracle",
    "coco": "Texygen's MS-COCO captions",
    "emnlp_news": "EMNLP2017 WMT News",
}
REFERENCE_STEPS = {"mle": 18_750, "cot": 200_000, "seqgan": 18_970}
"""The references' budgets on SeqGAN's oracle, in each algorithm's steps (see the module doc)."""
GANS = ("seqgan", "cot")
"""The algorithms Caccia et al. compared MLE against over temperature (CoT among the "language GANs")."""


@dataclass(frozen=True)
class Claim:
    """A published finding: `better` beats (or, over a curve, is at least as good as) each of `others`."""

    text: str
    citation: str
    benchmarks: frozenset[str]
    better: str
    others: tuple[str, ...]
    budget: Mapping[str, int] = field(default_factory=dict)
    """Steps per algorithm family the claim was made at; empty when the publication states none."""
    figure: str | None = None
    """A pair claim: the figure (at τ = 1, the model as trained) on which `better` is lower."""
    axes: CurveAxes | None = None
    """A curve claim: the temperature curves compared at matched diversity."""


CLAIMS = (
    Claim(
        "CoT reaches a lower NLL_oracle than MLE (≈ 8.1 vs 9.43)",
        COT_PAPER,
        frozenset({"canonical_oracle"}),
        "cot",
        ("mle",),
        {"cot": REFERENCE_STEPS["cot"], "mle": REFERENCE_STEPS["mle"]},
        figure="nll_oracle",
    ),
    Claim(
        "SeqGAN reaches a lower NLL_oracle than MLE (8.68 vs 9.07)",
        SEQGAN_REPO,
        frozenset({"canonical_oracle"}),
        "seqgan",
        ("mle",),
        {"seqgan": REFERENCE_STEPS["seqgan"], "mle": REFERENCE_STEPS["mle"]},
        figure="nll_oracle",
    ),
    Claim(
        "MLE is at least as good as the GANs along the temperature curve",
        CACCIA,
        frozenset({"canonical_oracle"}),
        "mle",
        GANS,
        REFERENCE_STEPS,
        axes=CURVES["synthetic"][0],
    ),
    *(
        Claim(
            "MLE is at least as good as the GANs along the temperature curve",
            CACCIA_NEWS,
            frozenset({"emnlp_news"}),
            "mle",
            GANS,
            axes=axes,
        )
        for axes in CURVES["text"]
    ),
)


def applies(claim: Claim, algorithm_a: str, algorithm_b: str) -> bool:
    """Whether the claim is about algorithm A (its `better`) against algorithm B (one of its `others`)."""
    return family(algorithm_a) == claim.better and family(algorithm_b) in claim.others


def benchmark_of_claim(claim: Claim, data: str | None, stand_in: str | None) -> str | None:
    """The benchmark the claim may be judged on here: the data's own, else the stated stand-in, else None."""
    if data in claim.benchmarks:
        return data
    return stand_in if stand_in in claim.benchmarks else None


def budget_shares(claim: Claim, steps: Mapping[str, float]) -> dict[str, float]:
    """Per algorithm family compared (the keys of `steps`) that the claim budgets: our steps as a share of its."""
    return {name: steps[name] / claimed for name, claimed in claim.budget.items() if name in steps}


def off_benchmark(claim: Claim, data: str | None, stand_in: str | None) -> str | None:
    """Why the claim cannot be judged on these data (not its benchmark, not a stated stand-in), or None."""
    if benchmark_of_claim(claim, data, stand_in) is not None:
        return None
    named = " or ".join(BENCHMARK_NAMES.get(b, b) for b in sorted(claim.benchmarks))
    return f"not tested: these data are not its benchmark ({named}) nor a stated stand-in"


def below_budget(claim: Claim, steps: Mapping[str, float]) -> str | None:
    """Why the claim cannot be judged at these budgets (a model below `MIN_BUDGET_SHARE` of its steps), or None."""
    short = {name: share for name, share in budget_shares(claim, steps).items() if not share >= MIN_BUDGET_SHARE}
    if not short:
        return None
    listed = ", ".join(f"{name} {percent(share)} of {claim.budget[name]:,} steps" for name, share in short.items())
    return f"not tested at this budget ({listed}; at least {percent(MIN_BUDGET_SHARE)} needed)"


def percent(share: float) -> str:
    """A share as a percentage, two significant digits (`0.047 %`, `10 %`), "unknown" for NaN."""
    return "unknown" if share != share else f"{100 * share:.2g} %"


def judged_on_note(claim: Claim, data: str | None, stand_in: str | None) -> str:
    """How the evidence names the data and budget of a tested claim."""
    judged_on = benchmark_of_claim(claim, data, stand_in)
    where = BENCHMARK_NAMES.get(judged_on or "", judged_on or "?")
    where = where if judged_on == data else f"a stand-in for {where}"
    return f"on {where}" + ("" if claim.budget else "; the claim states no step budget")
