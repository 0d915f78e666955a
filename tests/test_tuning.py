"""An equal tuning budget: the plan's checks, selection on validation NLL alone (never test), and the driver end
to end on synthetic_tiny (stage 1, the record, stage 2, a resumed re-run, the report of the stage-2 runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import main as report_main
from bench.report.runs import collect
from bench.tune import main as tune_main
from bench.tune.plan import TUNING_FILE, plan_from, select, stage_overrides, validation_figure
from tests.conftest import REPO_ROOT, cli_env
from tests.run_folders import make_run

PLAN = {
    "seeds": [100, 101],
    "final_seeds": [0, 1],
    "grid": {"mle": {"lr": [0.01, 0.1]}, "cot": {"m_dropout": [0.0, 0.5]}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"grid": {"mle": {"lr": [0.01, 0.1]}, "cot": {"m_dropout": [0.0]}}},
            "same number of configurations (mle 2, cot 1)",
        ),
        ({"final_seeds": [101, 0]}, "tuning.final_seeds: [101] also tune; stage 2 needs fresh seeds"),
        ({"seeds": []}, "tuning.seeds=[]: must be a non-empty list of integer seeds"),
        ({"seeds": [1, 1]}, "tuning.seeds=[1, 1]: must be distinct integers >= 0"),
        (
            {"grid": {"mle": {"lr": [0.01, 0.01]}}},
            "tuning.grid.mle.lr=[0.01, 0.01]: must be a non-empty list of distinct",
        ),
        ({"grid": {"mle": {"lr": [float("nan"), 0.1]}}}, "tuning.grid.mle.lr=nan: must be finite"),
        ({"grid": {"mle": {"lr": ["1;rm"]}}}, "tuning.grid.mle.lr='1;rm': words may hold only letters"),
        ({"budget": 3}, "tuning.budget: unknown key (allowed: seeds, final_seeds, grid, overrides)"),
    ],
)
def test_a_bad_tuning_section_is_one_line_naming_it(change: dict, message: str) -> None:
    with pytest.raises(BenchError) as raised:
        plan_from(PLAN | change)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_configurations_are_the_grids_product_and_a_stage_is_one_multirun() -> None:
    plan = plan_from(
        PLAN | {"grid": {"cot": {"m_dropout": [0.0, 0.5], "m_width": [1, 2]}, "mle": {"lr": [1e-3, 3e-3, 0.01, 0.03]}}}
    )
    assert plan.configurations("cot") == [
        {"m_dropout": 0.0, "m_width": 1},
        {"m_dropout": 0.0, "m_width": 2},
        {"m_dropout": 0.5, "m_width": 1},
        {"m_dropout": 0.5, "m_width": 2},
    ]
    assert stage_overrides(plan, "cot", plan.seeds, None) == [
        "algorithm=cot",
        "seed=100,101",
        "algorithm.m_dropout=0.0,0.5",
        "algorithm.m_width=1,2",
    ]
    assert stage_overrides(plan, "mle", plan.final_seeds, {"lr": 0.003}) == [
        "algorithm=mle",
        "seed=0,1",
        "algorithm.lr=0.003",
    ]


def tuning_run(root: Path, algorithm: str, seed: int, config: dict, valid: list[float], test: float, **kw) -> Path:
    history = [{"step": 10 * i, "nll_valid": v, "nll_test": test} for i, v in enumerate(valid)]
    return make_run(root, algorithm, seed, {"nll_valid": valid[-1]}, config=config, history=history, **kw)


def test_selection_is_the_lowest_mean_best_validation_nll_never_the_test_set(tmp_path: Path) -> None:
    plan = plan_from(PLAN | {"grid": {"mle": {"lr": [0.01, 0.1, 1.0]}}})
    for seed in (100, 101):
        # lr 0.01: best validation 2.0 (its test NLL the best of all); lr 0.1: best 1.5 (early), then worse
        tuning_run(tmp_path, "mle", seed, {"algorithm.lr": 0.01}, [3.0, 2.0], test=0.1)
        tuning_run(tmp_path, "mle", seed, {"algorithm.lr": 0.1}, [3.0, 1.5 + 0.1 * seed % 2, 4.0], test=9.0)
    tuning_run(tmp_path, "mle", 100, {"algorithm.lr": 1.0}, [3.0, 1.0], test=0.0)
    tuning_run(tmp_path, "mle", 101, {"algorithm.lr": 1.0}, [3.0, 9.0], test=0.0, status="failed")
    record = select(plan, collect(tmp_path), tmp_path)["mle"]
    means = [c["mean_nll_valid"] for c in record["configurations"]]
    assert means[0] == pytest.approx(2.0) and means[1] == pytest.approx((1.5 + 1.6) / 2)
    assert means[2] is None  # a diverged seed disqualifies its configuration
    assert record["selected"] == 1
    assert record["configurations"][1]["runs"][0]["path"] == "mle/synthetic_tiny/seed100/algorithm.lr=0.1"
    missing = select(
        plan_from(PLAN | {"seeds": [100, 101, 102], "grid": {"mle": {"lr": [0.01, 0.1]}}}), collect(tmp_path), tmp_path
    )
    assert missing["mle"]["selected"] is None  # seed 102 not run yet: nothing is selected


def test_an_adversarial_algorithm_is_tuned_on_its_adversarial_phase(tmp_path: Path) -> None:
    history = [
        {"step": 0, "phase": "pretrain_g", "nll_valid": 3.0},
        {"step": 5, "phase": "pretrain_g", "nll_valid": 1.0},  # MLE pretraining: no d_lr changes it
        {"step": 9, "phase": "adversarial", "nll_valid": 1.4},
        {"step": 12, "phase": "adversarial", "nll_valid": 1.2},
    ]
    make_run(tmp_path, "seqgan", 0, {"nll_valid": 1.2}, history=history)
    [run] = collect(tmp_path)
    assert validation_figure(run) == 1.2


def run_tune(*overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench.tune", *overrides]
    return subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, check=False)


def test_the_driver_tunes_resumes_and_the_report_compares_stage_two_only(tmp_path: Path) -> None:
    """MLE's two learning rates, one tuning seed, two final seeds (CoT's grid dropped to keep it short: every
    algorithm goes through the same code)."""
    sweep = tmp_path / "sweep"
    tiny = ("train.steps=6", "eval.every=3", "eval.n_samples=100", "tuning.seeds=[100]", "~tuning.grid.cot")
    first = run_tune("experiment=smoke_tuning", *tiny, f"hydra.sweep.dir={sweep}")
    assert first.returncode == 0, first.stderr[-3000:]
    record = json.loads((sweep / TUNING_FILE).read_text())
    assert record["seeds"] == [100] and record["final_seeds"] == [0, 1]
    assert record["grid"] == {"mle": {"lr": [0.003, 0.01]}}
    runs = {str(run.path.relative_to(sweep)): run for run in collect(sweep)}
    found = record["algorithms"]["mle"]
    figures = [c["mean_nll_valid"] for c in found["configurations"]]
    assert len(figures) == 2 and found["selected"] == figures.index(min(figures))
    for configuration in found["configurations"]:
        [entry] = configuration["runs"]
        assert entry["nll_valid"] == pytest.approx(runs[entry["path"]].history()["nll_valid"].min())
    chosen = found["configurations"][found["selected"]]["configuration"]["lr"]
    for entry in record["stage2"]["mle"]:
        assert runs[entry["path"]].config().algorithm.lr == chosen and entry["status"] == "complete"
    assert sorted(entry["seed"] for entry in record["stage2"]["mle"]) == [0, 1] and len(runs) == 2 + 2
    again = run_tune("experiment=smoke_tuning", *tiny, f"hydra.sweep.dir={sweep}")  # resumes: nothing to redo
    assert again.returncode == 0 and json.loads((sweep / TUNING_FILE).read_text())["algorithms"] == record["algorithms"]
    assert "already complete" in again.stdout + again.stderr and len(collect(sweep)) == 4
    out = tmp_path / "report"
    args = ["--out", str(out), "--temperatures", "0.8,1.25", "--temperature-samples", "100", "--allow-dirty"]
    assert report_main([str(sweep), *args]) == 0
    readme = (out / "README.md").read_text()
    assert "## Tuning: 2 configurations per algorithm" in readme
    assert readme.count("| selected   |") == 1 + 1  # the header, then the selected configuration
    assert readme.split("\n")[0].startswith("<!-- Regenerate: python -m bench.tune experiment=smoke_tuning ")
    table = pd.read_csv(out / "table.csv")
    assert (table["n"] == 2).all()  # stage-2 seeds only
    assert "## Runs left out\n\nnone" in readme  # stage-1 runs are in the tuning table, not "left out"
    tuning = pd.read_csv(out / "tuning.csv")
    assert tuning["selected"].dtype == bool and tuning["mean_nll_valid"].dtype == float


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "error: experiment=NAME: required (an experiment file with a tuning section)"),
        (
            ["experiment=smoke"],
            "error: tuning: the experiment has no tuning section (see bench/tune/plan.py for its form)",
        ),
        (
            ["experiment=smoke_tuning", "algorithm=mle"],
            "error: algorithm=mle: the tuning plan sets algorithms and seeds",
        ),
        (["experiment=nope"], "error: experiment=nope: unknown experiment (available: "),
    ],
)
def test_the_driver_refuses_bad_input_in_one_line(
    overrides: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert tune_main(overrides) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message)
