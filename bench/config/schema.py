"""The typed root config, and the typed node schemas every shipped config file extends.

Every default lives in a config dataclass; a file under conf/ names its `_target_` and only the
values that differ. Each algorithm, dataset and logger file extends the schema node of its
target's config dataclass (`- /schema/algorithm/CoTConfig@_here_` in its defaults list), so Hydra
composes typed nodes: a misspelt key fails at compose time, a wrong type at once (`seed=abc`), and
every field can be set from the command line without a `+`. The schema nodes are derived from the
files themselves (`register_configs`): adding a config file registers its schema. Ranges are
checked in `__post_init__` when the run spec is resolved (bench/config/spec.py), before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf, open_dict

from bench.config.build import config_class_of, import_target
from bench.config.folders import folder_name_problem
from bench.devices import DEVICE_PATTERN, DEVICES, visible_cores
from models import GeneratorConfig
from models.checks import check_finite

__all__ = ["CONF_DIR", "Config", "EvalConfig", "TrainConfig", "compose_config", "register_configs"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
MAX_EVAL_SAMPLES = 100_000_000
"""More samples per evaluation than any run can hold in memory: refused up front, naming the value."""
TEMPERATURES = (1e-4, 1e4)
"""The evaluation temperatures allowed: beyond them, logits / tau overflow or vanish in float32."""
SEEDS = 2**64 - 1
"""The largest seed: torch seeds its generators with 64 bits."""
SCHEMA_GROUPS = ("algorithm", "dataset", "logger")
"""Config groups whose files name a `_target_` and extend its config dataclass's schema node."""


@dataclass
class TrainConfig:
    """The budget of the one training loop."""

    steps: int | None = None
    """Calls of the algorithm's step() (an MLE batch, a CoT iteration, ...); null: the budget of
    `steps_by_algorithm`, else the algorithm's own `algorithm.default_steps`."""

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"train.steps={self.steps}: must be a positive integer")


@dataclass
class EvalConfig:
    """When and how the model is measured."""

    every: int = 100
    """Evaluate every this many steps (and at step 0 and at the end)."""
    also_at: list[int] = field(default_factory=list)
    """Further steps to evaluate at, e.g. [100, 200] to meet a published log at its own iterations."""
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
        if any(isinstance(step, bool) or not isinstance(step, int) or step < 1 for step in self.also_at):
            raise ValueError(f"eval.also_at={list(self.also_at)}: must be a list of positive step numbers")
        if self.n_samples < 2:
            raise ValueError(f"eval.n_samples={self.n_samples}: must be at least 2")
        if self.n_samples > MAX_EVAL_SAMPLES:
            raise ValueError(f"eval.n_samples={self.n_samples}: must be at most {MAX_EVAL_SAMPLES:,} (per evaluation)")
        check_finite(self, "eval")
        if not self.temperature > 0:
            raise ValueError(f"eval.temperature={self.temperature}: must be a finite number > 0")
        if not TEMPERATURES[0] <= self.temperature <= TEMPERATURES[1]:
            low, high = TEMPERATURES
            raise ValueError(
                f"eval.temperature={self.temperature}: must be between {low:g} and {high:g} "
                "(logits / temperature must stay finite in float32)"
            )
        if self.n_saved_samples is not None and self.n_saved_samples < 0:
            raise ValueError(f"eval.n_saved_samples={self.n_saved_samples}: must be >= 0")


@dataclass
class PathsConfig:
    """Where data files are read from; experiment files and datasets name their files under it."""

    data_root: str = MISSING
    """$COTBENCH_DATA, else data/ in the checkout, else the user's cache folder (conf/config.yaml
    resolves it with `${cotbench.data_root:}`; bench/config/folders.py:data_root says how)."""


@dataclass
class Config:
    """Root of every run: what to train (algorithm) on what (dataset), for how long, where."""

    algorithm: Any = MISSING
    """Algorithm node (conf/algorithm/*.yaml): a typed node of its config dataclass, plus `_target_`."""
    dataset: Any = MISSING
    """Dataset node (conf/dataset/*.yaml): a typed node of its config dataclass plus `_target_` (the
    builder) and `figures._target_` (what an evaluation measures on it)."""
    logger: Any = MISSING
    """Experiment tracker besides history.csv (conf/logger/: none, tensorboard, wandb), by `_target_`."""
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    """The shared generator's sizes and initialisation."""
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    steps_by_algorithm: dict[str, int] = field(default_factory=dict)
    """Budget per algorithm name (e.g. {mle: 18750, cot: 200000}) for sweeps over algorithms whose
    budgets differ; `train.steps`, when given, wins; without either, `algorithm.default_steps`."""
    seed: int = 0
    """Seeds the run's one RNG stream (initialisation, batches, sampling); data seeds are the dataset's."""
    device: str = "auto"
    """auto (cuda when present, else cpu), cpu, cuda or cuda:N."""
    threads: int = 1
    """torch CPU threads. One by default: on a busy machine more threads than free cores cost many
    times the wall-clock (docs/design.md); `threads=2` (at most the visible cores) on an idle one;
    0 keeps torch's own default."""
    progress: bool = True
    """Show a progress bar with the latest figures."""
    resume: str = "auto"
    """auto: continue from the run directory's checkpoint when there is one; never: start over."""
    memory_check: bool = True
    """Refuse a run whose estimated peak memory exceeds what is available (bench/training/memory.py),
    before its networks are built; false: try anyway."""
    sweep: str | None = None
    """Name of a multirun sweep, its folder under outputs/sweeps/; null: the experiment's name, else one
    derived from the dataset and the overrides (bench/config/folders.py)."""
    deterministic: bool = True
    """Same config and seed, same numbers, on CUDA too: deterministic algorithms, cuBLAS's fixed
    workspace, cuDNN without benchmarking, no TensorFloat-32 (bench/devices.py:execution_mode). false:
    PyTorch's faster defaults, whose numbers may differ from run to run on a GPU. A CPU computes the
    same numbers either way."""
    cuda_graphs: bool = False
    """CUDA only: replay the fixed-shape work (sampling chunks without EOS, the MLE, CoT and discriminator
    updates) from CUDA graphs, one launch instead of hundreds per step; the same kernels, so the same
    numbers (docs/gpu.md)."""
    jobs_per_gpu: int = 1
    """On a machine with several GPUs: runs per GPU. `hydra/launcher=local` starts this many jobs per GPU,
    and each job process keeps a slot on one GPU (bench/gpu_slots.py)."""
    tuning: Any = None
    """An experiment's equal tuning budget (grid per algorithm, tuning and final seeds): read by
    `python -m bench.tune experiment=NAME` (bench/tune/plan.py); a run itself ignores it."""

    def __post_init__(self) -> None:
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device={self.device!r}: must be {DEVICES}")
        for name, steps in self.steps_by_algorithm.items():
            if steps < 1:
                raise ValueError(f"steps_by_algorithm.{name}={steps}: must be a positive integer")
        if not 0 <= self.seed <= SEEDS:
            raise ValueError(f"seed={self.seed}: must be between 0 and {SEEDS} (torch seeds with 64 bits)")
        if self.sweep is not None and (problem := folder_name_problem(self.sweep, "sweep")):
            raise ValueError(problem)
        if self.resume not in ("auto", "never"):
            raise ValueError(f"resume={self.resume!r}: must be auto or never")
        if self.jobs_per_gpu < 1:
            raise ValueError(f"jobs_per_gpu={self.jobs_per_gpu}: must be a positive integer")
        cores = visible_cores()
        if not 0 <= self.threads <= cores:
            raise ValueError(f"threads={self.threads}: must be between 0 (torch's default) and {cores} (visible cores)")


def node_schema(config_class: type, group: str) -> type:
    """`config_class` with the node-only keys a file sets beside its fields: `_target_`, and for a
    dataset its `figures` node (what an evaluation measures on it, by its own `_target_`)."""
    extra: list[tuple[str, Any, Any]] = [("_target_", str, field(default=MISSING))]
    if group == "dataset":
        extra.append(("figures", Any, field(default=MISSING)))
    return make_dataclass(config_class.__name__, extra, bases=(config_class,))


def shipped_schemas(config_dir: Path = CONF_DIR) -> dict[str, dict[str, type]]:
    """By group, the config dataclass of every `_target_` the shipped files name, by class name."""
    schemas: dict[str, dict[str, type]] = {}
    for group in SCHEMA_GROUPS:
        for path in sorted((config_dir / group).glob("*.yaml")):
            target = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("_target_")
            if target:
                config_class = config_class_of(import_target(str(target)))
                schemas.setdefault(group, {})[config_class.__name__] = config_class
    return schemas


def root_schema() -> DictConfig:
    """The structured root config; `steps_by_algorithm` accepts any algorithm name without a `+`."""
    root = OmegaConf.structured(Config)
    OmegaConf.set_struct(root.steps_by_algorithm, False)
    return root


def register_configs(config_dir: Path = CONF_DIR) -> None:
    """Put the root schema (`- schema` in conf/config.yaml) and the group schema nodes in Hydra's ConfigStore."""
    store = ConfigStore.instance()
    store.store(name="schema", node=root_schema())
    for group, schemas in shipped_schemas(config_dir).items():
        for name, config_class in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node_schema(config_class, group))


def compose_with_hydra(overrides: Sequence[str] = (), config_dir: Path = CONF_DIR) -> DictConfig:
    """The config `python -m bench OVERRIDES...` runs with, Hydra's own node (runtime choices) included."""
    register_configs(config_dir)
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def compose_config(overrides: Sequence[str] = (), config_dir: Path = CONF_DIR) -> DictConfig:
    """The composed config without Hydra's own node, resolved (for scripts and tests)."""
    cfg = compose_with_hydra(overrides, config_dir)
    with open_dict(cfg):
        del cfg["hydra"]
    OmegaConf.resolve(cfg)
    return cfg
