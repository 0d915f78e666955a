"""Checkpoint and model files: a foreign, corrupt or hostile file is refused with a clear error (its
payload never runs), and a model is never loaded for another vocabulary."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.seeds import seed_everything
from bench.training import checkpoint
from bench.training.records import CHECKPOINT, MODEL
from bench.training.run import build_run, run
from tests.conftest import compose_spec

QUICK = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=4",
    "eval.every=2",
    "eval.n_samples=50",
    "progress=false",
)


def killed(run_dir: Path) -> None:
    """Leave metrics.json as a run killed mid-way leaves it (`running`)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))


class Payload:
    """Unpickling this calls os.system: the classic malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_with_the_wrong_keys_is_refused(tmp_path: Path) -> None:
    torch.save({"format": 2, "weights": torch.zeros(3)}, tmp_path / CHECKPOINT)
    with pytest.raises(
        BenchError, match=r"checkpoint\.pt: not a cotbench run checkpoint \(missing config, .*\); resume=never"
    ):
        run(compose_spec(*QUICK), tmp_path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_checkpoint_is_refused_and_its_payload_never_runs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(compose_spec(*QUICK), run_dir)
    killed(run_dir)  # a complete run would refuse the changed checkpoint before reading it
    marker = tmp_path / "pwned"
    torch.save({"format": 1, "config": Payload(marker)}, run_dir / CHECKPOINT)  # a zip with a hostile pickle
    with pytest.raises(checkpoint.CheckpointError, match="refused, not a plain checkpoint"):
        run(compose_spec(*QUICK, "train.steps=6"), run_dir)
    (run_dir / "raw.pt").write_bytes(pickle.dumps(Payload(marker)))  # a bare hostile pickle
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(run_dir / "raw.pt")
    assert not marker.exists()


def test_a_corrupt_checkpoint_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        run(compose_spec(*QUICK), tmp_path)
    with zipfile.ZipFile(tmp_path / CHECKPOINT, "w") as archive:
        archive.writestr("nothing/data.pkl", b"")
    with pytest.raises(checkpoint.CheckpointError, match=str(tmp_path)):
        run(compose_spec(*QUICK), tmp_path)


def test_a_saved_model_loads_for_its_own_vocabulary_and_is_refused_for_another(tmp_path: Path) -> None:
    run(compose_spec(*QUICK), tmp_path)
    dataset, _ = build_run(compose_spec(*QUICK), torch.device("cpu"), seed_everything(0, torch.device("cpu")))
    model = checkpoint.load_model(tmp_path / MODEL, dataset)
    assert model.space == dataset.space
    other, _ = build_run(compose_spec(*QUICK, "dataset.vocab_size=9"), torch.device("cpu"), torch.Generator())
    with pytest.raises(checkpoint.CheckpointError, match="saved for another vocabulary"):
        checkpoint.load_model(tmp_path / MODEL, other)


def forged(run_dir: Path, change) -> None:
    """A killed run's checkpoint changed by `change(saved)`, as a damaged or hand-made file would be."""
    killed(run_dir)
    saved = checkpoint.load(run_dir / CHECKPOINT)
    change(saved)
    checkpoint.save(run_dir / CHECKPOINT, {k: v for k, v in saved.items() if k != "format"})


def set_loop(key: str, value):
    return lambda saved: saved["loop"].__setitem__(key, value)


def drop_loop(key: str):
    return lambda saved: saved["loop"].pop(key)


def nan_weight(saved: dict) -> None:
    saved["algorithm"]["generator"]["out.weight"][0, 0] = float("nan")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (set_loop("step", -5), r"loop\.step=-5 \(must be a whole number >= 0\)"),
        (set_loop("step", 2.5), r"loop\.step=2\.5 \(must be a whole number >= 0\)"),
        (drop_loop("wall_s"), r"loop\.wall_s=None \(must be a number of seconds >= 0\)"),
        (set_loop("wall_s", float("nan")), r"loop\.wall_s=nan"),
        (set_loop("loss_sums", [1.0]), r"loop\.loss_sums and loop\.loss_counts must be mappings"),
        (lambda saved: saved["history"].append({"step": 99}), r"history\[3\]\.step=99 is after loop\.step=4"),
        (lambda saved: saved["history"].__setitem__(0, "row"), r"history\[0\]\.step='row'"),
        (lambda saved: saved.__setitem__("rng", {"run": 1}), r"rng\.run is not a random generator's state"),
        (lambda saved: saved.__setitem__("final", None), r"final is a NoneType \(must be a mapping\)"),
        (lambda saved: saved["code"].pop("fingerprint"), r"code must hold a fingerprint and its files"),
        (nan_weight, r"algorithm\.generator\.out\.weight holds NaN or infinite values"),
    ],
)
def test_a_malformed_or_non_finite_checkpoint_is_refused_before_anything_of_it_is_used(
    tmp_path: Path, change, problem: str
) -> None:
    run(compose_spec(*QUICK), tmp_path)
    forged(tmp_path, change)
    pattern = rf"checkpoint\.pt: cannot be resumed: {problem}.*; resume=never starts the run over, or use another"
    with pytest.raises(checkpoint.CheckpointError, match=pattern) as raised:
        run(compose_spec(*QUICK, "train.steps=6"), tmp_path)
    assert "\n" not in str(raised.value)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"  # nothing resumed, nothing marked
    assert run(compose_spec(*QUICK, "train.steps=6", "resume=never"), tmp_path)["step"] == 6  # the way out works


def test_a_checkpoint_from_another_algorithm_is_refused_naming_the_difference(tmp_path: Path) -> None:
    run(compose_spec(*QUICK, "algorithm=cot"), tmp_path / "cot")
    run(compose_spec(*QUICK), tmp_path / "mle")
    killed(tmp_path / "mle")
    (tmp_path / "mle" / CHECKPOINT).write_bytes((tmp_path / "cot" / CHECKPOINT).read_bytes())
    with pytest.raises(checkpoint.CheckpointError, match=r"made with another config: algorithm\._target_="):
        run(compose_spec(*QUICK, "train.steps=6"), tmp_path / "mle")


def test_a_state_that_does_not_fit_the_algorithm_is_one_line_naming_the_file(tmp_path: Path) -> None:
    run(compose_spec(*QUICK), tmp_path)
    forged(tmp_path, lambda saved: saved["algorithm"].pop("generator"))
    with pytest.raises(
        checkpoint.CheckpointError, match=r"checkpoint\.pt: does not hold this run's MLE state \(KeyError"
    ):
        run(compose_spec(*QUICK, "train.steps=6"), tmp_path)


def test_a_truncated_checkpoint_names_the_ways_out(tmp_path: Path) -> None:
    run(compose_spec(*QUICK), tmp_path)
    killed(tmp_path)
    data = (tmp_path / CHECKPOINT).read_bytes()
    (tmp_path / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError) as raised:
        run(compose_spec(*QUICK, "train.steps=6"), tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / CHECKPOINT}: truncated or corrupt, not a readable checkpoint (")
    assert message.endswith("; resume=never starts the run over, or use another run directory")


def test_a_checkpoint_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / CHECKPOINT)  # opening a FIFO for reading would wait for a writer forever
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint\.pt: not a regular file; resume=never"):
        run(compose_spec(*QUICK), tmp_path)
