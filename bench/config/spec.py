"""One resolved run: the command line turned, once and at the boundary, into one frozen typed object.

Hydra composes a `DictConfig`; `resolve_spec` validates every node against its dataclass, reads the
algorithm's name from Hydra's runtime choice (`algorithm=seqgan_tiny` is `seqgan_tiny`), settles the
budget, and keeps the resolved config as plain data for config.yaml and for resuming. Only the
`RunSpec` goes down into the run; nothing below reads a `DictConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from bench.config.build import config_class_of, resolve_target, validated
from bench.config.folders import folder_name_problem
from bench.config.schema import CONF_DIR, Config, compose_with_hydra
from bench.errors import BenchError

COMPONENTS = ("algorithm", "dataset", "logger")
"""Root nodes built from their own `_target_`, each validated against its own config dataclass."""


@dataclass(frozen=True)
class Component:
    """One part a run builds: its dotted `_target_` and its validated config dataclass."""

    target: str
    config: Any


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs, validated: what to train on what, for how long, and how."""

    name: str
    """The algorithm's name: its config choice (metrics.json, `steps_by_algorithm`, the run folder)."""
    algorithm: Component
    dataset: Component
    figures: Component
    """What an evaluation measures on this dataset (`dataset.figures`)."""
    logger: Component
    root: Config
    """The root fields (seed, device, threads, model, eval, ...); its algorithm/dataset/logger are the
    components' configs."""
    steps: int
    """The budget in steps: `train.steps`, else `steps_by_algorithm[name]`, else `algorithm.default_steps`;
    0 when the algorithm's own schedule decides (SeqGAN)."""
    resolved: dict[str, Any]
    """The whole config as plain data, every interpolation resolved: config.yaml and resume's comparison."""
    hydra_files: tuple[tuple[str, str], ...] = ()
    """`.hydra/` files (name, YAML text) the run writes once it holds its folder's lock."""
    job_name: str | None = None
    """The run's log file is `<job_name>.log` (the command line's `cotbench`); None: no log file."""


def _component(node: Any, group: str) -> Component:
    if not isinstance(node, DictConfig):
        raise BenchError(f"{group}: missing (choose one, e.g. {group}=...)")
    target = resolve_target(node, group)
    return Component(str(node["_target_"]), validated(node, config_class_of(target), group))


def check_choices(choices: Mapping[str, Any]) -> None:
    """Refuse a config group choice that climbs folders (`experiment=nope/../smoke` would load smoke, and
    a choice names the run's folders): each part of a choice is a config file or folder name."""
    for group, choice in choices.items():
        if choice is not None and any(part in ("", ".", "..") for part in str(choice).split("/")):
            raise BenchError(f"{group}={choice}: a config name may not contain '..', '.' or empty parts")


def check_job_name(job_name: str) -> None:
    """`hydra.job.name` names the run's log file (`<name>.log`) and cluster jobs: one plain file name."""
    problem = folder_name_problem(job_name, "hydra.job.name")
    if problem or job_name.startswith("."):
        raise BenchError((problem or f"hydra.job.name={job_name!r}: may not start with '.'").replace("folder", "file"))


def resolve_spec(
    cfg: DictConfig, name: str, hydra_files: Sequence[tuple[str, str]] = (), job_name: str | None = None
) -> RunSpec:
    """Validate `cfg` (composed, without Hydra's node) into a `RunSpec` for the algorithm choice `name`."""
    if job_name is not None:
        check_job_name(job_name)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    algorithm = _component(cfg.get("algorithm"), "algorithm")
    dataset = _component(cfg.get("dataset"), "dataset")
    figures = _component(cfg.dataset.get("figures"), "dataset.figures")
    logger = _component(cfg.get("logger"), "logger")
    root = validated({**resolved, **dict.fromkeys(COMPONENTS)}, Config, "config")  # the components apart
    root = dataclasses.replace(root, algorithm=algorithm.config, dataset=dataset.config, logger=logger.config)
    steps = root.train.steps or root.steps_by_algorithm.get(name) or getattr(algorithm.config, "default_steps", None)
    return RunSpec(
        name=name,
        algorithm=algorithm,
        dataset=dataset,
        figures=figures,
        logger=logger,
        root=root,
        steps=int(steps or 0),
        resolved=resolved,
        hydra_files=tuple(hydra_files),
        job_name=job_name,
    )


def without_hydra(cfg: DictConfig) -> DictConfig:
    """A copy of a composed config without Hydra's own node."""
    copy = cfg.copy()
    with open_dict(copy):
        copy.pop("hydra", None)
    return copy


def compose_spec(overrides: Sequence[str] = (), config_dir: Path = CONF_DIR) -> RunSpec:
    """The `RunSpec` of `python -m bench OVERRIDES...` (for scripts and tests that call `run()` directly)."""
    cfg = compose_with_hydra(overrides, config_dir)
    check_choices(cfg.hydra.runtime.choices)
    name = str(cfg.hydra.runtime.choices.algorithm)
    return resolve_spec(without_hydra(cfg), name)
