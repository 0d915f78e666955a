"""The typed root config: every field documented where it is defined, checked before any work.

Types are enforced by OmegaConf when Hydra composes (`seed=abc` fails at once); ranges are checked
in `__post_init__` when `validated()` turns the config into these dataclasses. The `algorithm` and
`dataset` nodes carry a `_target_`; their own config dataclasses (the `config_class` of the
algorithm, the annotation of the dataset builder) check them the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from bench.sweeps import register_resolver

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass
class ModelConfig:
    """The shared generator architecture (DESIGN §1); every algorithm trains this same model."""

    emb_dim: int = 32
    """Token embedding size (32 in the synthetic benchmark)."""
    hidden_dim: int = 32
    """LSTM hidden size (32 in the synthetic benchmark)."""
    init_std: float = 0.1
    """Every generator parameter, biases included, starts N(0, init_std)."""

    def __post_init__(self) -> None:
        if self.emb_dim < 1 or self.hidden_dim < 1:
            raise ValueError(f"model.emb_dim={self.emb_dim}, model.hidden_dim={self.hidden_dim}: must be positive")
        if not self.init_std > 0:
            raise ValueError(f"model.init_std={self.init_std}: must be > 0")


@dataclass
class TrainConfig:
    """The budget of the one training loop."""

    steps: int | None = None
    """Calls of the algorithm's step() (an MLE batch, a CoT iteration, ...); null: the algorithm's
    own default budget (`Algorithm.default_steps`), sized to show learning in minutes on a laptop."""

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"train.steps={self.steps}: must be a positive integer")


@dataclass
class EvalConfig:
    """When and how the model is measured."""

    every: int = 100
    """Evaluate every this many steps (and at step 0 and at the end)."""
    n_samples: int = 10_000
    """Sequences sampled from the model per evaluation (NLL_oracle, JSD, BLEU)."""
    temperature: float = 1.0
    """Sampling and scoring temperature tau (logits / tau) at evaluation."""
    n_saved_samples: int = 1000
    """Final samples written to samples.txt."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"eval.every={self.every}: must be a positive integer")
        if self.n_samples < 2:
            raise ValueError(f"eval.n_samples={self.n_samples}: must be at least 2")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"eval.temperature={self.temperature}: must be a finite number > 0")
        if self.n_saved_samples < 0:
            raise ValueError(f"eval.n_saved_samples={self.n_saved_samples}: must be >= 0")


@dataclass
class Config:
    """Root of every run: what to train (algorithm) on what (dataset), for how long, where."""

    algorithm: Any = MISSING
    """Algorithm node with a `_target_` class (conf/algorithm/*.yaml)."""
    dataset: Any = MISSING
    """Dataset node with a `_target_` builder (conf/dataset/*.yaml)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    steps_by_algorithm: dict[str, int] = field(default_factory=dict)
    """Budget per algorithm name (e.g. {mle: 18750, cot: 200000}) for sweeps over algorithms whose
    budgets differ; `train.steps`, when given, wins; without either, the algorithm's own default."""
    seed: int = 0
    """Seeds the run's one RNG stream (initialisation, batches, sampling); data seeds are the dataset's."""
    device: str = "auto"
    """auto (cuda when present, else cpu), cpu, cuda or cuda:N."""
    threads: int = 0
    """torch CPU threads; 0 keeps torch's default."""
    progress: bool = True
    """Show a progress bar with the latest figures."""
    resume: str = "auto"
    """auto: continue from the run directory's checkpoint when there is one; never: start over."""
    sweep: str | None = None
    """Name of a multirun sweep, its folder under outputs/sweeps/; null: the experiment's name, else one
    derived from the dataset and the overrides (bench/sweeps.py)."""

    def __post_init__(self) -> None:
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device={self.device!r}: must be auto, cpu, cuda or cuda:N")
        for name, steps in self.steps_by_algorithm.items():
            if steps < 1:
                raise ValueError(f"steps_by_algorithm.{name}={steps}: must be a positive integer")
        if self.resume not in ("auto", "never"):
            raise ValueError(f"resume={self.resume!r}: must be auto or never")
        if self.threads < 0:
            raise ValueError(f"threads={self.threads}: must be >= 0 (0 keeps torch's default)")


def register_configs() -> None:
    """Put the root schema where conf/config.yaml's defaults list finds it (`- schema`)."""
    ConfigStore.instance().store(name="schema", node=Config)
    register_resolver()
