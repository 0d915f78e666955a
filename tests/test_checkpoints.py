"""Checkpoint and model files: a foreign, corrupt or hostile file is refused with a clear error (its
payload never runs), and a model is never loaded for another vocabulary."""

from __future__ import annotations

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
