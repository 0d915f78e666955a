"""Collect the runs of a results folder from their files, without importing anything they name.

A results folder may come from anywhere (a colleague, a paper's archive), so it is data, never
code: configs are YAML safe-loaded without aliases or interpolations, every file is read through
`bench.report.reading` (regular files inside the folder, bounded), no link is followed out of it,
and a `_target_` that the suite's own config files do not name is refused before anything is
imported (bench.config.build.check_saved_targets), so a saved config rebuilds only the suite's
own datasets. A complete run whose record is malformed (a seed that is not an integer, a history
whose steps are not numbers) is one line naming the file, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config.build import check_saved_targets
from bench.errors import BenchError
from bench.report.escape import one_line
from bench.report.reading import read_csv, read_json, read_yaml, refuse_interpolations
from bench.training.records import CONFIG, HISTORY, METRICS, PREFIX_JSD, effective_status

TEXT_COLUMNS = ("phase",)
"""History columns that hold words; every other column holds numbers."""


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
    root: Path | None = None
    """The results folder the run was found in: no file is read through a link out of it."""
    _history: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def top(self) -> Path:
        return self.root if self.root is not None else self.path

    @property
    def data(self) -> dict[str, Any]:
        """The dataset's provenance (files, sha256s, seeds) recorded by the run, or {}."""
        data = self.metrics.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def code(self) -> dict[str, Any]:
        """The code that made the run (revision, dirty, fingerprint, files); {} for runs made before it was kept."""
        code = self.metrics.get("code")
        return code if isinstance(code, dict) else {}

    @property
    def machine(self) -> dict[str, Any]:
        """Where the run ran (cpu, cpu_capability, cores, torch_threads, gpu), or {}."""
        machine = self.metrics.get("machine")
        return machine if isinstance(machine, dict) else {}

    @property
    def wall_s(self) -> float | None:
        value = self.metrics.get("wall_s")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def config(self) -> DictConfig:
        """The run's config.yaml (safe YAML, no aliases, no interpolations); unreadable: one line naming it."""
        path = self.path / CONFIG
        loaded = read_yaml(path, self.top)
        if not isinstance(loaded, dict):
            raise BenchError(f"{path}: not a config (a YAML mapping)")
        refuse_interpolations(loaded, path)
        try:
            return OmegaConf.create(loaded)
        except (OmegaConfBaseException, ValueError, TypeError) as error:
            raise BenchError(f"{path}: unreadable ({one_line(str(error).splitlines()[0])})") from None

    def history(self) -> pd.DataFrame:
        """The run's evaluations, one row each (read once); every column but `phase` numeric, else one line."""
        if self._history is None:
            self._history = _checked_history(read_csv(self.path / HISTORY, self.top), self.path / HISTORY)
        return self._history

    def prefix_jsd(self) -> pd.DataFrame | None:
        """The run's J_t curves (columns step, t, jsd, se, exact), or None when it has none."""
        path = self.path / PREFIX_JSD
        if not os.path.lexists(path):
            return None
        return _checked_history(read_csv(path, self.top), path, ("exact",))


def _checked_history(history: pd.DataFrame, path: Path, words: Sequence[str] = TEXT_COLUMNS) -> pd.DataFrame:
    if "step" not in history or history.empty:
        raise BenchError(f"{path}: has no evaluation rows with a step column")
    for column in history.columns:
        if column in words or pd.api.types.is_numeric_dtype(history[column]):
            continue
        numbers = pd.to_numeric(history[column], errors="coerce")
        bad = history[column][numbers.isna() & history[column].notna()]
        if len(bad):
            where = int(bad.index[0]) + 2  # the header is line 1
            value = one_line(repr(bad.iloc[0]))[:60]
            raise BenchError(f"{path}: line {where}: {one_line(column)} is {value}, not a number")
        history[column] = numbers
    steps = history["step"]
    if steps.isna().any() or not all(float(s).is_integer() for s in steps):
        raise BenchError(f"{path}: the step column holds a value that is not a whole number")
    return history


def _malformed(metrics: dict[str, Any]) -> str | None:
    """What is wrong with a metrics.json's fields the report relies on, or None."""
    seed = metrics.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return f"seed={one_line(repr(seed))[:40]} is not an integer"
    for name in ("status", "algorithm", "dataset"):
        if not isinstance(metrics.get(name, ""), str):
            return f"{name}={one_line(repr(metrics.get(name)))[:40]} is not a string"
    if not isinstance(metrics.get("final") or {}, dict):
        return "final is not a mapping of figures"
    return None


def _read(metrics_path: Path, root: Path) -> RunResult:
    try:
        metrics = read_json(metrics_path, root)
        if not isinstance(metrics, dict):
            raise BenchError(f"{metrics_path}: not a JSON object")
    except BenchError as error:
        return RunResult(metrics_path.parent, "unreadable", "?", "?", None, reason=str(error), root=root)
    problem = _malformed(metrics)
    if problem is not None:
        if metrics.get("status") == "complete":
            raise BenchError(f"{metrics_path}: {problem} (repair the file or move the run away)")
        return RunResult(metrics_path.parent, "unreadable", "?", "?", None, reason=problem, root=root)
    return RunResult(
        path=metrics_path.parent,
        status=str(effective_status(metrics_path.parent, str(metrics.get("status", "unknown")))),
        algorithm=str(metrics.get("algorithm", "?")),
        dataset=str(metrics.get("dataset", "?")),
        seed=metrics.get("seed"),
        final=dict(metrics.get("final") or {}),
        reason=str(metrics.get("reason", "")),
        metrics=metrics,
        root=root,
    )


def collect(sweep_dir: Path) -> list[RunResult]:
    """Every run under `sweep_dir` (any folder holding a metrics.json), complete or not; folders reached
    through a symbolic link are not entered, and a metrics.json that is not a regular file inside the
    folder is listed as unreadable."""
    root = Path(sweep_dir)
    found = []
    for folder, folders, names in os.walk(root, followlinks=False):
        if METRICS in names or METRICS in folders:  # a folder so named is listed as unreadable, not skipped
            found.append(Path(folder) / METRICS)
    return [_read(path, root) for path in sorted(found)]


def check_complete_runs(runs: Sequence[RunResult]) -> None:
    """A complete run must have the files a report reads: one line naming the first that lacks one."""
    for run in runs:
        if run.complete:
            for name in (CONFIG, HISTORY):
                if not os.path.lexists(run.path / name):
                    raise BenchError(f"{run.path}: complete run without {name} (restore it or move the run away)")


def check_targets(run: RunResult, trusted: Sequence[str] = ()) -> DictConfig:
    """The run's config, once every `_target_` in it is one the suite ships (or the user trusts by name)."""
    config = run.config()
    check_saved_targets(OmegaConf.to_container(config, resolve=False), run.path / CONFIG, trusted)
    return config
