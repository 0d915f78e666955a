"""Collect the runs of a results folder from their files, without importing anything they name.

A results folder may come from anywhere (a colleague, a paper's archive), so it is data, never
code: configs are YAML safe-loaded, and a `_target_` that the suite's own config files do not name
is refused before anything is imported (bench.config.build.check_saved_targets), so a saved config
rebuilds only the suite's own datasets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config.build import check_saved_targets
from bench.errors import BenchError
from bench.training.records import CONFIG, HISTORY, METRICS, PREFIX_JSD


@dataclass
class RunResult:
    """One run directory, as its metrics.json describes it."""

    path: Path
    status: str
    algorithm: str
    dataset: str
    seed: int | None
    final: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def data(self) -> dict[str, Any]:
        """The dataset's provenance (files, sha256s, seeds) recorded by the run, or {}."""
        data = self.metrics.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def wall_s(self) -> float | None:
        value = self.metrics.get("wall_s")
        return float(value) if isinstance(value, (int, float)) else None

    def config(self) -> DictConfig:
        """The run's resolved config.yaml (YAML safe-loading only); unreadable: a one-line error naming it."""
        path = self.path / CONFIG
        try:
            config = OmegaConf.load(path)
        except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as error:
            raise BenchError(f"{path}: unreadable ({str(error).splitlines()[0] if str(error) else 'empty'})") from None
        if not isinstance(config, DictConfig):
            raise BenchError(f"{path}: not a config (a YAML mapping)")
        return config

    def history(self) -> pd.DataFrame:
        """The run's evaluations, one row each; an unreadable file is a one-line error naming it."""
        path = self.path / HISTORY
        try:
            history = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise BenchError(f"{path}: unreadable ({str(error).splitlines()[0] if str(error) else 'empty'})") from None
        if "step" not in history or history.empty:
            raise BenchError(f"{path}: has no evaluation rows with a step column")
        return history

    def prefix_jsd(self) -> pd.DataFrame | None:
        """The run's J_t curves (columns step, t, jsd, se, exact), or None when it has none."""
        path = self.path / PREFIX_JSD
        return pd.read_csv(path) if path.is_file() else None


def _read(metrics_path: Path) -> RunResult:
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        return RunResult(metrics_path.parent, "unreadable", "?", "?", None, reason=str(error))
    return RunResult(
        path=metrics_path.parent,
        status=str(metrics.get("status", "unknown")),
        algorithm=str(metrics.get("algorithm", "?")),
        dataset=str(metrics.get("dataset", "?")),
        seed=metrics.get("seed"),
        final=dict(metrics.get("final") or {}),
        reason=str(metrics.get("reason", "")),
        metrics=metrics,
    )


def collect(sweep_dir: Path) -> list[RunResult]:
    """Every run under `sweep_dir` (any folder holding a metrics.json), complete or not."""
    return [_read(path) for path in sorted(Path(sweep_dir).rglob(METRICS))]


def check_complete_runs(runs: Sequence[RunResult]) -> None:
    """A complete run must have the files a report reads: one line naming the first that lacks one."""
    for run in runs:
        if run.complete:
            for name in (CONFIG, HISTORY):
                if not (run.path / name).is_file():
                    raise BenchError(f"{run.path}: complete run without {name} (restore it or move the run away)")


def check_targets(run: RunResult, trusted: Sequence[str] = ()) -> DictConfig:
    """The run's config, once every `_target_` in it is one the suite ships (or the user trusts by name)."""
    config = run.config()
    check_saved_targets(OmegaConf.to_container(config, resolve=False), run.path / CONFIG, trusted)
    return config
