"""Everything a command can be refused for is checked before Hydra creates a folder; a run refused later
(its data missing) takes away the folders this command created for it.

Hydra creates a job's folder before it calls the task function, so a value checked only there leaves
an empty run folder behind (`train.steps=-5`). `Preflight`, a Hydra callback (conf/config.yaml),
resolves and validates every job first: the run's config (`bench.config.spec.resolve_spec`), its
group choices (no `..`) and its job name, for one run before its folder exists, and for every job of
a sweep before the sweep's folder exists. It also records, for each job, the topmost folder that did
not exist yet: when a run then fails before it has started (missing data, an unreadable oracle), the
task removes its own files (`.lock`, `.hydra/`, the log) and those folders, never a folder that
existed before the command, and never one holding anything else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from bench.config.spec import check_choices, resolve_spec, without_hydra
from bench.errors import BenchError
from bench.training.lifecycle import Reported, RunLock
from bench.training.records import HYDRA_FILES, LOCK

HYDRA_FILE_NAMES = frozenset({"config.yaml", "hydra.yaml", "overrides.yaml"})
"""What a run writes into `.hydra/` (bench.cli.hydra_files)."""
_CREATED: dict[str, str] = {}
"""Output folder -> the topmost folder this command creates for it (published to the job's process)."""
JOB_FOLDERS: list[str] = []
"""The run folders of the sweep this process launches, in job order (bench.training.sweep_summary)."""


def check_job(config: DictConfig) -> None:
    """Validate one job's composed config (Hydra's node included) as its run would, raising `Reported`."""
    try:
        choices = config.hydra.runtime.choices
        check_choices(choices)
        job_name = str(config.hydra.job.name)
        resolve_spec(without_hydra(config), str(choices.algorithm), job_name=job_name)
    except BenchError as error:
        raise Reported(error) from error
    except OmegaConfBaseException as error:
        lines = str(error).strip().splitlines()
        raise Reported(BenchError(lines[0] if lines else type(error).__name__)) from error


def topmost_missing(folder: Path, within: Path | None = None) -> str | None:
    """The topmost of `folder` and its parents that does not exist (below `within`), or None if it exists."""
    missing = None
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate.is_symlink() or (within is not None and candidate == within):
            break
        missing = candidate
    return None if missing is None else str(missing)


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides as Hydra's basic sweeper expands the sweep (None for another sweeper)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if "basic_sweeper" not in str(OmegaConf.select(config, "hydra.sweeper._target_", default="")):
        return None
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides(params + list(config.hydra.overrides.task))
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def pin_sweep_dir(config: DictConfig) -> None:
    """Fix the sweep's folder to the name the whole sweep resolves to. Hydra composes each job's config
    again from its own overrides, and a sweep named after its overrides (`algorithm.lr-0.02+0.1`) would
    otherwise put each job under a folder named after the job's one value (`algorithm.lr-0.02`)."""
    folder = os.path.abspath(str(config.hydra.sweep.dir))
    if any(c in folder for c in "'\\$"):  # not writable as a quoted override: leave it to Hydra
        return
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = folder
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir='{folder}'")


class Preflight(Callback):
    """Validates every job before Hydra creates a folder, and remembers which folders it will create."""

    def __init__(self) -> None:
        self.created: dict[str, str] = {}

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_job(config)
        folder = Path(os.path.abspath(str(config.hydra.run.dir)))
        if (top := topmost_missing(folder)) is not None:
            self.created[str(folder)] = top

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        pin_sweep_dir(config)
        jobs = sweep_jobs(config)
        if jobs is None or not GlobalHydra.instance().is_initialized():
            return
        loader = GlobalHydra.instance().config_loader()
        sweep_dir = Path(os.path.abspath(str(config.hydra.sweep.dir)))
        JOB_FOLDERS.clear()
        previous = HydraConfig.instance().cfg
        try:
            for index, overrides in enumerate(jobs):
                job = loader.load_sweep_config(config, list(overrides))
                with open_dict(job):
                    job.hydra.job.id = job.hydra.job.num = index
                HydraConfig.instance().set_config(job)
                check_job(job)
                folder = sweep_dir / str(job.hydra.sweep.subdir)
                JOB_FOLDERS.append(str(folder))
                if (top := topmost_missing(folder, within=sweep_dir)) is not None:
                    self.created[str(folder)] = top
        except Exception as error:  # a job that cannot be composed: refused now, as its launch would be
            from bench.cli import one_line

            JOB_FOLDERS.clear()
            raise Reported(BenchError(one_line(error, sys.argv[1:]))) from error
        finally:
            HydraConfig.instance().cfg = previous

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        _CREATED.update(self.created)  # this is the job's own process (a sweep worker's too)


def remove_if_unstarted(run_dir: Path, job_name: str | None) -> bool:
    """Remove the folders this command created for `run_dir` when the run failed before it started:
    they hold only its lock, `.hydra/` files and log. True when something was removed."""
    run_dir = Path(run_dir).absolute()
    top = _CREATED.get(str(run_dir))
    if top is None or not run_dir.is_dir():
        return False
    ours = {LOCK, HYDRA_FILES, f"{job_name}.log"}
    try:
        with RunLock(run_dir):
            hydra_dir = run_dir / HYDRA_FILES
            extra = [p for p in run_dir.iterdir() if p.name not in ours]
            if extra or (hydra_dir.is_dir() and any(p.name not in HYDRA_FILE_NAMES for p in hydra_dir.iterdir())):
                return False
            for name in HYDRA_FILE_NAMES:
                (hydra_dir / name).unlink(missing_ok=True)
            if hydra_dir.is_dir():
                hydra_dir.rmdir()
            (run_dir / f"{job_name}.log").unlink(missing_ok=True)
            (run_dir / LOCK).unlink(missing_ok=True)
    except (BenchError, OSError):
        return False
    for folder in [run_dir, *run_dir.parents]:
        try:
            folder.rmdir()  # only ever an empty folder: another run's files stop it here
        except OSError:
            break
        if str(folder) == top:
            break
    _CREATED.pop(str(run_dir), None)
    return True
