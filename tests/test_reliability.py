"""Resume after a crash with nothing lost, clean failure on divergence and signals, safe checkpoints."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.mle import MLE
from bench.errors import BenchError
from bench.evaluation.catalogue import CLOCKS as TIMES
from bench.seeds import seed_everything
from bench.training import checkpoint
from bench.training.records import CHECKPOINT, MODEL
from bench.training.run import build_run, run
from tests.conftest import REPO_ROOT, compose_spec

# Small enough to run in seconds, slow enough (about 4 ms a step) to be stopped mid-training.
RESUMABLE = (
    "dataset=synthetic",
    "dataset.vocab_size=200",
    "dataset.seq_len=10",
    "dataset.n_train=2000",
    "dataset.n_test=1000",
    "train.steps=1500",
    "eval.every=100",
    "eval.n_samples=1000",
    "threads=1",
    "progress=false",
)
TINY = ("dataset=synthetic_tiny", "train.steps=60", "eval.every=20", "eval.n_samples=300", "progress=false")


def start_cli(*overrides: str, run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    command = [sys.executable, "-m", "bench", *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def wait_for_rows(run_dir: Path, rows: int, process: subprocess.Popen) -> None:
    """Block until history.csv has `rows` evaluations (each one is followed by a checkpoint)."""
    history = run_dir / "history.csv"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        written = history.exists() and len(history.read_text().splitlines()) > rows
        if written and (run_dir / CHECKPOINT).exists():
            return
        time.sleep(0.01)
    pytest.fail(f"the run never reached {rows} evaluations (exit status {process.poll()})")


def final_figures(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    return metrics["final"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    status, _, err = finish(start_cli(*RESUMABLE, run_dir=run_dir))
    assert status == 0, err
    return run_dir


def test_sigkill_then_rerun_resumes_and_ends_with_the_same_figures(tmp_path: Path, uninterrupted: Path) -> None:
    process = start_cli(*RESUMABLE, run_dir=tmp_path)
    wait_for_rows(tmp_path, 3, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"
    saved_step = checkpoint.load(tmp_path / CHECKPOINT)["loop"]["step"]
    assert 0 < saved_step < 1500

    status, out, err = finish(start_cli(*RESUMABLE, run_dir=tmp_path))
    assert status == 0, err
    assert f"from its checkpoint at step {saved_step}" in out + err
    assert final_figures(tmp_path) == final_figures(uninterrupted)
    resumed, reference = pd.read_csv(tmp_path / "history.csv"), pd.read_csv(uninterrupted / "history.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns=list(TIMES)), reference.drop(columns=list(TIMES)))
    assert (tmp_path / "samples.txt").read_text() == (uninterrupted / "samples.txt").read_text()


def test_sigterm_saves_a_checkpoint_marks_interrupted_and_resumes_exactly(tmp_path: Path, uninterrupted: Path) -> None:
    process = start_cli(*RESUMABLE, run_dir=tmp_path)
    wait_for_rows(tmp_path, 2, process)
    process.send_signal(signal.SIGTERM)
    status, _, err = finish(process)
    assert status == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1].startswith("interrupted by SIGTERM at step ")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and "run the same command to resume" in metrics["reason"]
    stopped_at = checkpoint.load(tmp_path / CHECKPOINT)["loop"]["step"]
    assert f"at step {stopped_at};" in err

    status, _, err = finish(start_cli(*RESUMABLE, run_dir=tmp_path))
    assert status == 0, err
    assert final_figures(tmp_path) == final_figures(uninterrupted)


class BlowsUpAtStep25(MLE):
    """MLE whose weights turn NaN after step 25, as a diverging learning rate would leave them."""

    steps_done = 0

    def step(self) -> dict[str, float]:
        losses = super().step()
        self.steps_done += 1
        if self.steps_done == 25:
            with torch.no_grad():
                self.generator.out.weight[0, 0] = float("nan")
        return losses


def test_divergence_stops_with_one_line_keeps_last_good_checkpoint_and_marks_failed(tmp_path: Path) -> None:
    spec = compose_spec(*TINY, f"algorithm._target_={__name__}.BlowsUpAtStep25")
    with pytest.raises(BenchError, match=r"^step 26: g_loss is nan \(training diverged\)$"):
        run(spec, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert metrics["reason"] == "step 26: g_loss is nan (training diverged); last good checkpoint: step 20"
    saved = checkpoint.load(tmp_path / CHECKPOINT)
    assert saved["loop"]["step"] == 20
    assert all(torch.isfinite(v).all() for v in saved["algorithm"]["generator"].values())


def test_rerunning_a_complete_run_changes_nothing_and_resume_never_starts_over(tmp_path: Path) -> None:
    first = run(compose_spec(*TINY), tmp_path)
    stamp = (tmp_path / "metrics.json").read_text()
    assert run(compose_spec(*TINY), tmp_path) == first
    assert (tmp_path / "metrics.json").read_text() == stamp

    (tmp_path / "history.csv").write_text("step\n999\n")
    assert run(compose_spec(*TINY, "resume=never"), tmp_path) == first
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 20, 40, 60]


def test_a_longer_budget_continues_a_complete_run(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    extended = run(compose_spec(*TINY[:1], "train.steps=100", *TINY[2:]), tmp_path)
    straight = run(compose_spec(*TINY[:1], "train.steps=100", *TINY[2:]), tmp_path / "straight")
    assert extended == straight


def test_resuming_with_another_config_is_refused_naming_the_value(tmp_path: Path) -> None:
    process = start_cli(*RESUMABLE, run_dir=tmp_path)
    wait_for_rows(tmp_path, 2, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with pytest.raises(BenchError, match=r"made with another config: algorithm.lr=0.02 \(the checkpoint has 0.01\)"):
        run(compose_spec(*RESUMABLE, "algorithm.lr=0.02"), tmp_path)
    with pytest.raises(BenchError, match=r"model.hidden_dim=16 \(the checkpoint has 32\)"):
        run(compose_spec(*RESUMABLE, "model.hidden_dim=16"), tmp_path)


def test_a_saved_model_is_refused_for_another_vocabulary(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    cfg = compose_spec(*TINY)
    dataset, _ = build_run(cfg, torch.device("cpu"), seed_everything(0, torch.device("cpu")))
    model = checkpoint.load_model(tmp_path / MODEL, dataset)
    assert model.space == dataset.space
    other, _ = build_run(compose_spec(*TINY, "dataset.vocab_size=9"), torch.device("cpu"), torch.Generator())
    with pytest.raises(checkpoint.CheckpointError, match="saved for another vocabulary"):
        checkpoint.load_model(tmp_path / MODEL, other)


class Payload:
    """Unpickling this calls os.system: the classic malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_checkpoint_is_refused_and_its_payload_never_runs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(compose_spec(*TINY), run_dir)
    marker = tmp_path / "pwned"
    torch.save({"format": 1, "config": Payload(marker)}, run_dir / CHECKPOINT)  # a zip with a hostile pickle
    with pytest.raises(checkpoint.CheckpointError, match="refused, not a plain checkpoint"):
        run(compose_spec(*TINY, "train.steps=80"), run_dir)
    (run_dir / "raw.pt").write_bytes(pickle.dumps(Payload(marker)))  # a bare hostile pickle
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(run_dir / "raw.pt")
    assert not marker.exists()


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        run(compose_spec(*TINY), tmp_path)
    with zipfile.ZipFile(tmp_path / CHECKPOINT, "w") as archive:
        archive.writestr("nothing/data.pkl", b"")
    with pytest.raises(checkpoint.CheckpointError, match=str(tmp_path)):
        run(compose_spec(*TINY), tmp_path)


def test_two_writers_never_share_a_run_directory(tmp_path: Path) -> None:
    holder = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)  # another writer's lock (its own open file)
    fcntl.flock(holder, fcntl.LOCK_EX)
    with pytest.raises(BenchError, match="another process is writing this run"):
        run(compose_spec(*TINY), tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    os.close(holder)  # the lock is released with its holder
    run(compose_spec(*TINY), tmp_path)


def test_a_checkpoint_recording_keys_that_may_change_still_resumes(tmp_path: Path) -> None:
    """Budget and run-time keys (device, threads, budgets) never block a resume, whichever side has them."""
    run(compose_spec(*TINY), tmp_path)
    saved = checkpoint.load(tmp_path / CHECKPOINT)
    saved["config"] |= {"steps_by_algorithm": {}, "threads": 7, "device": "cuda"}
    checkpoint.save(tmp_path / CHECKPOINT, {k: v for k, v in saved.items() if k != "format"})
    extended = run(compose_spec(*TINY[:1], "train.steps=80", *TINY[2:]), tmp_path)
    assert extended["step"] == 80
