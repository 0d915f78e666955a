"""One run from a resolved `RunSpec`: build data, build model and algorithm, open the record, train, finish.

This is the only place that wires the pieces together; `python -m bench` calls `run()` with the
spec it resolved from the command line, and tests call it with `compose_spec(...)` and a temporary
folder. The policies it wires live beside the code they govern: resuming in
`bench.training.resume`, the lock, signals and the final status in `bench.training.lifecycle`, the
files in `bench.training.records`, the payloads in `bench.training.checkpoint`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml

from algorithms.base import Algorithm, TrainingContext
from bench.config.build import call_target, import_target
from bench.config.spec import RunSpec
from bench.datasets.base import Dataset
from bench.devices import execution_mode, execution_record, resolve_device, use_threads
from bench.errors import BenchError
from bench.evaluation.catalogue import CLOCKS, SELECTION, best_evaluation, headline
from bench.evaluation.evaluator import Evaluation, Evaluator
from bench.files import atomic_write_text, remove_stale_temporaries
from bench.provenance import code_record, machine_record
from bench.seeds import seed_everything
from bench.training import checkpoint, resume
from bench.training.console import RunLogHandler
from bench.training.folder_check import check_run_folder
from bench.training.lifecycle import SIGNALS, describe, outcome_recorded
from bench.training.loop import LoopState, train
from bench.training.memory import check_memory
from bench.training.records import BEST_VALID_MODEL, HYDRA_FILES, MODEL, PLOT, RunRecord, read_status
from bench.training.run_lock import RunLock
from bench.training.run_plot import write_plot
from bench.training.tracking import Tracker
from models import Generator

log = logging.getLogger(__name__)


def run(spec: RunSpec, run_dir: Path) -> dict[str, Any]:
    """Train and evaluate as `spec` says, writing everything under `run_dir`; return the final figures."""
    device = resolve_device(spec.root.device, jobs_per_gpu=spec.root.jobs_per_gpu)
    if spec.root.cuda_graphs and device.type != "cuda":
        raise BenchError(f"cuda_graphs=true: needs a CUDA device (this run's device is {device})")
    use_threads(spec.root.threads)
    check_run_folder(Path(run_dir), spec)  # a folder that is not this run's: refused before even its lock
    with (
        execution_mode(device, spec.root.deterministic),
        RunLock(Path(run_dir)) as lock,
        _job_log(lock.run_dir, spec.job_name),
    ):
        final = _built(lambda: _run_locked(spec, device, lock))
        step = f"step {final.get('step')}: " if "step" in final else ""
        log.info("%s %s: %s%s", read_status(lock.run_dir), lock.run_dir, step, headline(final, brief=True))
        return final


def _run_locked(spec: RunSpec, device: torch.device, lock: RunLock) -> dict[str, Any]:
    """Build data, build model and algorithm, open the record, train, finish."""
    run_dir = lock.run_dir
    check_run_folder(run_dir, spec)  # again, now that no other process can write here
    _write_hydra_files(run_dir, spec.hydra_files)
    code = code_record()
    saved = resume.previous_run(spec.resolved, code, spec.root.resume, run_dir)
    rng = seed_everything(spec.root.seed, device)
    dataset, algorithm = _built(lambda: build_run(spec, device, rng))
    figures = _built(lambda: build_figures(spec, dataset, device))
    evaluator = Evaluator(spec.root.eval, dataset, spec.root.seed, device, figures)
    steps = spec.steps or algorithm.default_steps
    record = RunRecord(run_dir)
    checkpointer = resume.Checkpointer(spec.resolved, code, run_dir, dataset, algorithm, rng, record)
    state = checkpointer.resume(saved, steps) if saved is not None else LoopState()
    if state is None:  # complete: never touched again
        return dict(saved["final"])
    meta = _meta(spec, dataset, device, saved, state) | {"code": code, "machine": machine_record()}
    meta["execution"] = execution_record(device, spec.root.deterministic, spec.root.cuda_graphs)
    if checkpointer.rng_reseeded:  # resumed on another device: streams that could not be restored
        meta["rng_reseeded"] = checkpointer.rng_reseeded
    record.start(yaml.safe_dump(spec.resolved, sort_keys=False), meta)
    what = (run_dir, spec.name, dataset.name, spec.root.seed, steps, device)
    log.info("run %s: %s on %s, seed %d, %d steps, device %s", *what)
    tracker = _tracker(spec, run_dir, state.step if saved is not None else None)
    with outcome_recorded(record, lambda: checkpointer.save(state), lock.check_in_place), closing(tracker):
        with SIGNALS.deferred() as signals:
            on_evaluation = _on_evaluation(record, checkpointer, tracker.log_row, lock.check_in_place)
            loop = (steps, spec.root.eval.every, on_evaluation, spec.root.progress, state, signals.pending)
            train(algorithm, evaluator, *loop, on_step=tracker.log_step, eval_also_at=spec.root.eval.also_at)
        return _finish(spec, record, checkpointer, evaluator, state)


def build_run(spec: RunSpec, device: torch.device, rng: torch.Generator) -> tuple[Dataset, Algorithm]:
    """The dataset, then (once the memory check passes) the shared generator (initialised on the CPU from
    the seeded global RNG, then moved: the same initial weights on every device), then the algorithm."""
    dataset = call_target(import_target(spec.dataset.target), spec.dataset.config, "dataset")
    if spec.root.memory_check:  # before any network exists: a run that cannot fit is refused, not OOM-killed
        check_memory(spec.root.model, spec.algorithm.config, dataset.space, spec.root.eval.n_samples, device)
    generator = Generator(dataset.space, spec.root.model).to(device)
    context = TrainingContext(generator, dataset.train.to(device), rng, device, capture=spec.root.cuda_graphs)
    return dataset, call_target(import_target(spec.algorithm.target), spec.algorithm.config, "algorithm", context)


def build_figures(spec: RunSpec, dataset: Dataset, device: torch.device) -> Any:
    """What an evaluation measures on this dataset, as its config's `figures._target_` names."""
    return call_target(import_target(spec.figures.target), spec.figures.config, "dataset.figures", dataset, device)


def _built(build: Callable[[], Any]) -> Any:
    """An unexpected error becomes one line naming its cause (once a run has started, `outcome_recorded`
    has already marked it; before, nothing was written)."""
    try:
        return build()
    except BenchError:
        raise
    except Exception as error:
        raise BenchError(describe(error)) from error


def _tracker(spec: RunSpec, run_dir: Path, resumed_at: int | None) -> Tracker:
    target = import_target(spec.logger.target, "logger._target_")
    config = resume.comparable(spec.resolved)
    return _built(lambda: target(spec.logger.config, run_dir, resumed_at, config, str(run_dir)))


def _write_hydra_files(run_dir: Path, files: tuple[tuple[str, str], ...]) -> None:
    """What Hydra would write into `.hydra/` (config, hydra, overrides), written under the run's lock."""
    try:
        for name, text in files:
            atomic_write_text(run_dir / HYDRA_FILES / name, text)
    except OSError as error:
        raise BenchError(describe(error)) from error
    for stale in remove_stale_temporaries(run_dir):
        log.info("removed %s, left by an interrupted write", stale.name)


@contextmanager
def _job_log(run_dir: Path, job_name: str | None) -> Iterator[None]:
    """The run's log file (start, resume, every evaluation's figures, the end), opened under the lock."""
    if job_name is None:
        yield
        return
    handler = RunLogHandler(run_dir / f"{job_name}.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _meta(
    spec: RunSpec, dataset: Dataset, device: torch.device, saved: dict | None, state: LoopState
) -> dict[str, Any]:
    """What metrics.json says about the run beside its figures; the dataset's warnings are shown once here."""
    warnings = [str(w) for w in getattr(dataset, "warnings", None) or []]
    for warning in warnings:
        log.warning("%s", warning)
    meta = {"algorithm": spec.name, "dataset": dataset.name, "seed": spec.root.seed, "device": str(device)}
    if saved is not None:
        meta["resumed_from_step"] = state.step
    return meta | {"data": dict(getattr(dataset, "provenance", None) or {}), "warnings": warnings}


def _on_evaluation(
    record: RunRecord,
    checkpointer: resume.Checkpointer,
    log_row: Callable[[dict[str, Any]], None],
    in_place: Callable[[], None] = lambda: None,
) -> Callable[[dict[str, Any], Evaluation, LoopState], None]:
    """Every evaluation: a history row (also to the tracker), the latest samples kept for the end, the
    model when its validation NLL is the lowest yet, a checkpoint (last, so a resumed run redoes the rest).
    First `in_place()`: a run whose folder was moved away writes nothing at the old path."""

    def on_evaluation(row: dict[str, Any], evaluation: Evaluation, loop_state: LoopState) -> None:
        in_place()
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
    """True when `row` is the best evaluation so far by the one selection rule (`best_evaluation`)."""
    values = [r.get(SELECTION) for r in [*history, row]]
    return row.get(SELECTION) is not None and best_evaluation(values) == len(history)


def _finish(
    spec: RunSpec, record: RunRecord, checkpointer: resume.Checkpointer, evaluator: Evaluator, state: LoopState
) -> dict[str, Any]:
    """Samples, the final model, the last checkpoint, the learning-curve plot, then `complete` (with the
    files' sizes and hashes): in that order, so `complete` is last."""
    algorithm, dataset = checkpointer.algorithm, checkpointer.dataset
    samples = record.last_samples
    if samples is None:  # resumed after the last evaluation: recompute it (same seed and step, same figures)
        samples = evaluator(algorithm.generator, state.step).samples.tokens
    record.write_samples(dataset.decode(samples[: spec.root.eval.n_saved_samples].cpu()))
    checkpoint.save_model(checkpointer.run_dir / MODEL, algorithm.generator, dataset)
    final = {k: v for k, v in record.history[-1].items() if k not in ("phase", *CLOCKS)}
    checkpointer.save(state, final)
    title = f"{spec.name} on {dataset.name}, seed {spec.root.seed}"
    write_plot(record.history, title, checkpointer.run_dir / PLOT)
    record.meta |= {"wall_s": round(state.wall_s, 3), "train_s": round(state.train_s, 3)}
    record.meta["train_cpu_s"] = round(state.train_cpu_s, 3)
    record.finish(final)
    return final
