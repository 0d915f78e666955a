"""Signals to a running command: SIGKILL loses nothing a rerun cannot redo; SIGTERM and Ctrl-C stop at a
step boundary with a checkpoint and one line; stopping a parallel sweep stops every job and worker.

Each training run here is endless (a budget it never reaches): the test stops it once what it needs is
on disk, so no test depends on how fast the machine is. Resumed runs then get a budget a little past the
checkpoint and are compared with an uninterrupted run of that budget.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.evaluation.catalogue import CLOCKS
from bench.training.records import CHECKPOINT
from bench.training.run import run
from tests.conftest import compose_spec
from tests.endless import (
    ENDLESS,
    EVERY,
    QUICK,
    budget_past,
    checkpointed_after,
    evaluations_written,
    metrics,
    saved_step,
)
from tests.processes import POLL_S, finish, live_members, one_error_line, start_cli, wait_until


def test_sigkill_then_rerun_ends_with_the_figures_history_and_samples_of_an_uninterrupted_run(
    tmp_path: Path, cli_in_process
) -> None:
    killed = tmp_path / "killed"
    process = start_cli(*ENDLESS, f"hydra.run.dir={killed}")
    wait_until(lambda: checkpointed_after(killed, 3), process)
    process.kill()
    process.wait()
    assert metrics(killed)["status"] == "running"
    step = saved_step(killed)
    assert step >= EVERY

    status, out, err = cli_in_process(*QUICK, budget_past(step), f"hydra.run.dir={killed}")
    assert status == 0, err
    assert f"from its checkpoint at step {step}" in out + err
    straight = tmp_path / "straight"
    run(compose_spec(*QUICK, budget_past(step)), straight)
    assert metrics(killed)["final"] == metrics(straight)["final"]
    resumed, reference = pd.read_csv(killed / "history.csv"), pd.read_csv(straight / "history.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns=list(CLOCKS)), reference.drop(columns=list(CLOCKS)))
    assert (killed / "samples.txt").read_text() == (straight / "samples.txt").read_text()


def test_sigterm_saves_a_checkpoint_marks_interrupted_and_resumes_exactly(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    process = start_cli(*ENDLESS, f"hydra.run.dir={stopped}")
    wait_until(lambda: checkpointed_after(stopped, 2), process)
    process.send_signal(signal.SIGTERM)
    status, _, err = finish(process)
    assert status == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1].startswith("interrupted by SIGTERM at step ")
    record = metrics(stopped)
    assert record["status"] == "interrupted" and "run the same command to resume" in record["reason"]
    step = saved_step(stopped)  # the step boundary it stopped at, not only the last evaluation
    assert f"at step {step};" in err

    resumed = run(compose_spec(*QUICK, budget_past(step)), stopped)
    assert resumed == run(compose_spec(*QUICK, budget_past(step)), tmp_path / "straight")


def test_ctrl_c_twice_within_a_millisecond_is_one_line_exit_130(tmp_path: Path) -> None:
    process = start_cli(*ENDLESS, f"hydra.run.dir={tmp_path}")
    wait_until(lambda: (tmp_path / CHECKPOINT).exists(), process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
    assert status == 130
    assert one_error_line(err).startswith("interrupted by SIGINT")
    assert metrics(tmp_path)["status"] == "interrupted"


def test_ctrl_c_while_a_text_dataset_is_built_is_one_line_exit_130(tmp_path: Path) -> None:
    words = np.array([f"w{i}" for i in range(3000)])
    sentences = words[np.random.default_rng(0).integers(0, len(words), size=(200_000, 12))]
    lines = "".join(" ".join(sentence) + " .\n" for sentence in sentences.tolist())
    (tmp_path / "train.txt").write_text(lines)
    (tmp_path / "test.txt").write_text(lines[:10_000])
    run_dir = tmp_path / "run"
    text = [
        "dataset=coco",
        f"dataset.data_dir={tmp_path}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
    ]
    process = start_cli(*text, "train.steps=2", "eval.n_samples=10", "progress=false", f"hydra.run.dir={run_dir}")
    # the lock is taken before the data are read; reading and tokenising 200,000 lines takes seconds
    wait_until(lambda: (run_dir / ".lock").exists(), process)
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
    assert status == 130
    # Usually the signal lands while the data are read ("interrupted by SIGINT", no step); on a busy
    # machine the build may already be over and training saves a checkpoint first: one line either way.
    assert one_error_line(err).startswith("interrupted by SIGINT")
    assert not (run_dir / "metrics.json").exists() or metrics(run_dir)["status"] != "complete"


@pytest.mark.slow
def test_sigterm_to_a_local_sweep_group_stops_every_job_and_worker(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    overrides = ("-m", "seed=0,1,2,3,4,5", *ENDLESS, "hydra/launcher=local", f"hydra.sweep.dir={sweep}")
    process = start_cli(*overrides, start_new_session=True)
    wait_until(lambda: len(list(sweep.rglob(CHECKPOINT))) >= 2, process)
    os.killpg(process.pid, signal.SIGTERM)
    status, _, err = finish(process)
    assert status == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].startswith("interrupted by SIGTERM"), err
    while live_members(process.pid):  # the workers end on their own; one that took a queued job would not
        assert len(list(sweep.rglob("metrics.json"))) == 2, "a queued job started after SIGTERM"
        time.sleep(POLL_S)
    started = [metrics(path.parent) for path in sweep.rglob("metrics.json")]
    assert len(started) == 2  # the two jobs that were running; the four queued ones never started
    assert {record["status"] for record in started} == {"interrupted"}


def test_sighup_from_a_closed_terminal_saves_at_the_current_step_and_exits_129(tmp_path: Path) -> None:
    process = start_cli(*ENDLESS, f"hydra.run.dir={tmp_path}")
    wait_until(lambda: checkpointed_after(tmp_path, 2), process)
    process.send_signal(signal.SIGHUP)
    status, _, err = finish(process)
    assert status == 128 + signal.SIGHUP, err
    step = saved_step(tmp_path)
    assert err.strip().splitlines()[-1].startswith(f"interrupted by SIGHUP at step {step};")
    assert metrics(tmp_path)["status"] == "interrupted"


def test_under_nohup_a_sighup_is_ignored_and_the_run_goes_on(tmp_path: Path) -> None:
    ignore_hangups = lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)  # noqa: E731  what nohup does
    process = start_cli(*ENDLESS, f"hydra.run.dir={tmp_path}", preexec_fn=ignore_hangups)
    wait_until(lambda: checkpointed_after(tmp_path, 2), process)
    process.send_signal(signal.SIGHUP)
    written = evaluations_written(tmp_path)
    wait_until(lambda: evaluations_written(tmp_path) >= written + 2, process)  # still training
    process.send_signal(signal.SIGTERM)
    status, _, err = finish(process)
    assert status == 128 + signal.SIGTERM, err
    assert metrics(tmp_path)["status"] == "interrupted"


ONE_EVALUATION = (*QUICK[:3], "eval.every=1000000", *QUICK[4:])
"""QUICK with evaluations so rare that only step 0's and the last one happen."""


def test_sigkill_after_the_step_0_checkpoint_resumes_without_a_second_step_0_row(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    process = start_cli(*ONE_EVALUATION, "train.steps=10000000", f"hydra.run.dir={killed}")
    wait_until(lambda: (killed / CHECKPOINT).exists(), process)  # written right after step 0's evaluation
    process.kill()
    process.wait()
    assert saved_step(killed) == 0
    run(compose_spec(*ONE_EVALUATION, "train.steps=20"), killed)
    run(compose_spec(*ONE_EVALUATION, "train.steps=20"), tmp_path / "straight")
    resumed, straight = pd.read_csv(killed / "history.csv"), pd.read_csv(tmp_path / "straight" / "history.csv")
    assert resumed["step"].tolist() == [0, 20]
    pd.testing.assert_frame_equal(resumed.drop(columns=list(CLOCKS)), straight.drop(columns=list(CLOCKS)))
