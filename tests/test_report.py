"""The report's parts on hand-made run folders: grouping, aggregation, tables, published rows, saturation, claims."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.config.folders import sweep_name
from bench.config.schema import register_configs
from bench.errors import BenchError
from bench.report import claims, figures, tables
from bench.report.aggregate import aggregate, per_run
from bench.report.grouping import group_runs
from bench.report.header import regenerate_command
from bench.report.provenance import benchmark
from bench.report.published import COCO_SHA256, EMNLP_TEST_SHA256, SYNTHETIC, benchmark_of, family, published_rows
from bench.report.runs import collect
from bench.report.writer import discriminator_notes
from tests.conftest import CONF_DIR, shared_file
from tests.run_folders import make_run

CANONICAL = "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a"


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
    summary = aggregate(group_runs(collect(tmp_path / "a")), ["nll_oracle"])
    best = summary[(summary["algorithm"] == "seqgan") & (summary["selection"] == "best nll_valid")].iloc[0]
    assert best["before_adversarial_mean"] == 1.0 and best["nll_oracle_mean"] == 8.0
    end = summary[(summary["algorithm"] == "seqgan") & (summary["selection"] == "end")].iloc[0]
    assert end["before_adversarial_mean"] == 0.0
    assert math.isnan(summary[summary["algorithm"] == "mle"]["before_adversarial_mean"].iloc[0])
    labels = list(tables.display_table(summary, [], ["nll_oracle"])["at"])
    assert "best nll_valid (MLE pretraining: before any adversarial step)" in labels and "end" in labels
    lines = claims.what_this_shows(summary, pd.DataFrame(), "synthetic", None)
    seqgan = [line for line in lines if "SeqGAN reaches" in line]
    assert [line.split("**")[1][:10] for line in seqgan] == ["supports", "not tested"]
    assert "seqgan's model at best nll_valid is its MLE pretraining" in seqgan[1]
    # one seed of two selected after adversarial training began: the verdict stands, with the count
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


def test_runs_of_one_dataset_name_on_different_data_are_refused(tmp_path: Path) -> None:
    make_run(tmp_path, "mle", 0, {"nll_oracle": 2.0}, config={"dataset.oracle_seed": 1})
    make_run(tmp_path, "cot", 0, {"nll_oracle": 2.0}, config={"dataset.oracle_seed": 2})
    with pytest.raises(BenchError, match=r"synthetic_tiny: runs used different data \(dataset.oracle_seed\)"):
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


def test_published_rows_are_decided_by_sha256_never_by_name(tmp_path: Path) -> None:
    canonical = {"oracle": "/x/target_params_py3.pkl", "oracle_sha256": CANONICAL, "n_train": 10_000}
    embedded = {"oracle": "embedded", "oracle_seed": 2017}
    make_run(tmp_path / "a", "mle", 0, {"nll_oracle": 9.0}, dataset="synthetic", data=canonical)
    make_run(tmp_path / "b", "mle", 0, {"nll_oracle": 9.0}, dataset="synthetic", data=embedded)
    own_coco = {"files": [{"path": "train.txt", "sha256": "0" * 64}, {"path": "test.txt", "sha256": "1" * 64}]}
    make_run(tmp_path / "c", "mle", 0, {"bleu2": 0.5}, dataset="coco", data=own_coco)
    texygen = {"train": {"sha256": sorted(COCO_SHA256)[0]}, "test": {"sha256": sorted(COCO_SHA256)[1]}}
    make_run(tmp_path / "d", "mle", 0, {"bleu2": 0.5}, dataset="my_corpus", data=texygen)
    assert benchmark(collect(tmp_path / "a")) == "canonical_oracle"
    assert benchmark(collect(tmp_path / "b")) is None  # named "synthetic", but not the canonical oracle
    assert benchmark(collect(tmp_path / "c")) is None  # named "coco", but other files
    assert benchmark(collect(tmp_path / "d")) == "coco"  # Texygen's files under another name
    assert benchmark(collect(tmp_path / "a") + collect(tmp_path / "b")) is None  # mixed: no published rows
    assert published_rows(None) == () and published_rows("canonical_oracle") == SYNTHETIC
    assert benchmark_of({EMNLP_TEST_SHA256}) == "emnlp_news"  # the EMNLP News rows are keyed by its test split


def test_old_runs_without_provenance_are_identified_by_hashing_their_oracle_file(tmp_path: Path) -> None:
    oracle = tmp_path / "oracle.pkl"
    oracle.write_bytes(b"not the canonical oracle")
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 9.0}, config={"dataset.oracle_path": str(oracle)})
    assert benchmark(collect(tmp_path / "s")) is None
    canonical = shared_file("oracle", "target_params_py3.pkl")
    make_run(tmp_path / "t", "mle", 0, {"nll_oracle": 9.0}, config={"dataset.oracle_path": str(canonical)})
    assert benchmark(collect(tmp_path / "t")) == "canonical_oracle"


@pytest.mark.parametrize(
    "parts, expected",
    [
        (("coco", "image_coco.txt"), "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5"),
        (("coco", "test_coco.txt"), "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae"),
        (("emnlp_news", "test_emnlp.txt"), EMNLP_TEST_SHA256),
        (("oracle", "target_params_py3.pkl"), CANONICAL),
    ],
)
def test_hard_coded_identities_match_the_shared_data_files(parts: tuple[str, str], expected: str) -> None:
    import hashlib

    digest = hashlib.sha256(shared_file(*parts).read_bytes()).hexdigest()
    assert digest == expected
    assert expected in COCO_SHA256 | {EMNLP_TEST_SHA256, CANONICAL}


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


def test_family_maps_config_choices_to_published_algorithms() -> None:
    assert [family(a) for a in ("seqgan_tiny", "seqgan", "cot", "mle", "nested_cot", "mlex")] == [
        "seqgan",
        "seqgan",
        "cot",
        "mle",
        "nested_cot",
        "mlex",
    ]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["experiment=smoke"], "outputs/sweeps/smoke"),
        (["sweep=ablation"], "outputs/sweeps/ablation"),
        (["experiment=smoke", "sweep=mine"], "outputs/sweeps/mine"),
        (["dataset=synthetic_tiny", "algorithm=mle"], "outputs/sweeps/synthetic_tiny"),
    ],
)
def test_every_sweep_has_a_name(overrides: list[str], expected: str) -> None:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    assert OmegaConf.select(cfg, "hydra.sweep.dir") == expected
    assert "sweep" not in OmegaConf.select(cfg, "hydra.sweep.subdir")  # the name never renames run folders


def test_an_unnamed_sweep_is_named_after_its_dataset_and_overrides() -> None:
    overrides = ["seed=0,1", "algorithm=mle", "eval.n_samples=500", "train.steps=50", "+steps_by_algorithm.mle=5"]
    overrides += ["threads=2", "logger.every=5"]  # how it ran: never in a name
    assert sweep_name(None, None, "synthetic_tiny", overrides) == "synthetic_tiny,eval.n_samples=500"
    assert sweep_name(None, None, "synthetic_tiny", ["algorithm.lr=0.1"]) == "synthetic_tiny,algorithm.lr=0.1"
    assert sweep_name(None, "None", "coco", []) == "coco"
    assert sweep_name("x", "smoke", "coco", ["a=1"]) == "x"


def test_the_regenerating_command_is_the_recorded_sweep_then_the_report(tmp_path: Path) -> None:
    sweep = tmp_path / "synthetic_tiny,train.steps=50"
    sweep.mkdir()
    assert regenerate_command(sweep, ["x"]) == "python -m bench.report x"
    overrides = ["seed=0,1", "dataset=synthetic_tiny", "train.steps=50"]
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": overrides}}}))
    assert regenerate_command(sweep, ["x", "--out", "a b"]) == (
        "python -m bench -m seed=0,1 dataset=synthetic_tiny train.steps=50 && python -m bench.report x --out 'a b'"
    )
    expected = "python -m bench experiment=smoke && python -m bench.report y"
    assert regenerate_command(tmp_path / "smoke", ["y"]) == expected
