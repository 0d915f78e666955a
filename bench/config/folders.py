"""Where runs and sweeps go: the run folder's name and the sweep folder's name, as Hydra resolvers.

A run folder is `seed0` for a plain run, `seed0,algorithm.lr=0.1` beside it with overrides. Hydra's
`override_dirname` alone would put override runs inside the plain run's folder
(`seed0/algorithm.lr=0.1`). The resolver `cotbench.run_folder` (used by conf/config.yaml) makes the
two siblings and leaves out every override that the path already names or that says how the run
ran or how long (`bench.config.keys`), so a larger budget (`train.steps`,
`steps_by_algorithm.<name>`) continues a run.

Data files are read under the data root: `$COTBENCH_DATA`, else `data/` in a checkout of the suite,
else the user's cache folder (an installed wheel has no checkout); the resolver `cotbench.data_root`
gives it to the config (`paths.data_root`), and code asks `data_root()`: one answer for both.
`checkout_root()` is the one answer to "is this a checkout, and where": every default that lives in
a checkout (data/, results/) asks it, so that an installed wheel never writes into site-packages.

A sweep is named by `sweep=NAME`, else by its experiment file, else after the dataset and the
command-line overrides that do not already name run folders or set the budget
(`synthetic_tiny,eval.n_samples=500`), so that ad-hoc sweeps with different settings never share
a folder and a report of one folder never pools them: never "None".
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from bench.config.keys import left_out_of_folder_names

RUN_FOLDER = "cotbench.run_folder"
SWEEP_NAME = "cotbench.sweep_name"
DATA_ROOT = "cotbench.data_root"
LOCAL_JOBS = "cotbench.local_jobs"
DATA_ENV = "COTBENCH_DATA"
"""Environment variable naming the data root; each dataset reads `<root>/<dataset.name>/`."""
PROJECT_NAME = "cotbench"
"""The distribution name a checkout's pyproject.toml gives the suite."""
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
"""The folder holding the `bench` package: a checkout of the suite, or site-packages for an installed wheel."""


def checkout_root(package_parent: Path = PACKAGE_PARENT) -> Path | None:
    """The checkout the suite runs from, or None for an installed wheel: `package_parent` when its
    pyproject.toml names this project (a wheel installed with `pip --target` into another project's
    folder finds that project's pyproject.toml, not ours)."""
    try:
        project = tomllib.loads((package_parent / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return package_parent if isinstance(project, dict) and project.get("name") == PROJECT_NAME else None


def data_root() -> Path:
    """$COTBENCH_DATA, else data/ in the checkout the suite runs from, else ~/.cache/cotbench/data
    ($XDG_CACHE_HOME respected): absolute, whatever the working directory."""
    root = os.environ.get(DATA_ENV)
    if root:
        return Path(root).expanduser().absolute()
    checkout = checkout_root()
    if checkout is not None:
        return checkout / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser().absolute() / "cotbench" / "data"


def override_key(override: str) -> str:
    """`+steps_by_algorithm.mle=5` -> `steps_by_algorithm.mle`."""
    return override.split("=", 1)[0].lstrip("+~")


def named_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that belong in a folder's name, sorted."""
    return sorted(str(o) for o in overrides if not left_out_of_folder_names(override_key(str(o))))


def run_folder(seed: int, overrides: Sequence[str]) -> str:
    """`seed<seed>`, then the `,`-joined overrides that name this run apart from the plain one."""
    return ",".join([f"seed{seed}", *named_overrides(overrides)])


def sweep_name(sweep: str | None, experiment: str | None, dataset: str | None, overrides: Sequence[str] = ()) -> str:
    """`sweep`, else `experiment`, else `<dataset>[,<overrides that name it>]`."""
    for name in (sweep, experiment):
        if name not in (None, "", "None", "null"):
            return str(name)
    return ",".join([str(dataset or "adhoc"), *named_overrides(overrides)])


def local_jobs(jobs_per_gpu: int) -> int:
    """`hydra/launcher=local`'s number of jobs (bench/devices.py:local_jobs; torch is imported only here)."""
    from bench.devices import local_jobs as jobs

    return jobs(int(jobs_per_gpu))


def register_resolvers() -> None:
    """Make the `${cotbench.*:...}` resolvers known to OmegaConf (idempotent)."""
    resolvers = ((RUN_FOLDER, run_folder), (SWEEP_NAME, sweep_name), (DATA_ROOT, lambda: str(data_root())))
    resolvers += ((LOCAL_JOBS, local_jobs),)
    for name, resolver in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
