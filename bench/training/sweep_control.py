"""How a local sweep (`hydra/launcher=local`, joblib) stops: a signal to its process reaches every job,
and its worker processes never outlive it.

Ctrl-C in a terminal signals the whole process group, the workers included; `kill PID`, a scheduler
or a parent shell often signals the sweep's own process only, and joblib passes nothing on. So that
process, on its first signal, writes a stop notice into the sweep folder (`STOP_NOTICE`, naming the
signal). Every job polls it with its own signals: a running job stops at its next step boundary and
saves its checkpoint, and a queued job never starts. The next launch of the sweep removes the notice
first.

A worker whose parent dies (SIGKILL, the out-of-memory killer) would otherwise go on with its job,
holding that run's lock, with nobody to collect it: a re-run of the sweep would be refused. So every
worker watches its parent: a thread looks every `PARENT_POLL_S`, and once the parent is gone the
worker stops its job as on SIGTERM (saving the step it reached) and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench.files import atomic_write_text
from bench.training.console import guard_console
from bench.training.lifecycle import SIGNALS

log = logging.getLogger(__name__)

STOP_NOTICE = ".stop"
"""In the sweep folder while a launch is being stopped: the name of the signal that stopped it."""
PARENT_POLL_S = 0.2
"""How often a worker looks whether its parent is still there."""
LOCAL_LAUNCHERS = ("hydra_joblib_launcher",)
"""Launchers whose jobs run in worker processes of this machine, which a stop notice reaches."""


class _Worker:
    """What this process knows as a sweep worker: its parent, and whether a job runs now."""

    parent: int | None = None
    in_job = False


def begin_sweep(config: DictConfig) -> None:
    """In the sweep's own process, before any job: signals are recorded, not raised (the running jobs
    save, nothing queued starts), and with a local launcher the first one becomes a stop notice."""
    notice = Path(str(OmegaConf.select(config, "hydra.sweep.dir"))) / STOP_NOTICE
    if notice.is_symlink() or notice.is_file():
        notice.unlink()  # left by the launch before: this one starts afresh
    SIGNALS.always_defer = True
    target = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    if any(name in target for name in LOCAL_LAUNCHERS):
        SIGNALS.on_first = lambda received: _write_notice(notice, received)


def _write_notice(notice: Path, received: signal.Signals) -> None:
    try:
        atomic_write_text(notice, received.name + "\n")
    except OSError as error:  # the jobs then run on; the message says so, the exit status still tells
        log.error("could not tell the sweep's jobs to stop (%s: %s)", notice, error.strerror)


def enter_worker(sweep_dir: Path) -> None:
    """In a worker process, at each job: the console cannot fail it, signals and the stop notice are
    recorded between jobs, and the parent is watched (once per process)."""
    guard_console()
    SIGNALS.install()
    SIGNALS.always_defer = True  # a worker between jobs must not die mid-queue
    SIGNALS.stop_notice = Path(sweep_dir) / STOP_NOTICE
    if _Worker.parent is None:
        _Worker.parent = os.getppid()
        threading.Thread(target=_watch_parent, name="cotbench-parent-watch", daemon=True).start()


def parent_gone() -> bool:
    return _Worker.parent is not None and os.getppid() != _Worker.parent


def _watch_parent() -> None:
    while not parent_gone():
        time.sleep(PARENT_POLL_S)
    if _Worker.in_job:
        os.kill(os.getpid(), signal.SIGTERM)  # the job stops at its next step and saves; `job_ended` exits
    else:
        os._exit(128 + signal.SIGTERM)


@contextmanager
def job_running() -> Iterator[None]:
    """Marks a job as running in this worker; when it ends and the parent is gone, the worker exits."""
    _Worker.in_job = True
    try:
        yield
    finally:
        _Worker.in_job = False
        if parent_gone():
            logging.shutdown()
            os._exit(128 + signal.SIGTERM)
