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
