"""One line per finished run of a sweep: `[k/N] name: status in wall-time`.

A Hydra callback (registered in conf/config.yaml), so it works with every launcher: in the sweep's
own process for `hydra/launcher=basic`, in each worker for `hydra/launcher=local` (joblib), where
the count k of finished runs is shared through `sweep_progress.log` in the sweep folder (appended
under a file lock, `filelock`'s, one line per run, so it is also a record of the sweep). N is
counted the way Hydra's basic sweeper expands the sweep (the cartesian product of the swept values).
At the end of the launch one more line counts the runs by status (`sweep: 4 of 6 runs complete, 2
not started`): after an interruption it says what was done.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from filelock import FileLock
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from bench.training.progress import format_seconds
from bench.training.records import STATUSES, effective_status, read_metrics

LOG_NAME = "sweep_progress.log"
NOT_STARTED = "not started"
"""A queued job of a sweep that was stopped first (the task function's return value says so)."""
LINE_STATUS = re.compile(r"^\[\d+/[^\]]*\] .*?: (" + "|".join(map(re.escape, (*STATUSES, NOT_STARTED))) + r")\b")


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
    """The run's own status from metrics.json (`killed` for a `running` one without a live owner); the
    error's first line when the job failed before one; `not started` for a job a stop kept queued."""
    if job_return.status == JobStatus.COMPLETED and job_return._return_value == NOT_STARTED:
        return NOT_STARTED
    metrics, status = read_metrics(output_dir), effective_status(output_dir)
    if metrics is not None and status is not None:
        reason = metrics.get("reason")
        return f"{status} ({reason})" if reason and status != "complete" else status
    if job_return.status == JobStatus.FAILED:
        lines = str(job_return._return_value).strip().splitlines()
        return f"failed ({lines[0] if lines else type(job_return._return_value).__name__})"
    return "no metrics.json"


def record_finished(log_path: Path, line: str) -> int:
    """Append `line` to the sweep's log under an exclusive lock; return how many runs have finished."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(log_path, thread_local=False, preserve_lock_file=True, fallback_to_soft=False):
        with open(log_path, "a+", encoding="utf-8") as log:
            log.seek(0)
            finished = sum(1 for _ in log) + 1
            log.write(line.format(k=finished) + "\n")
            log.flush()
    return finished


def launch_summary(log_path: Path, total: int | None) -> str:
    """`sweep: 4 of 6 runs complete, 2 not started`: this launch's finished runs counted by status."""
    try:
        lines = log_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    counts = Counter(match[1] for line in lines if (match := LINE_STATUS.match(line)))
    shown = total if total is not None else len(lines)
    others = ", ".join(
        f"{counts[status]} {status}" for status in (*STATUSES, NOT_STARTED) if counts[status] and status != "complete"
    )
    return f"sweep: {counts['complete']} of {shown} runs complete" + (f", {others}" if others else "")


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

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(launch_summary(Path(config.hydra.sweep.dir) / LOG_NAME, self.total), file=sys.stdout, flush=True)
