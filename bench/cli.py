"""The command line (`python -m bench [overrides]`): one run or a multirun sweep, configured by Hydra.

The task function lives here rather than in `bench/__main__.py` so that parallel sweep workers
import it by name (a function of `__main__` would be shipped by value, with copies of its globals).

Whatever goes wrong (a bad value, a missing file, a full disk, an overflow, an interruption) ends
as one line on stderr and a non-zero exit status: 2 for an error, 128 + N for signal N; the full
traceback appears only with `HYDRA_FULL_ERROR=1`. Hydra is asked to re-raise its own errors
(composition, override syntax) to this wrapper, which condenses them the same way.

Nothing is written into a run directory before its lock is held: Hydra's own `.hydra/` files and
the job log are written here, after the lock (conf/config.yaml turns Hydra's writing of them off).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config.schema import CONF_DIR, register_configs
from bench.errors import BenchError
from bench.training.lifecycle import SIGNALS, Interrupted, Reported, describe
from bench.training.loop import StopRequested
from bench.training.sweep_control import enter_worker, job_running
from bench.training.sweep_progress import NOT_STARTED

log = logging.getLogger("bench")


def _sweep_worker(hydra_config: DictConfig) -> bool:
    """A job of a parallel sweep, in a worker process (not the process that runs the command)."""
    return hydra_config.mode == RunMode.MULTIRUN and not SIGNALS.owns_process


def hydra_files(cfg: DictConfig, hydra_config: DictConfig) -> tuple[tuple[str, str], ...]:
    """What Hydra would write into `.hydra/` (config, hydra, overrides): the run writes them under its lock."""
    return (
        ("config.yaml", OmegaConf.to_yaml(cfg)),
        ("hydra.yaml", OmegaConf.to_yaml({"hydra": hydra_config})),
        ("overrides.yaml", OmegaConf.to_yaml(hydra_config.overrides.task)),
    )


def _run_job(cfg: DictConfig, hydra_config: DictConfig, run_dir: Path) -> None:
    from bench.config.spec import resolve_spec  # imported here so that `--help` stays fast
    from bench.training.run import run

    name = str(hydra_config.runtime.choices.algorithm)
    spec = resolve_spec(cfg, name, hydra_files(cfg, hydra_config), job_name=str(hydra_config.job.name))
    run(spec, run_dir)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")  # absolute: also for `cotbench`
def main(cfg: DictConfig) -> str | None:
    """Hydra's task function. Only a call: a parallel sweep ships this function to its workers by
    value (its name now refers to Hydra's wrapper), so anything with state must live elsewhere."""
    return job(cfg)


def job(cfg: DictConfig) -> str | None:
    """One job: refused if the sweep was already told to stop (returns `NOT_STARTED`), else a run
    under its lock."""
    hydra_config = HydraConfig.get()
    run_dir = Path(hydra_config.runtime.output_dir)
    worker = _sweep_worker(hydra_config)
    SIGNALS.install()
    if worker:
        enter_worker(Path(hydra_config.sweep.dir))
    with job_running() if worker else nullcontext():
        if SIGNALS.pending() is not None:  # the sweep was stopped: a queued job never starts
            log.info("%s: not started, the sweep was interrupted by %s", run_dir, SIGNALS.pending())
            return NOT_STARTED
        try:
            _run_job(cfg, hydra_config, run_dir)
        except (StopRequested, Interrupted) as stop:
            from bench.training.preflight import remove_if_unstarted

            remove_if_unstarted(run_dir, str(hydra_config.job.name))  # stopped before it started: no debris
            if worker:  # the run saved what it could; let the worker drain its queue without starting more
                log.info("%s: %s", run_dir, stop)
                return None
            raise Reported(stop) if isinstance(stop, StopRequested) else stop from None
        except BenchError as error:
            from bench.training.preflight import remove_if_unstarted

            remove_if_unstarted(run_dir, str(hydra_config.job.name))  # refused before it started: no debris
            if hydra_config.mode == RunMode.RUN:
                raise Reported(error) from error
            raise
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def one_line(error: BaseException, overrides: Sequence[str] = ()) -> str:
    """The user-facing summary of an error raised while composing or running; a near miss on the
    command line (`overrides`) also says what was probably meant (bench.config.suggest)."""
    from bench.config.suggest import near_miss, unknown_option_hint

    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options:
        group, _, name = error.missing_cfg_file.rpartition("/")
        hint = unknown_option_hint(name, error.options)
        return f"{group}={name}: unknown {group.split('/')[-1]} (available: {', '.join(error.options)}){hint}"
    if isinstance(error, OSError):
        return describe(error)
    message = _first_line(error)
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException):
        prefix = "Error merging override "
        message = message[len(prefix) :] if message.startswith(prefix) else message.rstrip(".")
        message = f"{message}: {_first_line(cause)}"
    return near_miss(message, overrides) or message


def _stop_sweep_workers(kill: bool) -> None:
    """Parallel local sweeps keep joblib's worker processes for reuse: end them with the command
    (at once when the command itself was interrupted, else once they are idle)."""
    executors = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(executors, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=kill)


def _summarise_stopped_sweep() -> None:
    """A sweep that stopped early (a run failed, a signal) still says what it has and what it lacks."""
    summary = sys.modules.get("bench.training.sweep_summary")
    if summary is not None:
        summary.write_pending()


def _exit(status: int, line: str | None = None) -> None:
    if line:
        print(line, file=sys.stderr)
    SIGNALS.uninstall()
    sys.exit(status)


def cli() -> None:
    full_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; the summary is printed below
    SIGNALS.start()
    register_configs()
    try:
        try:
            main()
        except Reported as reported:
            raise reported.error from reported.error.__cause__  # the cause stays for HYDRA_FULL_ERROR=1
        except KeyboardInterrupt:
            _stop_sweep_workers(kill=True)
            raise
        finally:
            _stop_sweep_workers(kill=False)
            _summarise_stopped_sweep()
    except StopRequested as stop:
        _exit(stop.exit_code, f"{stop}; checkpoint saved, run the same command to resume")
    except KeyboardInterrupt as interrupt:
        if full_traceback:
            raise
        name = interrupt.signal_name if isinstance(interrupt, Interrupted) else "SIGINT"
        _exit(interrupt.exit_code if isinstance(interrupt, Interrupted) else 130, f"interrupted by {name}")
    except (BenchError, HydraException, OmegaConfBaseException, OSError) as error:
        if full_traceback:
            raise
        _exit(getattr(error, "exit_code", 2), f"error: {one_line(error, sys.argv[1:])}")
    except Exception as error:
        if full_traceback:
            raise
        _exit(2, f"error: {describe(error)}")
    if SIGNALS.received is not None:  # a parallel sweep that was told to stop: its jobs saved and ended
        name = SIGNALS.received.name
        _exit(128 + SIGNALS.received.value, f"interrupted by {name}; run the same command to resume the sweep")
    _exit(0)
