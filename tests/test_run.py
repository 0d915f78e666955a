"""End to end: configs compose, one run writes its directory, bad values fail cleanly, seeds repeat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.evaluation.catalogue import HEADLINE
from bench.report import main as report_main
from bench.training.run import run
from tests.conftest import CONF_DIR, REPO_ROOT, cli_env, compose_spec, run_cli
from tests.plotted import Plot

TINY_RUN = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=60",
    "eval.every=20",
    "eval.n_samples=400",
    "progress=false",
)


def test_cli_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    result = run_cli(*TINY_RUN, run_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    assert {"seed", "git_revision", "versions", "device", "algorithm", "dataset"} <= metrics.keys()
    assert metrics["algorithm"] == "mle" and metrics["dataset"] == "synthetic_tiny"
    assert {"nltk", "sacrebleu", "pandas", "torch", "numpy", "hydra"} <= metrics["versions"].keys()
    assert isinstance(metrics["data"], dict) and metrics["warnings"] == []
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [0, 20, 40, 60]
    assert {"wall_s", "g_loss", "nll_oracle", "nll_test", "jsd"} <= set(history.columns)
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0]
    assert metrics["final"]["nll_test"] == pytest.approx(history["nll_test"].iloc[-1])
    assert (tmp_path / "config.yaml").read_text().startswith("algorithm:")
    assert len((tmp_path / "samples.txt").read_text().splitlines()) == 400


def test_same_seed_same_figures_different_seed_different_figures(tmp_path: Path) -> None:
    first = run(compose_spec(*TINY_RUN, "seed=3"), tmp_path / "a")
    again = run(compose_spec(*TINY_RUN, "seed=3"), tmp_path / "b")
    other = run(compose_spec(*TINY_RUN, "seed=4"), tmp_path / "c")
    assert first == again
    assert first != other
    assert (tmp_path / "a" / "samples.txt").read_text() == (tmp_path / "b" / "samples.txt").read_text()


def test_unknown_target_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="algorithm._target_=algorithms.nope.Nope: cannot be imported"):
        compose_spec(*TINY_RUN, "algorithm._target_=algorithms.nope.Nope")


@pytest.mark.slow
def test_smoke_experiment_runs_every_algorithm_and_reports(tmp_path: Path, plots_saved: dict[str, Plot]) -> None:
    command = [sys.executable, "-m", "bench", "experiment=smoke", f"hydra.sweep.dir={tmp_path / 'smoke'}"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "smoke").rglob("metrics.json")]
    algorithms = {record["algorithm"] for record in records}  # each the config choice of the sweep
    expected = set(OmegaConf.load(CONF_DIR / "experiment" / "smoke.yaml").hydra.sweeper.params.algorithm.split(","))
    assert algorithms == expected
    assert [record["status"] for record in records] == ["complete"] * 2 * len(expected)

    out = tmp_path / "results"
    assert (
        report_main([str(tmp_path / "smoke"), "--out", str(out), "--temperatures", "0.8,1,1.25", "--allow-dirty"]) == 0
    )
    table = pd.read_csv(out / "table.csv")
    ours = table[table["source"].str.startswith("this suite")]
    assert set(ours["algorithm"]) == expected  # a row per algorithm and selection (end, best nll_valid)
    assert ours.groupby("algorithm").size().eq(ours["selection"].nunique()).all()
    assert (ours["n"] == 2).all()
    learning = plots_saved["learning_curves"]
    assert {curve.split(" (n = ")[0] for panel in learning.panels for curve in panel.curves} == expected
    for panel in plots_saved["temperature_curves"].panels:  # a curve per algorithm over the three temperatures
        assert set(panel.curves) == expected and all(len(x) == 3 for x, _ in panel.curves.values())
    temperature = pd.read_csv(out / "temperature.csv")
    # seeds x algorithms x temperatures x selections (final model, model at the best nll_valid)
    assert len(temperature) == 2 * len(expected) * 3 * 2
    assert set(temperature["selection"]) == {"end", "best nll_valid"}


def test_a_run_ends_with_its_folder_status_and_figures_and_logs_its_life(tmp_path: Path, cli_in_process) -> None:
    """The last line names folder, status and headline figures; the job log has start, every
    evaluation, a resume and the end."""
    quick = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.every=2", "progress=false")
    status, out, err = cli_in_process(*quick, "train.steps=4", "eval.n_samples=50", f"hydra.run.dir={tmp_path}")
    assert status == 0, err
    figures = json.loads((tmp_path / "metrics.json").read_text())["final"]
    last = out.strip().splitlines()[-1]
    shown = ", ".join(f"{name} {figures[name]:.4g}" for name in HEADLINE if name in figures)
    assert last.endswith(f"complete {tmp_path}: step 4: {shown}")
    assert f"nll_oracle {figures['nll_oracle']:.4g}, " in last

    status, _, err = cli_in_process(*quick, "train.steps=6", "eval.n_samples=50", f"hydra.run.dir={tmp_path}")
    assert status == 0, err
    (log,) = tmp_path.glob("*.log")
    lines = log.read_text().splitlines()
    expected = [
        f"run {tmp_path}: mle on synthetic_tiny, seed 0, 4 steps",
        "step 0 (train): ",
        "step 2 (train): g_loss ",
        "step 4 (train): g_loss ",
        f"complete {tmp_path}: step 4: ",
        f"resuming {tmp_path} from its checkpoint at step 4",
        f"run {tmp_path}: mle on synthetic_tiny, seed 0, 6 steps",
        "step 6 (train): g_loss ",
        f"complete {tmp_path}: step 6: ",
    ]
    found = [next((i for i, line in enumerate(lines) if want in line), None) for want in expected]
    assert None not in found and found == sorted(found), (found, lines)
    nll_test = f"nll_test {figures['nll_test']:.4g}"
    assert nll_test in next(line for line in lines if "step 4 (train)" in line)


def test_the_model_at_the_lowest_validation_nll_is_kept_and_reaches_the_temperature_curves(tmp_path: Path) -> None:
    """MLE on 64 training sequences at a high learning rate overfits: its lowest nll_valid comes before
    the end, model_best_valid.pt holds that evaluation's model (re-scoring the validation sample gives
    the logged figure), and the report's temperature curves sweep it beside the final model."""
    from bench.config.build import build
    from bench.training.checkpoint import load_model, saved_model_step
    from bench.training.records import BEST_VALID_MODEL
    from bench.training.run import lowest_valid_yet
    from metrics.nll import mean_token_nll

    overrides = (
        "dataset=synthetic_tiny",
        "dataset.vocab_size=4",
        "dataset.seq_len=4",
        "dataset.n_train=64",
        "algorithm.lr=0.05",
        "train.steps=60",
        "eval.every=10",
        "eval.n_samples=200",
        "progress=false",
    )
    for seed in (0, 1):
        run(compose_spec(*overrides, f"seed={seed}"), tmp_path / "s" / f"seed{seed}")
    run_dir = tmp_path / "s" / "seed0"
    history = pd.read_csv(run_dir / "history.csv")
    best = history.loc[history["nll_valid"].idxmin()]
    assert best["step"] < history["step"].iloc[-1]  # it overfits: the best is not the last
    assert saved_model_step(run_dir / BEST_VALID_MODEL) == best["step"]
    dataset = build(OmegaConf.load(run_dir / "config.yaml").dataset, "dataset")
    model = load_model(run_dir / BEST_VALID_MODEL, dataset)
    rescored = mean_token_nll(model.score(dataset.valid), dataset.space.mask(dataset.valid))
    assert rescored == pytest.approx(best["nll_valid"], abs=1e-6)
    args = ["--out", str(tmp_path / "out"), "--temperatures", "0.8,1", "--temperature-samples", "100", "--threads", "1"]
    assert report_main([str(tmp_path / "s"), *args, "--allow-dirty"]) == 0  # the checkout under test may be dirty
    curves = pd.read_csv(tmp_path / "out" / "temperature.csv")
    assert sorted(curves.groupby("selection").size().items()) == [("best nll_valid", 4), ("end", 4)]
    end, chosen = (
        curves[curves["selection"] == s].set_index(["seed", "temperature"]) for s in ("end", "best nll_valid")
    )
    assert (end["nll_test"] != chosen["nll_test"]).all()  # two different models per run
    # only a strictly lower validation NLL replaces the kept model
    assert lowest_valid_yet([{"nll_valid": 2.0}], {"nll_valid": 1.5})
    assert not lowest_valid_yet([{"nll_valid": 2.0}], {"nll_valid": 2.0})
    assert not lowest_valid_yet([{"nll_valid": 2.0}], {"nll_oracle": 1.0})
