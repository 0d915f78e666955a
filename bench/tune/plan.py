"""An equal tuning budget: every algorithm gets the same number of configurations, selected on validation NLL.

An experiment file's `tuning` section declares, per algorithm, a small grid over fields of its
algorithm node (learning rates; CoT's mediator dropout and width; SeqGAN's discriminator learning
rate), each grid the same size. Stage 1 runs every configuration with the tuning seeds; each
algorithm's configuration is then selected on the mean over those runs of their best validation
NLL (`bench.evaluation.catalogue.best_evaluation`, never the test set); stage 2 runs the selected
configuration with fresh seeds, and only stage-2 runs are compared by the report. For an algorithm
with an adversarial phase (SeqGAN) the validation NLL is read from that phase: its best evaluation
is otherwise its MLE pretraining, which no discriminator setting changes.

    tuning:
      seeds: [100, 101]        # stage 1, disjoint from final_seeds
      final_seeds: [0, 1, 2]   # stage 2
      overrides: []            # stage 1 only (e.g. tune on the first oracle)
      grid:
        mle: {lr: [0.003, 0.01]}
        cot: {m_dropout: [0.0, 0.5]}

`python -m bench.tune experiment=NAME` runs both stages (bench/tune/driver.py) and writes `TUNING_FILE`
into the sweep folder: the grid, every configuration's runs and validation figure, the selection.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.evaluation.catalogue import SELECTION, best_evaluation
from bench.report.runs import RunResult

TUNING_FILE = "tuning.json"
"""The grid, the stage-1 runs with their validation figures, the selection and the stage-2 runs."""
ADVERSARIAL = "adversarial"


@dataclass(frozen=True)
class TuningPlan:
    """The `tuning` section, checked."""

    seeds: tuple[int, ...]
    final_seeds: tuple[int, ...]
    grid: dict[str, dict[str, tuple[Any, ...]]]
    """algorithm -> field of its node -> values; each algorithm's configurations are the product."""
    overrides: tuple[str, ...] = ()

    def configurations(self, algorithm: str) -> list[dict[str, Any]]:
        """The algorithm's configurations (its grid's product, in declared order), as field -> value."""
        axes = self.grid[algorithm]
        return [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]


def _seeds(section: Mapping[str, Any], key: str) -> tuple[int, ...]:
    values = section.get(key)
    if not isinstance(values, list | tuple) or not values:
        raise BenchError(f"tuning.{key}={values!r}: must be a non-empty list of integer seeds")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values) or len(set(values)) < len(values):
        raise BenchError(f"tuning.{key}={list(values)}: must be distinct integers >= 0")
    return tuple(values)


def _value(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BenchError(f"{where}={value!r}: grid values must be numbers or plain words")
    if isinstance(value, float) and not math.isfinite(value):
        raise BenchError(f"{where}={value}: must be finite")
    if isinstance(value, str) and not value.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise BenchError(f"{where}={value!r}: words may hold only letters, digits, '_', '-' and '.'")
    return value


def plan_from(section: Any) -> TuningPlan:
    """The checked plan of an experiment's `tuning` section; one line naming the value otherwise."""
    if not isinstance(section, Mapping) or not section:
        raise BenchError("tuning: the experiment has no tuning section (see bench/tune/plan.py for its form)")
    unknown = sorted(set(section) - {"seeds", "final_seeds", "grid", "overrides"})
    if unknown:
        raise BenchError(f"tuning.{unknown[0]}: unknown key (allowed: seeds, final_seeds, grid, overrides)")
    seeds, final_seeds = _seeds(section, "seeds"), _seeds(section, "final_seeds")
    if set(seeds) & set(final_seeds):
        raise BenchError(
            f"tuning.final_seeds: {sorted(set(seeds) & set(final_seeds))} also tune; stage 2 needs fresh seeds"
        )
    grid_in = section.get("grid")
    if not isinstance(grid_in, Mapping) or not grid_in:
        raise BenchError("tuning.grid: must map each algorithm to {field: [values, ...]}")
    grid: dict[str, dict[str, tuple[Any, ...]]] = {}
    for algorithm, axes in grid_in.items():
        if not isinstance(axes, Mapping) or not axes:
            raise BenchError(f"tuning.grid.{algorithm}: must map fields of algorithm.* to lists of values")
        grid[str(algorithm)] = {}
        for field_name, values in axes.items():
            where = f"tuning.grid.{algorithm}.{field_name}"
            if not str(field_name).isidentifier():
                raise BenchError(f"{where}: not a field name of the algorithm node")
            if not isinstance(values, list | tuple) or not values or len(set(map(repr, values))) < len(values):
                raise BenchError(f"{where}={values!r}: must be a non-empty list of distinct values")
            grid[str(algorithm)][str(field_name)] = tuple(_value(v, where) for v in values)
    sizes = {algorithm: math.prod(len(v) for v in axes.values()) for algorithm, axes in grid.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{a} {n}" for a, n in sizes.items())
        raise BenchError(f"tuning.grid: every algorithm needs the same number of configurations ({listed})")
    overrides = section.get("overrides") or []
    if not isinstance(overrides, list | tuple) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise BenchError(f"tuning.overrides={overrides!r}: must be a list of key=value overrides")
    return TuningPlan(seeds, final_seeds, grid, tuple(overrides))


def override_value(value: Any) -> str:
    """A grid value as Hydra reads it back as the same value."""
    return repr(value) if isinstance(value, float) else str(value)


def stage_overrides(plan: TuningPlan, algorithm: str, seeds: Sequence[int], configuration: Mapping | None) -> list[str]:
    """The overrides of one stage's multirun: the algorithm, the seeds, and the whole grid (stage 1) or
    the selected configuration (stage 2)."""
    overrides = [f"algorithm={algorithm}", "seed=" + ",".join(str(s) for s in seeds)]
    if configuration is None:
        axes = plan.grid[algorithm]
        return overrides + [f"algorithm.{k}=" + ",".join(override_value(v) for v in vs) for k, vs in axes.items()]
    return overrides + [f"algorithm.{key}={override_value(value)}" for key, value in configuration.items()]


def validation_figure(run: RunResult) -> float | None:
    """The run's selection figure: its best `nll_valid` (in the adversarial phase where it has one), else None."""
    if not run.complete:
        return None
    history = run.history()
    if SELECTION not in history:
        return None
    if "phase" in history and (history["phase"] == ADVERSARIAL).any():
        history = history[history["phase"] == ADVERSARIAL]
    values = history[SELECTION].tolist()
    best = best_evaluation(values)
    return None if best is None else float(values[best])


def matches(run: RunResult, algorithm: str, configuration: Mapping[str, Any], seeds: Sequence[int]) -> bool:
    """Whether `run` is one of this configuration's runs: its algorithm, a seed of `seeds`, the grid values."""
    if run.algorithm != algorithm or run.seed not in seeds or run.status == "unreadable":
        return False
    node = run.config().get("algorithm") or {}
    return all(key in node and node[key] == value for key, value in configuration.items())


def relative(run: RunResult, root: Path) -> str:
    """A run's folder relative to the sweep folder (so the record holds wherever the sweep is moved)."""
    return run.path.relative_to(root).as_posix()


def select(plan: TuningPlan, runs: Sequence[RunResult], root: Path) -> dict[str, Any]:
    """The tuning record: per algorithm, each configuration with its stage-1 runs and their mean validation
    figure, and the selected configuration (lowest mean, first of equals; None while runs are missing)."""
    record: dict[str, Any] = {}
    for algorithm in plan.grid:
        configurations = []
        for configuration in plan.configurations(algorithm):
            members = [run for run in runs if matches(run, algorithm, configuration, plan.seeds)]
            figures = [validation_figure(run) for run in members]
            finished = [run for run in members if run.status in ("complete", "failed")]
            usable = [f for f in figures if f is not None and math.isfinite(f)]
            complete = {run.seed for run in finished} >= set(plan.seeds)
            mean = sum(usable) / len(usable) if usable and len(usable) == len(members) and complete else None
            configurations.append(
                {
                    "configuration": configuration,
                    "runs": [
                        {"path": relative(run, root), "seed": run.seed, "status": run.status, "nll_valid": figure}
                        for run, figure in zip(members, figures, strict=True)
                    ],
                    "complete": complete,
                    "mean_nll_valid": mean,
                }
            )
        ready = all(c["complete"] for c in configurations)
        means = [c["mean_nll_valid"] for c in configurations]
        best = best_evaluation([m if m is not None else math.nan for m in means]) if ready else None
        record[algorithm] = {"configurations": configurations, "selected": best}
    return record
