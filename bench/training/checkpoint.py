"""Checkpoints and saved models: written atomically, read without executing anything.

A checkpoint holds everything a run needs to continue exactly where it stopped: the algorithm's
state (networks, optimisers, counters, batch order), the loop's state, the RNG states and the
history so far. It is written with `torch.save` to a temporary file in the run directory and
renamed over the old one, so a crash mid-write leaves the previous checkpoint intact. It is read
with `torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.files import atomic_write_bytes
from models.generator import Generator, GeneratorConfig, SequenceSpace

FORMAT_VERSION = 1


class CheckpointError(BenchError):
    """A checkpoint or saved model that cannot be used here (corrupt, unsafe, or from another setup)."""


def fingerprint(generator_config: GeneratorConfig, dataset: Dataset) -> dict[str, Any]:
    """What must match for saved weights to mean the same thing: architecture and vocabulary."""
    words = vocabulary_words(dataset)
    digest = hashlib.sha256("\n".join(words).encode()).hexdigest() if words else None
    config = asdict(generator_config)
    return {
        "dataset": dataset.name,
        **config.pop("space"),
        "emb_dim": config["emb_dim"],
        "hidden_dim": config["hidden_dim"],
        "vocabulary_sha256": digest,
    }


def vocabulary_words(dataset: Dataset) -> list[str] | None:
    """A text dataset's tokens in id order (None on synthetic data, whose ids are the tokens)."""
    return list(dataset.vocabulary.words) if dataset.vocabulary is not None else None


def check_fingerprint(
    path: Path,
    saved: dict[str, Any],
    expected: dict[str, Any],
    saved_words: list[str] | None = None,
    dataset: Dataset | None = None,
) -> None:
    """Refuse weights made for another vocabulary or architecture, naming the first difference."""
    if dataset is not None and dataset.vocabulary is not None and saved_words is not None:
        dataset.vocabulary.check_matches(saved_words, str(path))  # names the first differing token
    for key, value in expected.items():
        if saved.get(key) != value:
            what = "vocabulary" if key in ("vocab_size", "vocabulary_sha256", "dataset") else "architecture"
            raise CheckpointError(
                f"{path}: saved for another {what} ({key}={saved.get(key)!r}, this run has {value!r}); "
                "use the matching config, or resume=never to start over"
            )


def save(path: Path, payload: dict[str, Any]) -> None:
    """`torch.save` to a temporary file beside `path`, then an atomic rename over it."""
    atomic_write_bytes(path, lambda stream: torch.save({"format": FORMAT_VERSION, **payload}, stream))


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely: only tensors and plain containers, with one-line errors."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unpickling failed"
        raise CheckpointError(f"{path}: refused, not a plain checkpoint ({reason[:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a cotbench checkpoint of format {FORMAT_VERSION}")
    return payload


def save_model(path: Path, generator: Generator, dataset: Dataset, step: int | None = None) -> None:
    """A generator alone, with its config, so it can be re-evaluated without retraining; `step` says
    which evaluation it is (the best-validation model's), so a reader can check it against history.csv."""
    config = asdict(generator.config)
    payload = {
        "generator_config": config,
        "fingerprint": fingerprint(generator.config, dataset),
        "state_dict": generator.state_dict(),
    }
    save(path, payload | ({} if step is None else {"step": int(step)}))


def saved_model_step(path: Path) -> int | None:
    """The training step a model saved by `save_model` was taken at, or None when it was not recorded."""
    step = load(path).get("step")
    return int(step) if isinstance(step, int) else None


def load_model(path: Path, dataset: Dataset) -> Generator:
    """A generator saved by `save_model`, checked against `dataset`'s vocabulary."""
    payload = load(path)
    try:
        config = dict(payload["generator_config"])
        config["space"] = SequenceSpace(**config["space"])
        generator_config = GeneratorConfig(**config)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a saved cotbench model ({error})") from None
    as_if_for_dataset = dataclasses.replace(generator_config, space=dataset.space)
    expected = fingerprint(as_if_for_dataset, dataset)
    check_fingerprint(path, payload["fingerprint"], expected, payload.get("vocabulary"), dataset)
    generator = Generator(generator_config)
    generator.load_state_dict(payload["state_dict"])
    return generator.eval()
