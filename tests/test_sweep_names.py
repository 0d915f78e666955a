"""Sweep folders are named (by experiment, by `sweep=`, else by dataset and the overrides that change
results), and a report's regenerating command is the recorded sweep followed by the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.config.folders import sweep_name
from bench.config.schema import register_configs
from bench.report.header import regenerate_command
from tests.conftest import CONF_DIR


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
    assert sweep_name(None, None, "synthetic_tiny", overrides) == "synthetic_tiny__eval.n_samples-500"
    assert sweep_name(None, None, "synthetic_tiny", ["algorithm.lr=0.1,0.2"]) == "synthetic_tiny__algorithm.lr-0.1+0.2"
    assert sweep_name(None, None, "synthetic", ["dataset=coco,synthetic_tiny"]) == "coco+synthetic_tiny"
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


def test_a_folder_filled_by_two_commands_regenerates_with_both(tmp_path: Path) -> None:
    from bench.report.runs import collect
    from tests.run_folders import make_run

    first = [(algorithm, seed) for seed in (0, 1) for algorithm in ("cot", "cot_no_dropout")]
    for algorithm, seed in first + [("seqgan_scratch", seed) for seed in (0, 1)]:
        run_dir = make_run(tmp_path / "sweep", algorithm, seed, {"nll_oracle": 3.0})
        overrides = [f"seed={seed}", f"algorithm={algorithm}", "experiment=mid_ablations"]
        overrides += ["eval.every=10"] if algorithm == "seqgan_scratch" else []
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    last = ["experiment=mid_ablations", "algorithm=seqgan_scratch", "eval.every=10"]  # Hydra keeps only this
    (tmp_path / "sweep" / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": last}}}))
    runs = sorted(collect(tmp_path / "sweep"), key=lambda run: (run.seed, run.algorithm))
    assert regenerate_command(tmp_path / "sweep", ["s"], runs=runs) == (
        "python -m bench -m experiment=mid_ablations algorithm=cot,cot_no_dropout seed=0,1"
        " && python -m bench -m experiment=mid_ablations eval.every=10 algorithm=seqgan_scratch seed=0,1"
        " && python -m bench.report s"
    )
    one_command = [run for run in runs if run.algorithm != "seqgan_scratch"]  # one command: Hydra's record
    assert regenerate_command(tmp_path / "sweep", ["s"], runs=one_command).startswith("python -m bench -m experiment")
