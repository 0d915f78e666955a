"""End to end: configs compose, one run writes its directory, bad values fail cleanly, seeds repeat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.report import main as report_main
from bench.run import run
from tests.conftest import CONF_DIR, REPO_ROOT, compose_config, run_cli

TINY_RUN = ("dataset=synthetic_tiny", "train.steps=60", "eval.every=20", "eval.n_samples=400", "progress=false")


def test_cli_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    result = run_cli(*TINY_RUN, run_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    assert {"seed", "git_revision", "versions", "device", "algorithm", "dataset"} <= metrics.keys()
    assert metrics["algorithm"] == "mle" and metrics["dataset"] == "synthetic_tiny"
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [0, 20, 40, 60]
    assert {"wall_s", "g_loss", "nll_oracle", "nll_test", "jsd"} <= set(history.columns)
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0]
    assert metrics["final"]["nll_test"] == pytest.approx(history["nll_test"].iloc[-1])
    assert (tmp_path / "config.yaml").read_text().startswith("algorithm:")
    assert len((tmp_path / "samples.txt").read_text().splitlines()) == 400


def test_same_seed_same_figures_different_seed_different_figures(tmp_path: Path) -> None:
    first = run(compose_config(*TINY_RUN, "seed=3"), tmp_path / "a")
    again = run(compose_config(*TINY_RUN, "seed=3"), tmp_path / "b")
    other = run(compose_config(*TINY_RUN, "seed=4"), tmp_path / "c")
    assert first == again
    assert first != other
    assert (tmp_path / "a" / "samples.txt").read_text() == (tmp_path / "b" / "samples.txt").read_text()


def test_unknown_target_is_a_clear_error(tmp_path: Path) -> None:
    cfg = compose_config(*TINY_RUN, "algorithm._target_=algorithms.nope.Nope")
    with pytest.raises(BenchError, match="algorithm._target_=algorithms.nope.Nope: cannot be imported"):
        run(cfg, tmp_path)


def test_smoke_experiment_runs_every_algorithm_and_reports(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "bench", "experiment=smoke", f"hydra.sweep.dir={tmp_path / 'smoke'}"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "smoke").rglob("metrics.json")]
    algorithms = {record["algorithm"] for record in records}  # each the config choice of the sweep
    expected = set(OmegaConf.load(CONF_DIR / "experiment" / "smoke.yaml").hydra.sweeper.params.algorithm.split(","))
    assert algorithms == expected
    assert [record["status"] for record in records] == ["complete"] * 2 * len(expected)

    out = tmp_path / "results"
    assert report_main([str(tmp_path / "smoke"), "--out", str(out), "--temperatures", "0.8,1,1.25"]) == 0
    table = pd.read_csv(out / "table.csv", comment="#")
    ours = table[table["source"].str.startswith("this suite")]
    assert sorted(ours["algorithm"]) == sorted(expected)
    assert (ours["n"] == 2).all()
    for name in ("learning_curves.png", "temperature_curves.png"):
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    temperature = pd.read_csv(out / "temperature.csv", comment="#")
    assert len(temperature) == 2 * len(expected) * 3
