"""Which figures a report shows (by dataset kind; a saturated JSD left out with a note) and what it says:
each claim supported, contradicted or undecided from the error bars, the Caccia claim over temperatures."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from bench.report import claims, figures
from bench.report.runs import collect
from tests.run_folders import make_run


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


def _summary(rows: list[tuple[str, float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "algorithm": a,
                "group": a,
                "selection": "end",
                "n": n,
                "nll_oracle_mean": m,
                "nll_oracle_std": s,
                "steps_mean": 100.0,
                "wall_s_mean": 60.0,
            }
            for a, m, s, n in rows
        ]
    )


def test_claims_support_contradict_or_cannot_tell_from_error_bars() -> None:
    supports = claims.what_this_shows(
        _summary([("cot", 8.0, 0.1, 3), ("mle", 9.0, 0.1, 3)]), pd.DataFrame(), "synthetic", "canonical_oracle"
    )
    assert len(supports) == 1 and supports[0].startswith("- **supports**: CoT reaches a lower NLL_oracle")
    assert "100 steps, 60 s" in supports[0] and "not the published benchmark" not in supports[0]
    contradicts = claims.what_this_shows(
        _summary([("cot", 9.5, 0.1, 3), ("mle", 9.0, 0.1, 3)]), pd.DataFrame(), "synthetic", None
    )
    assert contradicts[0].startswith("- **contradicts**") and "not the published benchmark" in contradicts[0]
    overlap = claims.what_this_shows(
        _summary([("cot", 9.0, 0.3, 3), ("mle", 9.2, 0.3, 3)]), pd.DataFrame(), "synthetic", None
    )
    assert overlap[0].startswith("- **cannot tell (error bars overlap)**")
    lines = claims.what_this_shows(
        _summary([("seqgan_tiny", 8.0, 0.1, 2), ("mle", 9.0, 0.1, 2), ("cot", 9.0, 0.1, 2)]),
        pd.DataFrame(),
        "synthetic",
        None,
    )
    assert [line.split(": ")[1][:22] for line in lines] == ["CoT reaches a lower NL", "SeqGAN reaches a lower"]
    assert claims.what_this_shows(_summary([("mle", 9.0, 0.1, 2)]), pd.DataFrame(), "synthetic", None) == []


def test_caccia_claim_is_read_over_temperatures() -> None:
    rows = []
    for seed in (0, 1, 2):
        for tau in (0.8, 1.0):
            rows.append(
                {"algorithm": "mle", "seed": seed, "temperature": tau, "nll_oracle": 8 + 0.01 * seed, "nll_test": 7.0}
            )
            rows.append(
                {
                    "algorithm": "seqgan",
                    "seed": seed,
                    "temperature": tau,
                    "nll_oracle": 9 + 0.01 * seed,
                    "nll_test": 7.0,
                }
            )
    [line] = claims.caccia_verdicts(pd.DataFrame(rows), "synthetic", "")
    assert (
        line.startswith("- **supports**: MLE is at least as good as the GANs")
        and "2 comparisons better, 0 worse" in line
    )
    for row in rows:
        if row["algorithm"] == "seqgan" and row["temperature"] == 0.8:
            row["nll_test"] = 6.0  # the GAN wins one axis at one τ beyond the error bars
    [line] = claims.caccia_verdicts(pd.DataFrame(rows), "synthetic", "")
    assert line.startswith("- **contradicts**")
