"""Collect the runs of a results folder from their files, without importing anything they name.

A results folder may come from anywhere (a colleague, a paper's archive), so it is data, never
code: configs are YAML safe-loaded, and a `_target_` outside the suite's own packages is refused
by its name before anything is imported, so a saved config rebuilds only the suite's own datasets.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.errors import BenchError
from bench.provenance import SOURCE_ROOT

SUITE_PACKAGES = ("algorithms", "bench", "metrics")
"""Top-level packages whose classes and builders a saved config may name."""
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


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
        path = self.path / "config.yaml"
        try:
            config = OmegaConf.load(path)
        except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as error:
            raise BenchError(f"{path}: unreadable ({str(error).splitlines()[0] if str(error) else 'empty'})") from None
        if not isinstance(config, DictConfig):
            raise BenchError(f"{path}: not a config (a YAML mapping)")
        return config

    def history(self) -> pd.DataFrame:
        """The run's evaluations, one row each; an unreadable file is a one-line error naming it."""
        path = self.path / "history.csv"
        try:
            history = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise BenchError(f"{path}: unreadable ({str(error).splitlines()[0] if str(error) else 'empty'})") from None
        if "step" not in history or history.empty:
            raise BenchError(f"{path}: has no evaluation rows with a step column")
        return history

    def prefix_jsd(self) -> pd.DataFrame | None:
        """The run's J_t curves (columns step, t, jsd, se, exact), or None when it has none."""
        path = self.path / "prefix_jsd.csv"
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
    return [_read(path) for path in sorted(Path(sweep_dir).rglob("metrics.json"))]


def check_complete_runs(runs: Sequence[RunResult]) -> None:
    """A complete run must have the files a report reads: one line naming the first that lacks one."""
    for run in runs:
        if run.complete:
            for name in ("config.yaml", "history.csv"):
                if not (run.path / name).is_file():
                    raise BenchError(f"{run.path}: complete run without {name} (restore it or move the run away)")


def targets_in(node: Any, where: str = "") -> Iterable[tuple[str, str]]:
    """Every (key path, `_target_` value) in a loaded config."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield path, str(value)
            else:
                yield from targets_in(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from targets_in(value, f"{where}[{index}]")


def _shipped(target: str, allowed: Sequence[str]) -> bool:
    """Whether `target` lies under a suite package as already loaded from this repository (no import)."""
    if not _DOTTED.fullmatch(target):
        return False
    if any(target == prefix or target.startswith(prefix + ".") for prefix in allowed):
        return True
    top = target.split(".")[0]
    module = sys.modules.get(top)
    origin = getattr(module, "__file__", None) or ""
    return top in SUITE_PACKAGES and Path(origin).resolve().is_relative_to(SOURCE_ROOT)


def check_targets(run: RunResult, allowed: Sequence[str] = ()) -> DictConfig:
    """The run's config, once every `_target_` in it is known to be the suite's own (else one line)."""
    config = run.config()
    container = OmegaConf.to_container(config, resolve=False)
    for key, target in targets_in(container):
        if not _shipped(target, allowed):
            raise BenchError(
                f"{run.path / 'config.yaml'}: {key}={target} is not part of cotbench; refusing to import it "
                "(name it with --allow-target if you trust it)"
            )
    return config
