"""One run from a composed config: build dataset, generator and algorithm, train, record.

This is the only place that wires the pieces together; `python -m bench` calls `run()` inside
Hydra, and tests call it directly on a composed config and a temporary folder. It also owns the
run's life cycle: a lock on the run directory, a checkpoint at every evaluation, resuming from it
(`resume=auto`), and turning divergence and SIGINT/SIGTERM into a saved state and an honest status.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from algorithms.base import Algorithm, TrainingContext
from algorithms.generator import Generator, GeneratorConfig
from bench import checkpoint
from bench.build import build, resolve_target, validated
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation import Evaluation, Evaluator
from bench.lifecycle import RunLock, StopSignals
from bench.loop import DivergenceError, LoopState, StopRequested, train
from bench.records import RunRecord, read_status
from bench.runtime import resolve_device, seed_everything
from bench.schema import Config

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
# Keys that may differ between a run and its resumption: how it runs, not what it computes.
_RESUMABLE_DIFFERENCES = ("progress", "device", "threads", "resume", "train", "steps_by_algorithm")


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


def _comparable(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The config without the keys that may change on resume (also applied to a saved config)."""
    resolved = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    return {key: value for key, value in resolved.items() if key not in _RESUMABLE_DIFFERENCES}


def _first_difference(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> str | None:
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key}={b!r} (the checkpoint has {a!r})"
    return None


def _discard_previous(run_dir: Path) -> None:
    for name in (CHECKPOINT, MODEL, "history.csv", "prefix_jsd.csv", "samples.txt", "metrics.json"):
        (run_dir / name).unlink(missing_ok=True)


def _rng_state(rng: torch.Generator) -> dict[str, Any]:
    state = {"run": rng.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(rng: torch.Generator, state: dict[str, Any]) -> None:
    rng.set_state(state["run"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train and evaluate as `cfg` says, writing everything under `run_dir`; return the final figures."""
    config = _root_config(cfg)
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = Path(run_dir)
    with RunLock(run_dir):
        return _run_locked(cfg, config, device, run_dir)


def _run_locked(cfg: DictConfig, config: Config, device: torch.device, run_dir: Path) -> dict[str, Any]:
    checkpoint_path = run_dir / CHECKPOINT
    saved: dict[str, Any] | None = None
    if config.resume == "never":
        if checkpoint_path.exists() or (run_dir / "metrics.json").exists():
            log.info("resume=never: starting over in %s (discarding its previous run)", run_dir)
        _discard_previous(run_dir)
    elif checkpoint_path.exists():
        saved = checkpoint.load(checkpoint_path)
        difference = _first_difference(_comparable(saved["config"]), _comparable(cfg))
        if difference:
            raise checkpoint.CheckpointError(
                f"{checkpoint_path}: made with another config: {difference}; "
                "use the original values, another run directory, or resume=never to start over"
            )

    rng = seed_everything(config.seed, device)
    dataset, algorithm = build_run(cfg, device, rng)
    evaluator = Evaluator(config.eval, dataset, config.seed, device)
    steps = config.train.steps or config.steps_by_algorithm.get(algorithm_name(cfg)) or algorithm.default_steps
    expected = checkpoint.fingerprint(algorithm.generator.config, dataset)

    record = RunRecord(run_dir)
    meta = {"algorithm": algorithm_name(cfg), "dataset": dataset.name, "seed": config.seed, "device": str(device)}
    state = LoopState()
    if saved is not None:
        checkpoint.check_fingerprint(checkpoint_path, saved["fingerprint"], expected, saved.get("vocabulary"), dataset)
        if read_status(run_dir) == "complete" and saved["loop"]["step"] >= steps:
            log.info("%s: already complete at step %d (resume=never starts over)", run_dir, saved["loop"]["step"])
            return dict(saved["final"])
        algorithm.load_state_dict(saved["algorithm"])
        _restore_rng(rng, saved["rng"])
        state = LoopState.from_state_dict(saved["loop"])
        record.history = [dict(row) for row in saved["history"]]
        record.curves = {name: [dict(row) for row in rows] for name, rows in saved.get("curves", {}).items()}
        meta["resumed_from_step"] = state.step
        log.info("resuming %s from its checkpoint at step %d", run_dir, state.step)
    record.start(OmegaConf.to_yaml(cfg, resolve=True), meta)
    last: dict[str, Any] = {}

    def save_checkpoint(loop_state: LoopState, final: dict[str, Any] | None = None) -> None:
        payload = {
            "config": _comparable(cfg),
            "fingerprint": expected,
            "vocabulary": checkpoint.vocabulary_words(dataset),
            "algorithm": algorithm.state_dict(),
            "rng": _rng_state(rng),
            "loop": loop_state.state_dict(),
            "history": record.history,
            "curves": record.curves,
            "final": final or {},
        }
        checkpoint.save(checkpoint_path, payload)

    def on_evaluation(row: dict[str, Any], evaluation: Evaluation, loop_state: LoopState) -> None:
        record.append_history(row, evaluation.curves)
        last.update(row=row, samples=evaluation.samples.tokens)
        save_checkpoint(loop_state)

    try:
        with StopSignals() as signals:
            state = train(
                algorithm, evaluator, steps, config.eval.every, on_evaluation, config.progress, state, signals.pending
            )
    except StopRequested as stop:
        save_checkpoint(state)
        record.fail("interrupted", f"{stop}; checkpoint saved, run the same command to resume")
        raise
    except DivergenceError as error:
        kept = f"; last good checkpoint: step {record.history[-1]['step']}" if record.history else ""
        record.fail("failed", f"{error}{kept}")
        raise
    except BenchError as error:
        record.fail("failed", str(error))
        raise
    except KeyboardInterrupt:
        record.fail("interrupted", "interrupted by the user before a checkpoint could be written")
        raise

    if not last:  # resumed after the last evaluation: recompute it (same seed and step, same figures)
        last.update(row=record.history[-1], samples=evaluator(algorithm.generator, state.step).samples.tokens)
    record.write_samples(dataset.decode(last["samples"][: config.eval.n_saved_samples].cpu()))
    checkpoint.save_model(run_dir / MODEL, algorithm.generator, dataset)
    final = {k: v for k, v in last["row"].items() if k not in ("wall_s", "phase")}
    save_checkpoint(state, final)
    record.meta["wall_s"] = round(state.wall_s, 3)
    record.finish(final)
    return final
