"""A sweep prints one line per finished run: k of N, name, status, wall time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

SWEEP = ("-m", "dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.every=2")
LINE = re.compile(r"^\[(\d)/(\d)\] mle/synthetic_tiny/seed(\d)([,/]\S+)?: (.+) in \d+:\d\d$")


def finished_lines(stdout: str) -> list[re.Match]:
    return [match for line in stdout.splitlines() if (match := LINE.match(line.strip()))]


def test_each_finished_run_prints_k_of_n_name_status_and_wall_time(tmp_path: Path, cli_in_process) -> None:
    oracles = "dataset.oracle_path=null,/no/such/oracle.pkl"  # the second fails when its data are read
    overrides = (*SWEEP, "seed=0,1", "train.steps=3", "eval.n_samples=50", oracles, "progress=false")
    _, out, _ = cli_in_process(*overrides, f"hydra.sweep.dir={tmp_path}")
    lines = finished_lines(out)
    assert [(m[1], m[2]) for m in lines] == [("1", "4"), ("2", "4"), ("3", "4"), ("4", "4")], out
    statuses = {(m[3], "oracle_path=sha256-" in (m[4] or "")): m[5] for m in lines}
    assert statuses[("0", False)] == "complete" and statuses[("1", False)] == "complete"
    assert statuses[("0", True)] == "failed (dataset.oracle_path=/no/such/oracle.pkl: no such file)"
    assert (tmp_path / "sweep_progress.log").read_text().splitlines() == [m[0] for m in lines]


def test_a_sweep_with_a_bad_value_in_any_job_is_refused_before_anything_is_written(
    tmp_path: Path, cli_in_process
) -> None:
    overrides = (*SWEEP, "seed=0,1", "train.steps=3", "eval.n_samples=50,1", "progress=false")
    status, out, err = cli_in_process(*overrides, f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert status == 2 and err.strip() == "error: eval.n_samples=1: must be at least 2"
    assert not finished_lines(out) and not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_parallel_local_jobs_count_their_finished_runs_together(tmp_path: Path) -> None:
    overrides = (*SWEEP, "seed=0,1,2", "train.steps=3", "eval.n_samples=50", "progress=false")
    result = run_cli(*overrides, "hydra/launcher=local", f"hydra.sweep.dir={tmp_path}", run_dir=tmp_path / "unused")
    assert result.returncode == 0, result.stderr
    lines = finished_lines(result.stdout)
    assert sorted(int(m[1]) for m in lines) == [1, 2, 3] and {m[2] for m in lines} == {"3"}
    assert sorted(m[3] for m in lines) == ["0", "1", "2"] and {m[5] for m in lines} == {"complete"}
