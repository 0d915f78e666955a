"""One line per finished run of a sweep: `[k/N] name: status in wall-time`.

A Hydra callback (registered in conf/config.yaml), so it works with every launcher: in the sweep's
own process for `hydra/launcher=basic`, in each worker for `hydra/launcher=local` (joblib), where
the count k of finished runs is shared through `sweep_progress.log` in the sweep folder (appended
under a file lock, one line per run, so it is also a record of the sweep). N is counted the way
Hydra's basic sweeper expands the sweep (the cartesian product of the swept values).
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from bench.training.progress import format_seconds
from bench.training.records import METRICS

LOG_NAME = "sweep_progress.log"


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs Hydra's basic sweeper makes of this config's sweep (None when it cannot tell)."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
        overrides = OverridesParser.create().parse_overrides(params + list(config.hydra.overrides.task))
        return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))
    except Exception:  # another sweeper, or Hydra's internals moved: the line says "?" for N
        return None


def run_status(output_dir: Path, job_return: JobReturn) -> str:
    """The run's own status from metrics.json; the error's first line when the job failed before one."""
    try:
        metrics = json.loads((output_dir / METRICS).read_text(encoding="utf-8"))
        status = str(metrics["status"])
        return f"{status} ({metrics['reason']})" if metrics.get("reason") and status != "complete" else status
    except (OSError, ValueError, KeyError, TypeError):
        if job_return.status == JobStatus.FAILED:
            lines = str(job_return._return_value).strip().splitlines()
            return f"failed ({lines[0] if lines else type(job_return._return_value).__name__})"
        return "no metrics.json"


def record_finished(log_path: Path, line: str) -> int:
    """Append `line` to the sweep's log under an exclusive lock; return how many runs have finished."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a+", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        try:
            log.seek(0)
            finished = sum(1 for _ in log) + 1
            log.write(line.format(k=finished) + "\n")
            log.flush()
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)
    return finished


class SweepProgress(Callback):
    """Prints `[k/N] name: status in m:ss` as each run of a multirun finishes."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.started = time.monotonic()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.total = count_jobs(config)
        log_path = Path(config.hydra.sweep.dir) / LOG_NAME
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("", encoding="utf-8")  # k counts the runs of this launch
        print(f"sweep: {self.total if self.total is not None else '?'} runs into {config.hydra.sweep.dir}", flush=True)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.monotonic()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        sweep_dir, output_dir = Path(config.hydra.sweep.dir), Path(config.hydra.runtime.output_dir)
        try:
            name = str(output_dir.relative_to(sweep_dir))
        except ValueError:
            name = str(output_dir)
        total = self.total if self.total is not None else "?"
        status = run_status(output_dir, job_return)
        line = f"[{{k}}/{total}] {name}: {status} in {format_seconds(time.monotonic() - self.started)}"
        finished = record_finished(sweep_dir / LOG_NAME, line)
        print(line.format(k=finished), file=sys.stdout, flush=True)
