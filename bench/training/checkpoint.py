"""Checkpoints and saved models: what they hold, written atomically, read without executing anything.

This module owns both payloads. A run checkpoint holds everything a run needs to continue exactly
where it stopped: the comparable config, the fingerprint of the code that made it, the weights'
identity, the algorithm's state (networks, optimisers, counters, batch order), the RNG states, the
loop's state and the history so far. A saved model holds one generator with its config and the step
it was taken at. Both are written with `torch.save` to a temporary file and renamed over the old
one, so a crash mid-write leaves the previous file intact, and read with
`torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.files import RefusedFile, atomic_write_bytes, open_regular
from models import Generator, GeneratorConfig, SequenceSpace

FORMAT_VERSION = 2
RUN_KEYS = ("config", "code", "identity", "algorithm", "rng", "loop", "history", "final")
"""What every run checkpoint holds (besides `format`, `vocabulary` and `curves`)."""


class CheckpointError(BenchError):
    """A checkpoint or saved model that cannot be used here (corrupt, unsafe, or from another setup)."""


def identity(config: GeneratorConfig, space: SequenceSpace, dataset: Dataset) -> dict[str, Any]:
    """What must match for saved weights to mean the same thing: architecture and vocabulary."""
    words = vocabulary_words(dataset)
    digest = hashlib.sha256("\n".join(words).encode()).hexdigest() if words else None
    return {
        "dataset": dataset.name,
        **asdict(space),
        "emb_dim": config.emb_dim,
        "hidden_dim": config.hidden_dim,
        "vocabulary_sha256": digest,
    }


def vocabulary_words(dataset: Dataset) -> list[str] | None:
    """A text dataset's tokens in id order (None on synthetic data, whose ids are the tokens)."""
    return list(dataset.vocabulary.words) if dataset.vocabulary is not None else None


def check_identity(
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
        if _plain(saved.get(key)) != _plain(value):
            what = "vocabulary" if key in ("vocab_size", "vocabulary_sha256", "dataset") else "architecture"
            raise CheckpointError(
                f"{path}: saved for another {what} ({key}={saved.get(key)!r}, this run has {value!r}); "
                "use the matching config, or resume=never to start over"
            )


def _plain(value: Any) -> Any:
    """Tuples and lists compare alike (a saved tuple may come back as a list)."""
    return list(value) if isinstance(value, tuple) else value


def save(path: Path, payload: dict[str, Any]) -> None:
    """`torch.save` to a temporary file beside `path`, then an atomic rename over it (into `path`'s folder
    as it is, never creating it: a run folder moved away is not recreated at its old path)."""
    atomic_write_bytes(path, lambda stream: torch.save({"format": FORMAT_VERSION, **payload}, stream), parents=False)


RUN_REMEDY = "resume=never starts the run over, or use another run directory"
"""The ways out of a run checkpoint that cannot be resumed, as every such error words them."""


def load(path: Path, remedy: str | None = None) -> dict[str, Any]:
    """Read a checkpoint safely: only tensors and plain containers, with one-line errors (ending with
    `remedy`, the ways out, when given)."""
    tail = f"; {remedy}" if remedy else ""
    if path.exists() and not path.is_file():
        raise CheckpointError(f"{path}: not a regular file{tail}")
    try:
        with open_regular(path) as stream:  # a FIFO under its name is refused, never waited on
            payload = torch.load(stream, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except RefusedFile as error:
        raise CheckpointError(f"{path}: {error.strerror}") from None
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unpickling failed"
        raise CheckpointError(f"{path}: refused, not a plain checkpoint ({reason[:160]}){tail}") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it ({error.strerror or type(error).__name__}){tail}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        what = f"{type(error).__name__}, {path.stat().st_size:,} bytes"
        raise CheckpointError(f"{path}: truncated or corrupt, not a readable checkpoint ({what}){tail}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a cotbench checkpoint of format {FORMAT_VERSION}{tail}")
    return payload


# ----- run checkpoints ----------------------------------------------------------------------------
def run_payload(
    config: dict[str, Any],
    code: dict[str, Any],
    generator: Generator,
    dataset: Dataset,
    algorithm_state: dict[str, Any],
    rng: dict[str, Any],
    loop: dict[str, Any],
    history: list[dict[str, Any]],
    curves: dict[str, list[dict[str, Any]]],
    final: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a run continues from, as one plain dictionary."""
    return {
        "config": config,
        "code": {"fingerprint": code["fingerprint"], "files": code["files"]},
        "identity": identity(generator.config, generator.space, dataset),
        "vocabulary": vocabulary_words(dataset),
        "algorithm": algorithm_state,
        "rng": rng,
        "loop": loop,
        "history": history,
        "curves": curves,
        "final": final or {},
    }


def load_run_checkpoint(path: Path) -> dict[str, Any]:
    """A run checkpoint, checked to hold every part of `run_payload`, well formed and finite
    (`bench.training.checkpoint_checks`), before anything of it is used."""
    from bench.training.checkpoint_checks import run_checkpoint_problem

    saved = load(path, RUN_REMEDY)
    missing = [key for key in RUN_KEYS if key not in saved]
    if missing:
        raise CheckpointError(f"{path}: not a cotbench run checkpoint (missing {', '.join(missing)}); {RUN_REMEDY}")
    problem = run_checkpoint_problem(saved)
    if problem:
        raise CheckpointError(f"{path}: cannot be resumed: {problem}; {RUN_REMEDY}")
    return saved


# ----- saved models -------------------------------------------------------------------------------
def save_model(path: Path, generator: Generator, dataset: Dataset, step: int | None = None) -> None:
    """A generator alone, with its config, so it can be re-evaluated without retraining; `step` says
    which evaluation it is (the best-validation model's), so a reader can check it against history.csv."""
    payload = {
        "generator_config": asdict(generator.config),
        "space": asdict(generator.space),
        "identity": identity(generator.config, generator.space, dataset),
        "vocabulary": vocabulary_words(dataset),
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
        config = GeneratorConfig(**payload["generator_config"])
        SequenceSpace(**payload["space"])  # well-formed, even though the dataset's own space is used
        saved_identity = dict(payload["identity"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a saved cotbench model ({error})") from None
    check_identity(path, saved_identity, identity(config, dataset.space, dataset), payload.get("vocabulary"), dataset)
    generator = Generator(dataset.space, config)
    generator.load_state_dict(payload["state_dict"])
    return generator.eval()
