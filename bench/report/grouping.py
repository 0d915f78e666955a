"""Which runs may be averaged together: same dataset, same algorithm choice, same config but the seed.

Runs of one folder may come from several sweeps (`train.steps=50`, then `=100`). Averaging them
would report a figure no configuration produced, so runs whose configs differ in anything but
the seed (and how they ran: progress bar, device, threads, resume policy) are refused with the
differing keys named, unless the user says which keys to group by (`--group-by train.steps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.report.runs import RunResult

IGNORED = ("seed", "progress", "device", "threads", "resume", "sweep", "logger")
"""Top-level keys that say how a run ran, not what it computed."""


@dataclass(frozen=True)
class Group:
    """Runs averaged into one row: a dataset, an algorithm choice and the values of the group-by keys."""

    dataset: str
    algorithm: str
    keys: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        values = ", ".join(f"{key}={value}" for key, value in self.keys)
        return f"{self.algorithm} ({values})" if values else self.algorithm


def flat_config(run: RunResult) -> dict[str, Any]:
    """The run's config as dotted keys, without the ignored ones; budgets reduced to this algorithm's."""
    container = OmegaConf.to_container(run.config(), resolve=False)
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            flat[prefix] = node

    for key, value in container.items():
        if key == "steps_by_algorithm":
            flat["steps_by_algorithm." + run.algorithm] = (value or {}).get(run.algorithm)
        elif key not in IGNORED:
            walk(value, str(key))
    return flat


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values are not the same in every config."""
    keys = sorted({key for config in configs for key in config})
    return [key for key in keys if len({repr(config.get(key)) for config in configs}) > 1]


def group_runs(runs: Sequence[RunResult], group_by: Sequence[str] = ()) -> dict[Group, list[RunResult]]:
    """Complete runs grouped by (dataset, algorithm, group-by values); refuses groups with unlike configs."""
    groups: dict[Group, list[tuple[RunResult, dict[str, Any]]]] = {}
    for run in runs:
        if not run.complete:
            continue
        flat = flat_config(run)
        unknown = [key for key in group_by if key not in flat]
        if unknown:
            raise BenchError(f"--group-by {','.join(unknown)}: not a config key of {run.path}")
        group = Group(run.dataset, run.algorithm, tuple((key, str(flat[key])) for key in group_by))
        groups.setdefault(group, []).append((run, flat))
    _check_same_data(groups, group_by)
    for group, members in groups.items():
        differing = differing_keys([flat for _, flat in members])
        if differing:
            raise BenchError(
                f"{group.dataset}/{group.label}: runs differ in {', '.join(differing)}; refusing to average them "
                f"(report them apart, or pass --group-by {','.join(differing)})"
            )
    return {group: [run for run, _ in members] for group, members in sorted(groups.items(), key=_order)}


def _check_same_data(groups: dict[Group, list[tuple[RunResult, dict[str, Any]]]], group_by: Sequence[str]) -> None:
    """Rows of one table must share their data: runs of one dataset name that differ in `dataset.*` are refused."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for group, members in groups.items():
        by_name.setdefault(group.dataset, []).extend(flat for _, flat in members)
    for name, configs in by_name.items():
        only_data = [{k: v for k, v in c.items() if k.startswith("dataset.") and k not in group_by} for c in configs]
        differing = differing_keys(only_data)
        if differing:
            raise BenchError(
                f"{name}: runs used different data ({', '.join(differing)}); refusing to put them in one table "
                f"(report them apart, or pass --group-by {','.join(differing)})"
            )


def _order(item: tuple[Group, Any]) -> tuple:
    group = item[0]
    return group.dataset, group.algorithm, group.keys
