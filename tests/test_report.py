"""The report: aggregation of run directories, exclusion of incomplete runs, tables and plots."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.report import aggregate, collect, comparison_rows, latex_table, main, markdown_table, write_report
from tests.conftest import REPO_ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(root: Path, algorithm: str, seed: int, status: str, final: dict, steps=(0, 10)) -> Path:
    """A run directory written by hand, as `bench.run` would lay it out (without a model)."""
    run_dir = root / algorithm / "synthetic_tiny" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    metrics = {"status": status, "final": final, "algorithm": algorithm, "dataset": "synthetic_tiny", "seed": seed}
    if status != "complete":
        metrics["reason"] = "step 7: g_loss is nan (training diverged)"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    oracle, test = final["nll_oracle"], final["nll_test"]
    rows = [{"step": s, "nll_oracle": oracle + steps[-1] - s, "nll_test": test} for s in steps]
    pd.DataFrame(rows).to_csv(run_dir / "history.csv", index=False)
    (run_dir / "config.yaml").write_text("dataset:\n  name: synthetic_tiny\n  oracle_path: null\n")
    return run_dir


@pytest.fixture
def hand_made_sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "sweep"
    make_run(sweep, "mle", 0, "complete", {"nll_oracle": 2.0, "nll_test": 3.0, "jsd": 0.10})
    make_run(sweep, "mle", 1, "complete", {"nll_oracle": 4.0, "nll_test": 5.0, "jsd": 0.30})
    make_run(sweep, "mle", 2, "running", {"nll_oracle": 100.0, "nll_test": 100.0, "jsd": 0.6})
    make_run(sweep, "cot", 0, "complete", {"nll_oracle": 1.5, "nll_test": 2.5, "jsd": 0.05})
    make_run(sweep, "cot", 1, "failed", {"nll_oracle": 99.0, "nll_test": 99.0, "jsd": 0.6})
    return sweep


def test_aggregation_gives_hand_computed_mean_and_sample_std(hand_made_sweep: Path) -> None:
    runs = collect(hand_made_sweep)
    assert len(runs) == 5
    summary = aggregate(runs, ["nll_oracle", "nll_test", "jsd"]).set_index("algorithm")
    assert summary.loc["mle", "n"] == 2 and summary.loc["cot", "n"] == 1
    assert summary.loc["mle", "nll_oracle_mean"] == pytest.approx(3.0)
    assert summary.loc["mle", "nll_oracle_std"] == pytest.approx(math.sqrt(2.0))  # sample std of {2, 4}
    assert summary.loc["mle", "jsd_mean"] == pytest.approx(0.2)
    assert math.isnan(summary.loc["cot", "nll_oracle_std"])  # one seed: no spread to report


def test_tables_show_mean_std_and_n(hand_made_sweep: Path) -> None:
    summary = aggregate(collect(hand_made_sweep), ["nll_oracle"])
    rows = comparison_rows(summary, [], ["nll_oracle"])
    table = markdown_table(rows, ["algorithm", "source", "nll_oracle"])
    assert "| mle | this suite (n = 2) | 3.000 ± 1.414 |" in table
    assert "| cot | this suite (n = 1) | 1.500 |" in table
    assert r"3.000 $\pm$ 1.414" in latex_table(rows, ["algorithm", "source", "nll_oracle"])


def test_report_excludes_and_lists_incomplete_runs(hand_made_sweep: Path, tmp_path: Path) -> None:
    readme = write_report(hand_made_sweep, tmp_path / "out", "cmd", [1.0], 100, "cpu")
    text = readme.read_text()
    assert "| mle | this suite (n = 2) | 3.000 ± 1.414 |" in text
    excluded = text.split("## Excluded runs")[1]
    assert "mle/synthetic_tiny/seed2`: running" in excluded
    assert "cot/synthetic_tiny/seed1`: failed (step 7: g_loss is nan" in excluded
    assert "100.000" not in text and "99.000" not in text
    csv = (tmp_path / "out" / "table.csv").read_text().splitlines()
    assert csv[0] == "# Regenerate: cmd" and csv[1].startswith("algorithm,source,")
    png = (tmp_path / "out" / "learning_curves.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_report_rejects_a_folder_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path}: no runs found (no metrics.json below it)"
    assert main([str(tmp_path / "nope")]) == 2


def test_parallel_sweep_through_joblib_processes(tmp_path: Path) -> None:
    """Two jobs in two processes at once: separate run directories, both complete, report counts both."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable, "-m", "bench", "--multirun", "hydra/launcher=local", "hydra.launcher.n_jobs=2",
        "dataset=synthetic_tiny", "seed=0,1", "train.steps=30", "eval.every=15", "eval.n_samples=300",
        "progress=false", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = collect(tmp_path / "sweep")
    assert sorted(run.seed for run in runs) == [0, 1] and all(run.complete for run in runs)
    assert len({run.path for run in runs}) == 2
    assert all("threads: 1" in (run.path / "config.yaml").read_text() for run in runs)
    pids = {(run.path / ".lock").read_text() for run in runs}
    assert len(pids) == 2  # really two worker processes
    summary = aggregate(runs, ["nll_test"])
    assert summary["n"].tolist() == [2]
