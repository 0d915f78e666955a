"""`python -m bench [overrides]`: one run (or a multirun sweep) of the suite, configured by Hydra.

Whatever goes wrong because of the user's input (an unknown algorithm, a value out of range, a
missing file, an unwritable folder) ends as one line on stderr and a non-zero exit status; the
full traceback appears only with `HYDRA_FULL_ERROR=1`. Hydra is asked to re-raise its own errors
(composition, override syntax) to this wrapper, which condenses them the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from bench.errors import BenchError
from bench.loop import StopRequested
from bench.schema import CONF_DIR, register_configs


class _Reported(BaseException):
    """Carries a run's error past Hydra's job runner, which would print its own line for an Exception.

    In a multirun only an interruption travels this way (it stops the whole sweep); any other
    failure of one job is left to Hydra, which finishes the sweep's other jobs first.
    """

    def __init__(self, error: BenchError) -> None:
        super().__init__(str(error))
        self.error = error


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")  # absolute: also for `cotbench`
def main(cfg: DictConfig) -> None:
    from bench.run import run  # imported here so that `--help` stays fast

    hydra_config = HydraConfig.get()
    if cfg.threads == 0 and "Joblib" in str(hydra_config.launcher.get("_target_", "")):
        cfg.threads = 1  # parallel local jobs: one torch thread each, so n_jobs jobs share the cores
    try:
        run(cfg, Path(hydra_config.runtime.output_dir))
    except BenchError as error:
        if hydra_config.mode == RunMode.RUN or isinstance(error, StopRequested):
            raise _Reported(error) from error
        raise


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def one_line(error: BaseException) -> str:
    """The user-facing summary of an error raised while composing or running."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options:
        group, _, name = error.missing_cfg_file.rpartition("/")
        return f"{group}={name}: unknown {group.split('/')[-1]} (available: {', '.join(error.options)})"
    if isinstance(error, OSError) and error.strerror:
        target = error.filename or "a file"
        return f"cannot write {target}: {error.strerror}"
    message = _first_line(error)
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException):
        prefix = "Error merging override "
        message = message[len(prefix) :] if message.startswith(prefix) else message.rstrip(".")
        return f"{message}: {_first_line(cause)}"
    return message


def cli() -> None:
    full_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; the summary is printed below
    register_configs()
    try:
        try:
            main()
        except _Reported as reported:
            raise reported.error from None
    except StopRequested as stop:
        print(f"{stop}; checkpoint saved, run the same command to resume", file=sys.stderr)
        sys.exit(stop.exit_code)
    except (BenchError, HydraException, OmegaConfBaseException, OSError) as error:
        if full_traceback:
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 2))


if __name__ == "__main__":
    cli()
