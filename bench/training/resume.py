"""Resume policy: which config keys may change, and how a run continues from its checkpoint.

A run directory's checkpoint is the whole state at its last evaluation (bench/training/checkpoint.py
says what it holds). A re-run of the same command continues from it when the config is the same
apart from how the run is executed and its budget (`bench.config.keys.RESUMABLE`); any other
difference is refused, naming the first differing value. Restoring the RNG states with the
algorithm's and the loop's state is what makes the resumed run end with exactly the figures of an
uninterrupted one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from algorithms.base import Algorithm
from bench.config.build import check_saved_targets, targets_in
from bench.config.keys import RESUMABLE, without_keys
from bench.datasets.base import Dataset
from bench.provenance import changed_files
from bench.seeds import CUDA_GLOBAL_STREAM, RUN_STREAM, derived_seed
from bench.training import checkpoint
from bench.training.checkpoint import CheckpointError
from bench.training.loop import LoopState
from bench.training.records import (
    CHECKPOINT,
    METRICS,
    RUN_FILES,
    DamagedRunError,
    RunRecord,
    damaged_files,
    read_metrics,
    read_status,
)

log = logging.getLogger(__name__)


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved config without the keys that may change on resume (also applied to a saved config)."""
    return without_keys(config, RESUMABLE)


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN: a run made with a NaN field must be resumable with it."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def first_difference(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> str | None:
    """`key=current (the checkpoint has saved)` for the first differing leaf, in key order; None if equal."""
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            found = first_difference(dict(enumerate(a)), dict(enumerate(b)), f"{prefix}{key}.")
            if found:
                return found
        elif not _same(a, b):
            return f"{prefix}{key}={b!r} (the checkpoint has {a!r})"
    return None


def rng_state(rng: torch.Generator) -> dict[str, Any]:
    """The run's own stream (and the device it lives on) and torch's global ones (dropout draws from
    the global CPU or CUDA RNG)."""
    state = {"run": rng.get_state(), "run_device": rng.device.type, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(rng: torch.Generator, state: dict[str, Any], seed: int, step: int) -> list[dict[str, Any]]:
    """Restore the streams saved by `rng_state`; return what could not be restored and was re-seeded.

    A stream's state only fits a generator of the device type that saved it (a CPU generator's
    state is its whole Mersenne Twister, a CUDA one's a seed and an offset). A run resumed on another
    device (a CPU checkpoint with device=cuda, or back) therefore re-seeds its sampling stream from
    (seed, step), and the global CUDA stream likewise when the checkpoint has none for this machine's
    GPUs: the continuation is as reproducible as any run, though not the one the first device would
    have drawn. Each re-seeding is returned (stream, from, to, step) for metrics.json.
    """
    torch.set_rng_state(state["torch"])
    changes = []
    saved_device = state.get("run_device") or stream_device(state["run"])
    if saved_device == rng.device.type:
        rng.set_state(state["run"])
    else:
        rng.manual_seed(derived_seed(seed, step, RUN_STREAM))
        changes.append({"stream": "run", "from": saved_device, "to": rng.device.type, "step": step})
    saved_cuda = state.get("cuda")
    if not torch.cuda.is_available():
        return changes
    if saved_cuda is not None and len(saved_cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(saved_cuda)
    elif rng.device.type == "cuda":  # only a CUDA run draws from it
        torch.cuda.manual_seed_all(derived_seed(seed, step, CUDA_GLOBAL_STREAM))
        where = "a machine without CUDA" if saved_cuda is None else f"{len(saved_cuda)} GPUs"
        here = f"{torch.cuda.device_count()} GPUs"
        changes.append({"stream": "cuda_global", "from": where, "to": here, "step": step})
    return changes


def stream_device(saved: torch.Tensor) -> str:
    """The device type of a generator whose state is `saved` (for checkpoints that did not record it)."""
    return "cpu" if saved.numel() == torch.Generator().get_state().numel() else "cuda"


def discard_previous(run_dir: Path) -> None:
    """`resume=never`: remove every file a previous run wrote (the lock stays: it is ours)."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)


def previous_run(config: dict[str, Any], code: dict[str, Any], resume: str, run_dir: Path) -> dict[str, Any] | None:
    """The checkpoint to continue from, checked against the resolved `config` and the code that runs now
    (`bench.provenance.code_record`); None when the run starts afresh. A complete run's files are
    verified against the sizes and hashes it recorded before anything of it is used."""
    path = run_dir / CHECKPOINT
    if resume == "never":
        if path.exists() or (run_dir / METRICS).exists():
            log.info("resume=never: starting over in %s (discarding its previous run)", run_dir)
        discard_previous(run_dir)
        return None
    metrics = read_metrics(run_dir)
    if metrics is not None and metrics.get("status") == "complete":
        damaged = damaged_files(run_dir, metrics)
        if damaged:
            raise DamagedRunError(
                f"{run_dir}: a complete run with damaged files: {', '.join(damaged)}; restore them, or "
                "resume=never runs it again from the start (the same config and seed give the same figures)"
            )
    if not path.exists():
        return None
    saved = checkpoint.load_run_checkpoint(path)
    own_targets = [target for _, target in targets_in(config)]  # a user's own algorithm resumes too
    check_saved_targets(saved["config"], path, trusted=own_targets)
    check_same_code(path, saved["code"], code)
    difference = first_difference(comparable(saved["config"]), comparable(config))
    if difference:
        raise CheckpointError(
            f"{path}: made with another config: {difference}; "
            "use the original values, another run directory, or resume=never to start over"
        )
    return saved


def check_same_code(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to continue (or call complete) a run made by other code than what runs now: its figures
    would mix two versions of the model, the update rules, the metrics or the data."""
    if saved.get("fingerprint") == current["fingerprint"]:
        return
    changed = changed_files(dict(saved.get("files") or {}), current["files"])
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    raise CheckpointError(
        f"{path}: made by other code (changed since: {shown or 'unknown files'}); "
        "resume=never starts over with this code, or use another run directory"
    )


@dataclass
class Checkpointer:
    """Writes the run's checkpoint (and restores from one) for one dataset, algorithm and RNG stream."""

    config: dict[str, Any]
    """The run's resolved config (plain data)."""
    code: dict[str, Any]
    """The code that runs (`bench.provenance.code_record`)."""
    run_dir: Path
    dataset: Dataset
    algorithm: Algorithm
    rng: torch.Generator
    record: RunRecord
    rng_reseeded: list[dict[str, Any]] = field(default_factory=list)
    """Random streams that could not be restored on this device and were re-seeded (`restore_rng`)."""

    @property
    def path(self) -> Path:
        return self.run_dir / CHECKPOINT

    def save(self, state: LoopState, final: dict[str, Any] | None = None) -> None:
        payload = checkpoint.run_payload(
            config=comparable(self.config),
            code=self.code,
            generator=self.algorithm.generator,
            dataset=self.dataset,
            algorithm_state=self.algorithm.state_dict(),
            rng=rng_state(self.rng),
            loop=state.state_dict(),
            history=self.record.history,
            curves=self.record.curves,
            final=final,
        )
        checkpoint.save(self.path, payload)

    def restore(self, saved: dict[str, Any]) -> LoopState:
        """Load the algorithm, RNG and history from `saved`; the loop state to continue from.
        Streams re-seeded because the device changed are listed in `rng_reseeded`."""
        try:
            self.algorithm.load_state_dict(saved["algorithm"])
            seed, step = int(self.config.get("seed", 0)), int(saved["loop"]["step"])
            self.rng_reseeded = restore_rng(self.rng, saved["rng"], seed, step)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            lines = str(error).strip().splitlines()
            what = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
            raise CheckpointError(
                f"{self.path}: does not hold this run's {type(self.algorithm).__name__} state ({what}); "
                f"{checkpoint.RUN_REMEDY}"
            ) from None
        self.record.history = [dict(row) for row in saved["history"]]
        self.record.curves = {name: [dict(row) for row in rows] for name, rows in saved.get("curves", {}).items()}
        return LoopState.from_state_dict(saved["loop"])

    def check(self, saved: dict[str, Any]) -> None:
        """Refuse weights saved for another vocabulary or architecture."""
        generator = self.algorithm.generator
        expected = checkpoint.identity(generator.config, generator.space, self.dataset)
        checkpoint.check_identity(self.path, saved["identity"], expected, saved.get("vocabulary"), self.dataset)

    def resume(self, saved: dict[str, Any], steps: int) -> LoopState | None:
        """Continue from `saved`: the loop state to go on from, or None for a complete run (left as it is)."""
        self.check(saved)
        state = self.restore(saved)
        if is_complete(saved, self.run_dir, steps, self.algorithm.finished):
            log.info("%s: already complete at step %d (resume=never starts over)", self.run_dir, state.step)
            return None
        log.info("resuming %s from its checkpoint at step %d", self.run_dir, state.step)
        return state


def is_complete(saved: dict[str, Any], run_dir: Path, steps: int, finished: bool) -> bool:
    """A complete run is never touched again, unless a larger budget extends it.

    `finished`: the restored algorithm has done its own schedule (SeqGAN ends before `steps`).
    """
    if read_status(run_dir) != "complete" or not saved["final"]:
        return False
    return finished or int(saved["loop"]["step"]) >= steps
