"""A finished sweep prints and writes a summary table: per algorithm and dataset, n and the mean ± std
of the headline figures; then every run that is missing or incomplete."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.training.sweep_summary import SUMMARY_NAME, summary_table

SWEEP = ("-m", "dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.every=2")
SWEEP = (*SWEEP, "train.steps=2", "eval.n_samples=50", "progress=false")


def row(table: str, start: str) -> list[str]:
    [line] = [line for line in table.splitlines() if line.startswith(start)]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_finished_sweep_prints_and_writes_mean_and_std_per_algorithm(tmp_path: Path, cli_in_process) -> None:
    status, out, err = cli_in_process(*SWEEP, "algorithm=mle,cot", "seed=0,1,2", f"hydra.sweep.dir={tmp_path}")
    assert status == 0, err
    table = (tmp_path / SUMMARY_NAME).read_text()
    assert table in out  # printed as written
    assert "6 runs: 6 complete, 0 missing or incomplete." in table
    header = row(table, "| runs")
    for algorithm in ("mle", "cot"):
        cells = dict(zip(header, row(table, f"| {algorithm}/synthetic_tiny"), strict=True))
        assert cells["n"] == "3"
        finals = [json.loads(p.read_text())["final"] for p in (tmp_path / algorithm).rglob("metrics.json")]
        values = [final["nll_oracle"] for final in finals]
        assert cells["nll_oracle"] == f"{statistics.fmean(values):.4g} ± {statistics.stdev(values):.2g}"
    assert "Missing or incomplete" not in table


def test_a_sweep_that_stops_early_lists_what_is_missing_or_incomplete(
    tmp_path: Path, cli_in_process, monkeypatch
) -> None:
    monkeypatch.setenv("COTBENCH_DATA", str(tmp_path / "no-data"))  # coco's files are not there
    sweep = tmp_path / "sweep"
    common = ("-m", "train.steps=2", "eval.every=2", "eval.n_samples=50", "progress=false")
    status, out, err = cli_in_process(*common, "dataset=synthetic_tiny,coco", f"hydra.sweep.dir={sweep}")
    assert status == 2 and "coco/image_coco.txt: no such file" in err  # a run failed
    table = (sweep / SUMMARY_NAME).read_text()
    assert table in out and "2 runs: 1 complete, 1 missing or incomplete." in table
    assert "- `mle/coco/seed0,eval.every=2,eval.n_samples=50`: missing (no metrics.json)" in table


def test_a_sweep_with_a_job_that_cannot_be_composed_is_refused_before_any_runs(tmp_path: Path, cli_in_process) -> None:
    sweep = tmp_path / "sweep"
    status, out, err = cli_in_process(*SWEEP, "dataset=synthetic_tiny,coco", f"hydra.sweep.dir={sweep}")
    assert status == 2  # coco has no vocab_size: that job could never be composed
    assert err.strip().startswith(
        "error: Could not override 'dataset.vocab_size': Key 'vocab_size' not in 'TextConfig'"
    )
    assert not sweep.exists() and "Sweep summary" not in out


def test_incomplete_runs_are_listed_with_their_reason_and_left_out_of_the_figures(tmp_path: Path) -> None:
    folders = []
    for seed, status in ((0, "complete"), (1, "failed")):
        folder = tmp_path / "mle" / "synthetic_tiny" / f"seed{seed},algorithm.lr=0.1"
        folder.mkdir(parents=True)
        reason = {"reason": "step 7: g_loss is nan (training diverged)"} if status == "failed" else {}
        metrics = {"status": status, **reason, "final": {"nll_oracle": 1.5 + seed}}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        folders.append(folder)
    table = summary_table(tmp_path, folders)
    assert row(table, "| mle/synthetic_tiny") == ["mle/synthetic_tiny", "-", "1", "1.5"]
    assert "- `mle/synthetic_tiny/seed1,algorithm.lr=0.1`: failed: step 7: g_loss is nan (training diverged)" in table
