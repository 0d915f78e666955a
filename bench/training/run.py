"""One run from a composed config: build dataset, generator and algorithm, train, record.

This is the only place that wires the pieces together; `python -m bench` calls `run()` inside
Hydra, and tests call it directly on a composed config and a temporary folder. The policies it
wires live beside the code they govern: resuming in `bench.training.resume`, the lock, signals and the final
status in `bench.training.lifecycle`, the files in `bench.training.records`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from algorithms.base import Algorithm, TrainingContext
from bench.config.build import build, resolve_target, validated
from bench.config.schema import Config
from bench.datasets.base import Dataset
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.evaluation.evaluator import Evaluation, Evaluator
from bench.files import remove_stale_temporaries
from bench.seeds import seed_everything
from bench.training import checkpoint, resume
from bench.training.lifecycle import SIGNALS, RunLock, describe, outcome_recorded
from bench.training.loop import LoopState, train
from bench.training.records import RunRecord
from bench.training.tracking import open_tracker
from models.generator import Generator, GeneratorConfig

log = logging.getLogger(__name__)

# Re-exported for callers that find a run's files by name.
CHECKPOINT, MODEL, BEST_VALID_MODEL = resume.CHECKPOINT, resume.MODEL, resume.BEST_VALID_MODEL


def algorithm_name(cfg: DictConfig) -> str:
    """The algorithm's config choice (`algorithm=seqgan_tiny` -> `seqgan_tiny`), set by conf/config.yaml."""
    name = cfg.algorithm.get("name")
    if not name:
        raise BenchError("algorithm.name: missing (conf/config.yaml sets it to the config choice)")
    return str(name)


def _root_config(cfg: DictConfig) -> Config:
    return validated(cfg, Config, "config")


def build_run(cfg: DictConfig, device: torch.device, rng: torch.Generator) -> tuple[Dataset, Algorithm]:
    """Dataset, then the shared generator (initialised from the seeded global RNG), then the algorithm."""
    resolve_target(cfg.algorithm, "algorithm")  # fail on an unknown algorithm before building data
    dataset: Dataset = build(cfg.dataset, "dataset")
    model = cfg.model
    generator_config = GeneratorConfig(dataset.space, model.emb_dim, model.hidden_dim, init_std=model.init_std)
    generator = Generator(generator_config).to(device)
    context = TrainingContext(generator, dataset.train.to(device), rng, device)
    return dataset, build(cfg.algorithm, "algorithm", context)


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train and evaluate as `cfg` says, writing everything under `run_dir`; return the final figures."""
    config = _root_config(cfg)
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    with RunLock(Path(run_dir)) as lock:
        try:
            return _run_locked(cfg, config, device, lock.run_dir)
        except BenchError:
            raise
        except Exception as error:  # before the run started (e.g. seeding): nothing was written
            raise BenchError(describe(error)) from error


def _run_locked(cfg: DictConfig, config: Config, device: torch.device, run_dir: Path) -> dict[str, Any]:
    for stale in remove_stale_temporaries(run_dir):
        log.info("removed %s, left by an interrupted write", stale.name)
    saved = resume.previous_run(cfg, config.resume, run_dir)
    rng = seed_everything(config.seed, device)
    dataset, algorithm = build_run(cfg, device, rng)
    evaluator = Evaluator(config.eval, dataset, config.seed, device)
    name = algorithm_name(cfg)
    steps = config.train.steps or config.steps_by_algorithm.get(name) or algorithm.default_steps
    record = RunRecord(run_dir)
    checkpointer = resume.Checkpointer(cfg, run_dir, dataset, algorithm, rng, record)
    state = checkpointer.resume(saved, steps) if saved is not None else LoopState()
    if state is None:  # complete: never touched again
        return dict(saved["final"])
    record.start(OmegaConf.to_yaml(cfg, resolve=True), _meta(name, config, dataset, device, saved, state))
    log.info("run %s: %s on %s, seed %d, %d steps, device %s", run_dir, name, dataset.name, config.seed, steps, device)
    resumed_at = state.step if saved is not None else None
    tracker = open_tracker(config.logger, run_dir, resumed_at, resume.comparable(cfg), str(run_dir))
    with outcome_recorded(record, lambda: checkpointer.save(state)), closing(tracker):
        with SIGNALS.deferred() as signals:
            train(
                algorithm,
                evaluator,
                steps,
                config.eval.every,
                _on_evaluation(record, checkpointer, tracker.log_row),
                config.progress,
                state,
                signals.pending,
                on_step=tracker.log_step,
            )
        return _finish(config, record, checkpointer, evaluator, state)


def _meta(
    name: str, config: Config, dataset: Dataset, device: torch.device, saved: dict | None, state: LoopState
) -> dict[str, Any]:
    """What metrics.json says about the run beside its figures; the dataset's warnings are shown once here."""
    warnings = [str(w) for w in getattr(dataset, "warnings", None) or []]
    for warning in warnings:
        log.warning("%s", warning)
    meta = {"algorithm": name, "dataset": dataset.name, "seed": config.seed, "device": str(device)}
    if saved is not None:
        meta["resumed_from_step"] = state.step
    return meta | {"data": dict(getattr(dataset, "provenance", None) or {}), "warnings": warnings}


def _on_evaluation(
    record: RunRecord, checkpointer: resume.Checkpointer, log_row: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any], Evaluation, LoopState], None]:
    """Every evaluation: a history row (also to the tracker), the latest samples kept for the end, the
    model when its validation NLL is the lowest yet, a checkpoint (last, so a resumed run redoes the rest)."""

    def on_evaluation(row: dict[str, Any], evaluation: Evaluation, loop_state: LoopState) -> None:
        best = lowest_valid_yet(record.history, row)
        record.append_history(row, evaluation.curves)
        log_row(row)
        record.last_samples = evaluation.samples.tokens
        if best:
            generator, dataset = checkpointer.algorithm.generator, checkpointer.dataset
            checkpoint.save_model(checkpointer.run_dir / BEST_VALID_MODEL, generator, dataset, step=int(row["step"]))
        checkpointer.save(loop_state)
        log.debug("step %d (%s): %s", row["step"], row.get("phase", ""), headline(row))

    return on_evaluation


def lowest_valid_yet(history: list[dict[str, Any]], row: dict[str, Any]) -> bool:
    """True when `row`'s `nll_valid` is below every earlier one (the first of equal values wins, as
    the report's selection of the best evaluation does)."""
    value = row.get("nll_valid")
    if not isinstance(value, float) or not math.isfinite(value):
        return False
    earlier = [r.get("nll_valid") for r in history]
    return all(value < v for v in earlier if isinstance(v, float) and math.isfinite(v))


# The figures a run's last line shows, when the dataset has them.
HEADLINE = ("nll_oracle", "nll_test", "nll_valid", "jsd", "jsd_prefix_mean", "bleu5", "self_bleu5", "sacrebleu")


TIMES = ("wall_s", "train_s", "train_cpu_s")
"""A history row's clocks: the budget, not figures of the model."""


def headline(row: dict[str, Any], brief: bool = False) -> str:
    """The figures of one history row (with `brief`, only the headline ones), as `name value, ...`."""
    skip = ("step", "phase", *TIMES)
    names = [k for k in HEADLINE if k in row] if brief else [k for k in row if k not in skip]
    return ", ".join(f"{k} {row[k]:.4g}" if isinstance(row[k], float) else f"{k} {row[k]}" for k in names)


def _finish(
    config: Config, record: RunRecord, checkpointer: resume.Checkpointer, evaluator: Evaluator, state: LoopState
) -> dict[str, Any]:
    """Samples, the final model, the last checkpoint, then `complete`: in that order, so `complete` is last."""
    algorithm, dataset = checkpointer.algorithm, checkpointer.dataset
    samples = record.last_samples
    if samples is None:  # resumed after the last evaluation: recompute it (same seed and step, same figures)
        samples = evaluator(algorithm.generator, state.step).samples.tokens
    record.write_samples(dataset.decode(samples[: config.eval.n_saved_samples].cpu()))
    checkpoint.save_model(checkpointer.run_dir / MODEL, algorithm.generator, dataset)
    final = {k: v for k, v in record.history[-1].items() if k not in ("phase", *TIMES)}
    checkpointer.save(state, final)
    record.meta |= {"wall_s": round(state.wall_s, 3), "train_s": round(state.train_s, 3)}
    record.meta["train_cpu_s"] = round(state.train_cpu_s, 3)
    record.finish(final)
    return final
