"""The judge LM of a text dataset: trained once, cached on disk by the sha256 of what it learnt from.

The key (`judge_key`) is the sha256 of the encoded training split, the vocabulary, the sequence
space and the recipe: the same data and recipe find the same file, anything else trains anew. The
file, `<folder>/<dataset>-<key[:16]>.pt`, is written atomically and read with
`torch.load(weights_only=True)` (tensors and plain containers only, never code). A file that cannot
be read that way, or holds another key, format or architecture, is refused with a logged warning
and the judge is trained again and written over it. A folder that cannot be written is a warning
too: the judge then lives only in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation.language_model import LMRecipe, corpus_nll, train_language_model
from bench.files import atomic_write_bytes
from models import Generator, GeneratorConfig

log = logging.getLogger(__name__)

JUDGE_FORMAT = "cotbench-lm-judge-1"


class JudgeCacheError(BenchError):
    """A cached judge that cannot be used (unreadable, unsafe, or made for other data or another recipe)."""


@dataclass
class Judge:
    """The judge LM and what it is: its key, its recipe, its NLLs on the real splits."""

    model: Generator
    record: dict[str, Any]
    """key, recipe, train_nll (the whole real training split), valid_nll (its carved validation part),
    test_nll (the real test set), epochs, best_epoch, seconds (training), source (trained or the file)."""


def judge_key(dataset: Dataset, recipe: LMRecipe) -> str:
    """sha256 of the judge's format, recipe, sequence space, vocabulary and encoded training split."""
    digest = hashlib.sha256(JUDGE_FORMAT.encode())
    digest.update(json.dumps(asdict(recipe), sort_keys=True).encode())
    digest.update(json.dumps(vars(dataset.space), sort_keys=True, default=list).encode())
    words = dataset.vocabulary.words if dataset.vocabulary is not None else ()
    digest.update("\n".join(words).encode("utf-8"))
    digest.update(dataset.train.cpu().contiguous().numpy().astype("<i8").tobytes())
    return digest.hexdigest()


def judge_path(folder: Path, dataset: Dataset, key: str) -> Path:
    return folder / f"{dataset.name}-{key[:16]}.pt"


def load_or_train_judge(
    dataset: Dataset, recipe: LMRecipe, folder: Path | None, device: torch.device, between=None
) -> Judge:
    """The cached judge of `dataset` and `recipe` under `folder`, else one trained now (and cached there)."""
    key = judge_key(dataset, recipe)
    path = judge_path(folder, dataset, key) if folder is not None else None
    if path is not None and path.exists():
        try:
            return _load(path, key, dataset, recipe, device)
        except JudgeCacheError as error:
            log.warning("%s; training the judge again", error)
    log.info("training the LM-score judge of %s (recipe: %s)", dataset.name, asdict(recipe))
    trained = train_language_model(dataset.space, dataset.train, recipe, device, between)
    record = {
        "key": key,
        "recipe": asdict(recipe),
        "train_nll": corpus_nll(trained.model, dataset.train.to(device), between),
        "valid_nll": trained.valid_nll,
        "test_nll": corpus_nll(trained.model, dataset.test.to(device), between),
        "epochs": trained.epochs,
        "best_epoch": trained.best_epoch,
        "fit_sequences": trained.fit_sequences,
        "valid_sequences": trained.valid_sequences,
        "seconds": trained.seconds,
    }
    if path is not None:
        _save(path, trained.model, record)
    return Judge(trained.model, {**record, "source": "trained"})


def _save(path: Path, model: Generator, record: dict[str, Any]) -> None:
    payload = {
        "format": JUDGE_FORMAT,
        "record": record,
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
    }
    try:
        atomic_write_bytes(path, lambda stream: torch.save(payload, stream))
    except OSError as error:
        log.warning("%s: cannot cache the LM-score judge there (%s); it is kept in memory only", path, error)


def _load(path: Path, key: str, dataset: Dataset, recipe: LMRecipe, device: torch.device) -> Judge:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise JudgeCacheError(f"{path}: refused, not a readable judge file ({reason[:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != JUDGE_FORMAT:
        raise JudgeCacheError(f"{path}: refused, not a judge file of format {JUDGE_FORMAT}")
    record, state = payload.get("record"), payload.get("state_dict")
    if not isinstance(record, dict) or record.get("key") != key or not isinstance(state, dict):
        raise JudgeCacheError(f"{path}: refused, made for other data or another recipe (its key differs)")
    model = Generator(dataset.space, GeneratorConfig(emb_dim=recipe.emb_dim, hidden_dim=recipe.hidden_dim))
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as error:
        raise JudgeCacheError(f"{path}: refused, its weights do not fit the recipe ({str(error)[:120]})") from None
    model.to(device).eval()
    return Judge(model, {**record, "source": str(path)})
