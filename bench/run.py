"""One run from a composed config: build dataset, generator and algorithm, train, record.

This is the only place that wires the pieces together; `python -m bench` calls `run()` inside
Hydra, and tests call it directly on a composed config and a temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from algorithms.base import Algorithm, TrainingContext
from algorithms.generator import Generator, GeneratorConfig
from bench.build import build, resolve_target, validated
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation import Evaluation, Evaluator
from bench.loop import train
from bench.records import RunRecord
from bench.runtime import resolve_device, seed_everything
from bench.schema import Config


def algorithm_name(cfg: DictConfig) -> str:
    """`algorithms.cot.CoT` -> `cot`: the name is the module, as on the command line."""
    return str(cfg.algorithm._target_).split(".")[-2]


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
    rng = seed_everything(config.seed, device)
    dataset, algorithm = build_run(cfg, device, rng)
    evaluator = Evaluator(config.eval, dataset, config.seed, device)

    record = RunRecord(run_dir)
    meta = {"algorithm": algorithm_name(cfg), "dataset": dataset.name, "seed": config.seed, "device": str(device)}
    record.start(OmegaConf.to_yaml(cfg, resolve=True), meta)
    last: dict[str, Any] = {}

    def on_evaluation(row: dict[str, Any], evaluation: Evaluation) -> None:
        nonlocal last
        record.append_history(row)
        last = {"row": row, "samples": evaluation.samples.tokens}

    try:
        steps = config.train.steps or algorithm.default_steps
        state = train(algorithm, evaluator, steps, config.eval.every, on_evaluation, config.progress)
    except BenchError as error:
        record.fail("failed", str(error))
        raise
    except KeyboardInterrupt:
        record.fail("interrupted", "interrupted by the user")
        raise
    record.write_samples(dataset.decode(last["samples"][: config.eval.n_saved_samples].cpu()))
    final = {k: v for k, v in last["row"].items() if k not in ("wall_s", "phase")}
    record.meta["wall_s"] = round(state.wall_s, 3)
    record.finish(final)
    return final
