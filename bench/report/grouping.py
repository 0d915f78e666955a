"""Which runs may be averaged together: same data, same algorithm choice, same config but the seed.

Runs of one folder may come from several sweeps (`train.steps=50`, then `=100`). Averaging them
would report a figure no configuration produced, so runs whose configs differ in anything but
the seed (and how they ran: progress bar, device, threads, resume policy, the experiment's tuning
section) are refused with the differing keys named, unless the user says which keys to group by
(`--group-by train.steps`). Runs of one dataset name on different data (`dataset.oracle_seed=1`
and `=2`: two oracles) are reported in separate sections, one per data variant, never in one
table. A seed that appears twice in one group (a copied run folder) is refused: it would count twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from bench.errors import BenchError
from bench.report.runs import RunResult

IGNORED = ("seed", "progress", "device", "threads", "resume", "sweep", "logger", "tuning")
"""Top-level keys that say how a run ran (or how its experiment is tuned), not what it computed."""


@dataclass(frozen=True)
class Group:
    """Runs averaged into one row: a dataset (and data variant), an algorithm choice, the group-by values."""

    dataset: str
    algorithm: str
    keys: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] = ()
    """The `dataset.*` values that tell this group's data from other runs' of the same dataset name."""

    @property
    def label(self) -> str:
        values = ", ".join(f"{key}={value}" for key, value in self.keys)
        return f"{self.algorithm} ({values})" if values else self.algorithm

    @property
    def section(self) -> str:
        """The report section of the group's data: `synthetic_mid`, or `synthetic_mid (dataset.oracle_seed=1)`."""
        values = ", ".join(f"{key}={value}" for key, value in self.data)
        return f"{self.dataset} ({values})" if values else self.dataset

    @property
    def slug(self) -> str:
        """The section as a file-name part: letters, digits, `_` and `-` only (a `.` would read as a suffix)."""
        return re.sub(r"[^A-Za-z0-9_-]+", "_", self.section).strip("_")


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
            flat["steps_by_algorithm." + run.algorithm] = (value if isinstance(value, dict) else {}).get(run.algorithm)
        elif key not in IGNORED:
            walk(value, str(key))
    return flat


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values are not the same in every config."""
    keys = sorted({key for config in configs for key in config})
    return [key for key in keys if len({repr(config.get(key)) for config in configs}) > 1]


def _data_keys(flats: list[tuple[RunResult, dict[str, Any]]], group_by: Sequence[str]) -> dict[str, list[str]]:
    """Per dataset name, the `dataset.*` keys whose values differ between its runs (not grouped by)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for run, flat in flats:
        data = {k: v for k, v in flat.items() if k.startswith("dataset.") and k not in group_by}
        by_name.setdefault(run.dataset, []).append(data)
    return {name: differing_keys(configs) for name, configs in by_name.items()}


def group_runs(runs: Sequence[RunResult], group_by: Sequence[str] = ()) -> dict[Group, list[RunResult]]:
    """Complete runs grouped by (data, algorithm, group-by values); refuses groups with unlike configs."""
    flats = [(run, flat_config(run)) for run in runs if run.complete]
    for run, flat in flats:
        unknown = [key for key in group_by if key not in flat]
        if unknown:
            raise BenchError(f"--group-by {','.join(unknown)}: not a config key of {run.path}")
    data_keys = _data_keys(flats, group_by)
    groups: dict[Group, list[tuple[RunResult, dict[str, Any]]]] = {}
    for run, flat in flats:
        data = tuple((key, str(flat.get(key))) for key in data_keys[run.dataset])
        group = Group(run.dataset, run.algorithm, tuple((key, str(flat[key])) for key in group_by), data)
        groups.setdefault(group, []).append((run, flat))
    for group, members in groups.items():
        differing = differing_keys([flat for _, flat in members])
        if differing:
            raise BenchError(
                f"{group.section}/{group.label}: runs differ in {', '.join(differing)}; refusing to average them "
                f"(report them apart, or pass --group-by {','.join(differing)})"
            )
        _check_distinct_seeds(group, [run for run, _ in members])
    return {group: [run for run, _ in members] for group, members in sorted(groups.items(), key=_order)}


def _check_distinct_seeds(group: Group, runs: Sequence[RunResult]) -> None:
    seen: dict[Any, RunResult] = {}
    for run in runs:
        if run.seed in seen:
            raise BenchError(
                f"{group.section}/{group.label}: seed {run.seed} twice ({seen[run.seed].path} and {run.path}); "
                "a copied run would count twice (move one away)"
            )
        seen[run.seed] = run


def sections(groups: dict[Group, list[RunResult]]) -> dict[str, dict[Group, list[RunResult]]]:
    """The groups of each report section (one per dataset and data variant), sections in order."""
    found: dict[str, dict[Group, list[RunResult]]] = {}
    for group, runs in groups.items():
        found.setdefault(group.section, {})[group] = runs
    return found


def _order(item: tuple[Group, Any]) -> tuple:
    group = item[0]
    return group.dataset, group.data, group.algorithm, group.keys
