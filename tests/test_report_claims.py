"""Which figures a report shows (by dataset kind; a saturated JSD left out with a note), and how a published
claim is judged: only on its benchmark (or a stated stand-in) at a stated share of its budget, by Welch's
interval on the per-seed figures; otherwise "not tested", with the measured direction kept as evidence."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.report import figures
from bench.report.aggregate import aggregate, per_run
from bench.report.claims import REFERENCE_STEPS
from bench.report.grouping import group_runs
from bench.report.runs import collect
from bench.report.stats import welch
from bench.report.verdicts import SectionData, Verdict, section_verdicts
from tests.run_folders import make_run
from tests.test_report_curves import curve_rows, table


def test_a_saturated_jsd_column_is_left_out_with_a_note(tmp_path: Path) -> None:
    ln2 = math.log(2)
    for seed in (0, 1):
        final = {
            "nll_oracle": 9.0,
            "jsd": ln2 - 1e-6,
            "jsd_se": 1e-5,
            "jsd_prefix_mean": 0.63,
            "jsd_prefix_mean_se": 1e-3,
        }
        make_run(tmp_path, "mle", seed, final)
    runs = collect(tmp_path)
    shown, notes = figures.choose("synthetic", runs)
    assert shown == ("nll_oracle", "jsd_prefix_mean")
    assert notes == [figures.saturation_note("jsd")] and "within 3 s.e. of ln 2" in notes[0]
    runs[0].final["jsd"] = ln2 - 1e-3  # 100 s.e. below ln 2 in one run: the column says something
    assert figures.choose("synthetic", runs) == (("nll_oracle", "jsd_prefix_mean", "jsd"), [])


def test_figures_follow_the_dataset_kind_not_key_names(tmp_path: Path) -> None:
    run = make_run(tmp_path, "mle", 0, {"nll_test": 3.0, "bleu2": 0.4, "nll_oracle": 1.0})
    [result] = collect(tmp_path)
    assert figures.dataset_kind(result) == "synthetic"
    assert figures.candidate_figures("synthetic", [result]) == ("nll_oracle", "nll_test")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["dataset"]["figures"]["_target_"] = "bench.evaluation.text.TextFigures"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert figures.dataset_kind(result) == "text"
    assert figures.candidate_figures("text", [result]) == ("bleu2", "nll_test")


CANONICAL = {"oracle_sha256": "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a"}
COT_CLAIM = "CoT reaches a lower NLL_oracle than MLE (≈ 8.1 vs 9.43)"


def sweep(root: Path, figures_by_algorithm: dict[str, list[float]], steps: dict[str, int], data=None) -> Path:
    """Hand-made runs: per algorithm one run per value (its final NLL_oracle), trained `steps[algorithm]` steps."""
    for algorithm, values in figures_by_algorithm.items():
        for seed, value in enumerate(values):
            history = [{"step": 0, "nll_oracle": value + 1}, {"step": steps[algorithm], "nll_oracle": value}]
            make_run(root, algorithm, seed, {"nll_oracle": value}, history=history, data=data)
    return root


def judged(root: Path, data: str | None, stand_in: str | None = None, temperature=None) -> list[Verdict]:
    groups = group_runs(collect(root))
    summary = aggregate(groups, ["nll_oracle"])
    frame = temperature if temperature is not None else pd.DataFrame()
    section = SectionData("s", per_run(groups, ["nll_oracle"]), summary, frame, data, stand_in)
    return section_verdicts(section, "synthetic")[0]


def claim_verdicts(verdicts: list[Verdict], start: str, selection: str = "end") -> list[Verdict]:
    return [v for v in verdicts if v.claim.startswith(start) and v.selection == selection]


@pytest.mark.parametrize(
    ("cot", "verdict"),
    [
        ([8.1, 8.2, 8.0], "supports"),
        ([9.7, 9.8, 9.6], "contradicts"),
        ([9.0, 9.9, 9.4], "cannot tell"),  # the interval holds zero
    ],
)
def test_a_claim_on_its_benchmark_at_its_budget_is_judged_by_welch(tmp_path: Path, cot, verdict: str) -> None:
    mle = [9.4, 9.45, 9.5]
    sweep(tmp_path, {"cot": cot, "mle": mle}, REFERENCE_STEPS, CANONICAL)
    [found] = claim_verdicts(judged(tmp_path, "canonical_oracle"), COT_CLAIM)
    assert found.verdict == verdict
    expected = welch(cot, mle)
    assert found.numbers["estimate"] == pytest.approx(expected.estimate)
    assert (found.numbers["ci_low"], found.numbers["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert f"(n = 3, 3); difference {expected.estimate:+.3f}".replace("-", "−") in found.evidence
    assert "budgets: `cot` 200,000 steps, `mle` 18,750" in found.evidence
    if verdict != "cannot tell":
        assert found.evidence.endswith("on SeqGAN's oracle")


def test_a_300_step_sweep_on_a_tiny_oracle_tests_no_published_claim_but_keeps_the_measured_direction(
    tmp_path: Path,
) -> None:
    sweep(tmp_path, {"cot": [3.9, 3.95, 3.85], "mle": [2.4, 2.45, 2.5]}, {"cot": 300, "mle": 300})
    verdicts = judged(tmp_path, None)
    [found] = claim_verdicts(verdicts, COT_CLAIM)
    assert found.verdict == "not tested: these data are not its benchmark (SeqGAN's oracle) nor a stated stand-in"
    assert "`mle` better" in found.evidence  # the direction measured stays, as data
    [stand_in] = claim_verdicts(judged(tmp_path, None, stand_in="canonical_oracle"), COT_CLAIM)
    assert stand_in.verdict == (
        "not tested at this budget (cot 0.15 % of 200,000 steps, mle 1.6 % of 18,750 steps; at least 50 % needed)"
    )
    assert stand_in.numbers["budget_percent_a"] == pytest.approx(0.15) and stand_in.numbers["claim_steps_a"] == 200_000
    assert not any(v.verdict in ("supports", "contradicts") for v in verdicts)


def test_a_stated_stand_in_at_the_claims_budget_is_judged_and_says_so(tmp_path: Path) -> None:
    sweep(tmp_path, {"cot": [3.0, 3.01, 2.99], "mle": [3.2, 3.21, 3.19]}, REFERENCE_STEPS)
    [found] = claim_verdicts(judged(tmp_path, None, stand_in="canonical_oracle"), COT_CLAIM)
    assert found.verdict == "supports" and found.evidence.endswith("on a stand-in for SeqGAN's oracle")


def test_the_caccia_claim_is_read_off_the_curve_comparison(tmp_path: Path) -> None:
    sweep(tmp_path, {"mle": [9.0, 9.1], "seqgan": [9.2, 9.3]}, {"mle": 18_750, "seqgan": 18_970}, CANONICAL)

    def verdict(mle_quality, seqgan_quality) -> Verdict:
        curves = table(curve_rows("mle", mle_quality, seeds=(0, 1)), curve_rows("seqgan", seqgan_quality, seeds=(0, 1)))
        [found] = claim_verdicts(judged(tmp_path, "canonical_oracle", temperature=curves), "MLE is at least as good")
        return found

    assert verdict(lambda e: 1 + e, lambda e: 2 + e).verdict == "supports"
    assert verdict(lambda e: 2 + e, lambda e: 1 + e).verdict == "contradicts"
    crossing = verdict(lambda e: 1 + e, lambda e: 1 + e + (e - 2))
    assert crossing.verdict == "mixed: each model better somewhere"
    assert "`mle` better at" in crossing.evidence and "`seqgan` better at" in crossing.evidence
    same = verdict(lambda e: 1 + e, lambda e: 1 + e)
    assert same.verdict == "cannot tell"
