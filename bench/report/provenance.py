"""Which data a run used, by content: the sha256s that decide whether published rows apply.

Runs record their dataset's provenance in metrics.json under "data" (file paths and sha256s).
Runs made before that was recorded are identified by hashing the files their config names (the
oracle file, the text files) when those files are still where the config says; a run whose data
cannot be identified gets no published rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from bench.config.folders import data_root
from bench.datasets.fetch import sha256_of
from bench.report.published import benchmark_of, sha256s_in
from bench.report.runs import RunResult


def _named_files(run: RunResult) -> list[Path]:
    """The data files the run's saved config names (read as data; nothing is built or imported)."""
    node = run.config().get("dataset")
    dataset = OmegaConf.to_container(node, resolve=False) if node is not None else None
    if not isinstance(dataset, dict):
        return []
    if dataset.get("oracle_path"):
        return [Path(str(dataset["oracle_path"])).expanduser()]
    if dataset.get("train_file") and dataset.get("test_file"):
        folder = Path(str(dataset["data_dir"])).expanduser() if dataset.get("data_dir") else None
        folder = folder or data_root() / str(dataset.get("name", ""))
        return [folder / str(dataset["train_file"]), folder / str(dataset["test_file"])]
    return []


def data_sha256s(run: RunResult) -> set[str]:
    """The sha256s of the run's data files: as recorded, else hashed from the files its config names."""
    recorded = sha256s_in(run.data)
    if recorded or run.data:
        return recorded
    files = _named_files(run)
    if not files or not all(path.is_file() for path in files):
        return set()
    return {sha256_of(path) for path in files}


def benchmark(runs: Sequence[RunResult]) -> str | None:
    """The published benchmark every one of `runs` used, or None if any used other (or unknown) data."""
    found = {benchmark_of(data_sha256s(run)) for run in runs}
    return found.pop() if len(found) == 1 else None
