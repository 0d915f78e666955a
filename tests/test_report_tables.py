"""The report's aggregation and tables on hand-made run folders: mean, sample std and n by hand, the
best-validation and discriminator rows read from history, refusal to average unlike runs, and the CSV,
Markdown and LaTeX tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import tables
from bench.report.aggregate import aggregate, per_run
from bench.report.grouping import group_runs, sections
from bench.report.published import published_rows
from bench.report.runs import collect
from bench.report.sections import discriminator_notes
from bench.report.verdicts import SectionData, section_verdicts
from tests.run_folders import make_run


@pytest.fixture
def hand_made_sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "sweep"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0, "nll_test": 3.0, "jsd": 0.10, "jsd_se": 0.01})
    make_run(sweep, "mle", 1, {"nll_oracle": 4.0, "nll_test": 5.0, "jsd": 0.30, "jsd_se": 0.01})
    make_run(sweep, "mle", 2, {"nll_oracle": 100.0, "nll_test": 100.0, "jsd": 0.6}, status="running")
    make_run(sweep, "cot", 0, {"nll_oracle": 1.5, "nll_test": 2.5, "jsd": 0.05, "jsd_se": 0.01})
    make_run(sweep, "cot", 1, {"nll_oracle": 99.0, "nll_test": 99.0, "jsd": 0.6}, status="failed")
    return sweep


def test_aggregation_gives_hand_computed_mean_sample_std_n_and_budget(hand_made_sweep: Path) -> None:
    runs = collect(hand_made_sweep)
    assert len(runs) == 5
    summary = aggregate(group_runs(runs), ["nll_oracle", "jsd"]).set_index("algorithm")
    assert summary.loc["mle", "n"] == 2 and summary.loc["cot", "n"] == 1
    assert summary.loc["mle", "nll_oracle_mean"] == pytest.approx(3.0)
    assert summary.loc["mle", "nll_oracle_std"] == pytest.approx(math.sqrt(2.0))  # sample std of {2, 4}
    assert summary.loc["mle", "jsd_mean"] == pytest.approx(0.2)
    assert summary.loc["mle", "steps_mean"] == 10 and summary.loc["mle", "wall_s_mean"] == pytest.approx(13.0)
    assert math.isnan(summary.loc["cot", "nll_oracle_std"])  # one seed: no spread to report
    assert set(summary["selection"]) == {"end"}  # no nll_valid column: no model selection row


def test_best_validation_row_is_read_from_history(tmp_path: Path) -> None:
    history = [
        {"step": 0, "nll_oracle": 9.0, "nll_valid": 8.0, "wall_s": 0.0},
        {"step": 10, "nll_oracle": 7.0, "nll_valid": 6.0, "wall_s": 5.0},
        {"step": 20, "nll_oracle": 7.5, "nll_valid": 6.5, "wall_s": 9.0},
    ]
    make_run(tmp_path, "mle", 0, {"nll_oracle": 7.5, "nll_valid": 6.5, "step": 20}, history=history)
    summary = aggregate(group_runs(collect(tmp_path)), ["nll_oracle", "nll_valid"]).set_index("selection")
    assert summary.loc["end", "nll_oracle_mean"] == 7.5 and summary.loc["end", "steps_mean"] == 20
    assert summary.loc["best nll_valid", "nll_oracle_mean"] == 7.0
    assert summary.loc["best nll_valid", "steps_mean"] == 10 and summary.loc["best nll_valid", "wall_s_mean"] == 5.0
    runs = per_run(group_runs(collect(tmp_path)), ["nll_oracle"]).set_index("selection")
    assert runs.loc["best nll_valid", "nll_oracle"] == 7.0 and runs.loc["end", "steps"] == 20


def test_discriminator_accuracy_is_read_at_the_end_of_discriminator_pretraining(tmp_path: Path) -> None:
    for seed, at_start in ((0, 0.71), (1, 0.83)):
        history = [
            {"step": 0, "phase": "pretrain_g", "nll_oracle": 9.0},
            {"step": 5, "phase": "pretrain_d", "nll_oracle": 8.0, "d_test_acc": 0.6},
            {"step": 8, "phase": "pretrain_d", "nll_oracle": 8.0, "d_test_acc": at_start},
            {"step": 9, "phase": "adversarial", "nll_oracle": 7.9, "d_test_acc": 0.99},
        ]
        make_run(tmp_path, "seqgan", seed, {"nll_oracle": 7.9, "step": 9}, history=history)
    make_run(tmp_path, "mle", 0, {"nll_oracle": 7.0, "step": 9})
    (note,) = discriminator_notes(collect(tmp_path))
    assert "seed 0: 0.710, seed 1: 0.830; lowest 0.710" in note
    assert discriminator_notes([run for run in collect(tmp_path) if run.algorithm == "mle"]) == []


def _seqgan_history(best_valid_phase: str) -> list[dict]:
    """SeqGAN's evaluations: NLL_valid lowest at the end of `best_valid_phase`."""
    valid = {"pretrain_g": 6.0, "pretrain_d": 6.5, "adversarial": 6.5}
    valid[best_valid_phase] = 5.0
    return [
        {"step": 0, "phase": "pretrain_g", "nll_oracle": 9.0, "nll_valid": 9.0},
        {"step": 5, "phase": "pretrain_g", "nll_oracle": 8.0, "nll_valid": valid["pretrain_g"]},
        {"step": 8, "phase": "pretrain_d", "nll_oracle": 8.0, "nll_valid": valid["pretrain_d"]},
        {"step": 9, "phase": "adversarial", "nll_oracle": 7.9, "nll_valid": valid["adversarial"]},
    ]


def test_a_seqgan_model_selected_before_adversarial_training_is_named_and_tests_no_claim(tmp_path: Path) -> None:
    """SeqGAN's best-validation evaluation is often its MLE pretraining: the table says so, and the
    SeqGAN-beats-MLE claim is "not tested" there, since it would compare two MLE models."""
    for seed in (0, 1):
        make_run(tmp_path / "a", "seqgan", seed, {"nll_oracle": 7.9, "step": 9}, history=_seqgan_history("pretrain_g"))
        make_run(tmp_path / "a", "mle", seed, {"nll_oracle": 9.0 + 0.01 * seed, "nll_valid": 7.0, "step": 9})
    groups = group_runs(collect(tmp_path / "a"))
    summary = aggregate(groups, ["nll_oracle"])
    best = summary[(summary["algorithm"] == "seqgan") & (summary["selection"] == "best nll_valid")].iloc[0]
    assert best["before_adversarial_mean"] == 1.0 and best["nll_oracle_mean"] == 8.0
    end = summary[(summary["algorithm"] == "seqgan") & (summary["selection"] == "end")].iloc[0]
    assert end["before_adversarial_mean"] == 0.0
    assert math.isnan(summary[summary["algorithm"] == "mle"]["before_adversarial_mean"].iloc[0])
    labels = list(tables.display_table(summary, [], ["nll_oracle"])["at"])
    assert "best nll_valid (MLE pretraining: before any adversarial step)" in labels and "end" in labels
    judged = SectionData("synthetic_tiny", per_run(groups, ["nll_oracle"]), summary, pd.DataFrame(), None, None)
    judged = SectionData(judged.section, judged.per_run, judged.summary, judged.temperature, "canonical_oracle", None)
    verdicts, _ = section_verdicts(judged, "synthetic")
    seqgan = {v.selection: v.verdict for v in verdicts if v.claim.startswith("SeqGAN reaches")}
    assert seqgan["best nll_valid"].startswith(
        "not tested: `seqgan`'s models at best nll_valid are its MLE pretraining"
    )
    assert seqgan["end"].startswith("not tested at this budget")  # 9 steps of the reference 18,970
    # one seed of two selected after adversarial training began: the row says how many
    make_run(tmp_path / "b", "seqgan", 0, {"nll_oracle": 7.9, "step": 9}, history=_seqgan_history("pretrain_d"))
    make_run(tmp_path / "b", "seqgan", 1, {"nll_oracle": 7.9, "step": 9}, history=_seqgan_history("adversarial"))
    mixed = aggregate(group_runs(collect(tmp_path / "b")), ["nll_oracle"])
    best = mixed[mixed["selection"] == "best nll_valid"].iloc[0]
    assert best["before_adversarial_mean"] == 0.5
    assert tables.selection_label(best) == "best nll_valid (1 of 2 runs before any adversarial step)"


def test_runs_whose_configs_differ_are_refused_naming_the_keys_unless_grouped(tmp_path: Path) -> None:
    for seed, steps in ((0, 50), (1, 100), (2, 100)):
        make_run(tmp_path, "mle", seed, {"nll_oracle": 2.0 + seed}, config={"train.steps": steps})
    runs = collect(tmp_path)
    with pytest.raises(BenchError, match=r"^synthetic_tiny/mle: runs differ in train.steps; refusing to average"):
        group_runs(runs)
    groups = group_runs(runs, ["train.steps"])
    assert sorted((g.label, len(members)) for g, members in groups.items()) == [
        ("mle (train.steps=100)", 2),
        ("mle (train.steps=50)", 1),
    ]
    with pytest.raises(BenchError, match="--group-by nope: not a config key"):
        group_runs(runs, ["nope"])


def test_runs_of_one_dataset_name_on_different_data_are_reported_in_separate_sections(tmp_path: Path) -> None:
    for seed in (0, 1):
        make_run(tmp_path, "mle", seed, {"nll_oracle": 2.0}, config={"dataset.oracle_seed": 1})
        make_run(tmp_path / "second", "mle", seed, {"nll_oracle": 3.0}, config={"dataset.oracle_seed": 2})
    groups = group_runs(collect(tmp_path))
    found = sections(groups)
    assert list(found) == ["synthetic_tiny (dataset.oracle_seed=1)", "synthetic_tiny (dataset.oracle_seed=2)"]
    assert [len(runs) for members in found.values() for runs in members.values()] == [2, 2]
    assert [group.slug for group in groups] == [
        "synthetic_tiny_dataset_oracle_seed_1",
        "synthetic_tiny_dataset_oracle_seed_2",
    ]
    [grouped] = sections(group_runs(collect(tmp_path), ["dataset.oracle_seed"])).values()  # one table, two rows
    assert sorted(group.label for group in grouped) == ["mle (dataset.oracle_seed=1)", "mle (dataset.oracle_seed=2)"]


def test_a_seed_twice_in_one_row_is_refused_naming_both_folders(tmp_path: Path) -> None:
    first = make_run(tmp_path, "mle", 0, {"nll_oracle": 2.0})
    copy = make_run(tmp_path / "copy", "mle", 0, {"nll_oracle": 2.0})
    with pytest.raises(BenchError, match=f"seed 0 twice \\({first}|{copy}"):
        group_runs(collect(tmp_path))


def test_csv_is_numeric_and_markdown_latex_show_mean_std_and_citations(hand_made_sweep: Path) -> None:
    summary = aggregate(group_runs(collect(hand_made_sweep)), ["nll_oracle"])
    published = published_rows("canonical_oracle")
    numeric = tables.numeric_table(summary, published, ["nll_oracle"])
    ours = numeric[numeric["source"] == tables.OURS].set_index("algorithm")
    assert ours["nll_oracle_mean"].dtype == float and ours.loc["mle", "nll_oracle_n"] == 2
    cot_paper = numeric[(numeric["algorithm"] == "cot") & (numeric["source"] == "CoT paper")].iloc[0]
    assert cot_paper["nll_oracle_mean"] == 8.1 and "nll_oracle" in cot_paper["approximate"]
    display = tables.display_table(summary, published, ["nll_oracle"])
    text = tables.markdown(display)
    assert "3.000 ± 1.414" in text and "this suite (n = 2)" in text
    assert "≈ 8.1" in text and "8.100" not in text
    assert "Lu, Yu, Feng, Zhu, Zhang & Yu 2019 (ICML)" in text
    assert "LantaoYu/SeqGAN reference repository" in text and "Caccia, Caccia, Fedus" in text
    latex = tables.latex(display, "my caption", "tab:x")
    for needle in (
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
        r"\caption{my caption}",
        r"\label{tab:x}",
        r"$\approx$ 8.1",
    ):
        assert needle in latex
    assert r"3.000 $\pm$ 1.414" in latex


def test_published_rows_of_a_family_appear_once_under_its_first_variant(tmp_path: Path) -> None:
    for algorithm in ("cot", "cot_no_dropout"):
        for seed in (0, 1):
            make_run(tmp_path, algorithm, seed, {"nll_oracle": 9.0 + seed, "nll_test": 7.0})
    summary = aggregate(group_runs(collect(tmp_path)), ["nll_oracle"])
    published = published_rows("canonical_oracle")
    cot_rows = [entry for entry in published if entry.algorithm == "cot"]
    assert len(cot_rows) >= 2  # the CoT paper and Caccia et al.
    numeric = tables.numeric_table(summary, published, ["nll_oracle"])
    assert (numeric["selection"] == "published").sum() == len(cot_rows)
    display = tables.display_table(summary, published, ["nll_oracle"])
    assert list(display["at"]) == ["end", *["published"] * len(cot_rows), "end"]
    assert list(display["algorithm"])[-1] == "cot_no_dropout"
