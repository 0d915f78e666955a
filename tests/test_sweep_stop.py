"""A local sweep (joblib workers) signalled through its own process only, as `kill PID` or a scheduler
does: SIGTERM stops the running jobs at a step with their checkpoint, starts no queued job and says
what was done; SIGKILL leaves no worker behind holding a run, so the sweep can be re-run at once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bench.training.records import CHECKPOINT, effective_status
from bench.training.run import run
from tests.conftest import compose_spec
from tests.endless import ENDLESS, QUICK, budget_past, metrics, saved_step
from tests.processes import POLL_S, finish, live_members, start_cli, wait_until

SIX_SEEDS = ("-m", "seed=0,1,2,3,4,5", *ENDLESS, "hydra/launcher=local", "hydra.launcher.n_jobs=2")


def started_runs(sweep: Path) -> list[Path]:
    return sorted(path.parent for path in sweep.rglob("metrics.json"))


def wait_for_the_workers_to_end(group: int) -> None:
    while live_members(group):  # a worker that outlived the sweep would keep this loop going
        time.sleep(POLL_S)


@pytest.mark.slow
def test_sigterm_to_the_sweep_process_alone_stops_every_job_and_starts_no_queued_one(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    process = start_cli(*SIX_SEEDS, f"hydra.sweep.dir={sweep}", start_new_session=True)
    wait_until(lambda: len(list(sweep.rglob(CHECKPOINT))) >= 2, process)
    process.send_signal(signal.SIGTERM)  # the parent only: joblib passes nothing on to its workers
    status, out, err = finish(process)
    assert status == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "interrupted by SIGTERM; run the same command to resume the sweep"
    started = started_runs(sweep)
    assert len(started) == 2  # the two running jobs; the four queued ones never started
    assert {metrics(run_dir)["status"] for run_dir in started} == {"interrupted"}
    assert "sweep: 0 of 6 runs complete, 2 interrupted, 4 not started" in out.splitlines()
    wait_for_the_workers_to_end(process.pid)


@pytest.mark.slow
def test_sigkill_of_the_sweep_process_leaves_no_worker_holding_a_run(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    process = start_cli(*SIX_SEEDS, f"hydra.sweep.dir={sweep}", start_new_session=True)
    wait_until(lambda: len(list(sweep.rglob(CHECKPOINT))) >= 2, process)
    process.kill()
    process.wait()
    wait_for_the_workers_to_end(process.pid)  # each worker saw its parent gone, saved and ended
    for run_dir in started_runs(sweep):
        assert effective_status(run_dir) == "interrupted"
        seed = metrics(run_dir)["seed"]
        run(compose_spec(*QUICK, f"seed={seed}", budget_past(saved_step(run_dir))), run_dir)  # at once
        assert metrics(run_dir)["status"] == "complete"
