"""The typed root config, and the typed node schemas every shipped config file extends.

Every default lives in a config dataclass; a file under conf/ names its `_target_` and only the
values that differ. Each algorithm and dataset file extends the schema node of its config
dataclass (`- /schema/algorithm/cot@_here_` in its defaults list), so Hydra composes typed nodes:
a misspelt key fails at compose time, a wrong type at once (`seed=abc`), and every field can be
set from the command line without a `+`. Ranges are checked in `__post_init__` when
`bench.config.build.validated()` turns a node into its dataclass, before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import MISSING, DictConfig, OmegaConf, open_dict

from algorithms.cot import CoTConfig
from algorithms.mle import MLEConfig
from algorithms.nested_cot import NestedCoTConfig
from algorithms.seqgan import SeqGANConfig
from bench.datasets.synthetic import SyntheticConfig
from bench.datasets.text import TextConfig
from bench.devices import DEVICE_PATTERN, DEVICES
from bench.training.tracking import LoggerConfig
from models.checks import check_finite
from models.generator import ModelConfig

__all__ = ["Config", "EvalConfig", "ModelConfig", "NODE_SCHEMAS", "TrainConfig", "compose_config", "register_configs"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

NODE_SCHEMAS: dict[str, dict[str, type]] = {
    "algorithm": {"mle": MLEConfig, "cot": CoTConfig, "nested_cot": NestedCoTConfig, "seqgan": SeqGANConfig},
    "dataset": {"synthetic": SyntheticConfig, "text": TextConfig},
}
"""Schema nodes by group and name: conf/<group>/*.yaml extend `/schema/<group>/<name>@_here_`."""


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
    n_saved_samples: int | None = None
    """Final samples written to samples.txt; null: every scored sample, so the figures can be
    recomputed from the file (self-BLEU on a subset of the samples is not the run's self-BLEU)."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"eval.every={self.every}: must be a positive integer")
        if self.n_samples < 2:
            raise ValueError(f"eval.n_samples={self.n_samples}: must be at least 2")
        check_finite(self, "eval")
        if not self.temperature > 0:
            raise ValueError(f"eval.temperature={self.temperature}: must be a finite number > 0")
        if self.n_saved_samples is not None and self.n_saved_samples < 0:
            raise ValueError(f"eval.n_saved_samples={self.n_saved_samples}: must be >= 0")


@dataclass
class Config:
    """Root of every run: what to train (algorithm) on what (dataset), for how long, where."""

    algorithm: Any = MISSING
    """Algorithm node (conf/algorithm/*.yaml): a typed node of its config dataclass, plus `_target_`
    (the class) and `name` (the config choice, e.g. seqgan_tiny: metrics.json, steps_by_algorithm)."""
    dataset: Any = MISSING
    """Dataset node (conf/dataset/*.yaml): a typed node of its config dataclass plus `_target_` (the builder)."""
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
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    """Experiment tracker besides history.csv (conf/logger/: none, tensorboard, wandb)."""
    sweep: str | None = None
    """Name of a multirun sweep, its folder under outputs/sweeps/; null: the experiment's name, else one
    derived from the dataset and the overrides (bench/sweeps.py)."""

    def __post_init__(self) -> None:
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device={self.device!r}: must be {DEVICES}")
        for name, steps in self.steps_by_algorithm.items():
            if steps < 1:
                raise ValueError(f"steps_by_algorithm.{name}={steps}: must be a positive integer")
        if self.resume not in ("auto", "never"):
            raise ValueError(f"resume={self.resume!r}: must be auto or never")
        if self.threads < 0:
            raise ValueError(f"threads={self.threads}: must be >= 0 (0 keeps torch's default)")


def node_schema(config_class: type, group: str) -> type:
    """`config_class` with the node-only keys: `_target_` (set by the file), and for an algorithm
    its `name` (set by conf/config.yaml to the config choice)."""
    extra = [("_target_", str, field(default=MISSING))]
    if group == "algorithm":
        extra.append(("name", str, field(default=MISSING)))
    return make_dataclass(config_class.__name__, extra, bases=(config_class,))


def root_schema() -> DictConfig:
    """The structured root config; `steps_by_algorithm` accepts any algorithm name without a `+`."""
    root = OmegaConf.structured(Config)
    OmegaConf.set_struct(root.steps_by_algorithm, False)
    return root


def register_configs() -> None:
    """Put the root schema (`- schema` in conf/config.yaml) and the group schema nodes in Hydra's ConfigStore."""
    store = ConfigStore.instance()
    store.store(name="schema", node=root_schema())
    for group, schemas in NODE_SCHEMAS.items():
        for name, config_class in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node_schema(config_class, group))


def compose_config(overrides: Sequence[str] = (), config_dir: Path = CONF_DIR) -> DictConfig:
    """The config `python -m bench OVERRIDES...` runs with, resolved, without Hydra's own node.

    For scripts and tests that call `bench.training.run.run()` directly: interpolations that need Hydra's
    run-time values (the algorithm's name is its config choice) are resolved here, while they exist.
    """
    register_configs()
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(cfg)
    try:
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.resolve(cfg)
    finally:
        hydra_config.cfg = previous
    return cfg
