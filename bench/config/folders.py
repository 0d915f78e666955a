"""Where runs and sweeps go: the run folder's name and the sweep folder's name, as Hydra resolvers.

A run folder is `seed0` for a plain run, `seed0,algorithm.lr=0.1` beside it with overrides. Hydra's
`override_dirname` alone would put override runs inside the plain run's folder
(`seed0/algorithm.lr=0.1`). The resolver `cotbench.run_folder` (used by conf/config.yaml) makes the
two siblings and leaves out every override that the path already names or that says how the run
ran or how long (`bench.config.keys`), so a larger budget (`train.steps`,
`steps_by_algorithm.<name>`) continues a run.

A value enters a folder name only as one plain path component: a path (`dataset.oracle_path=/a/b`),
a long value, or one holding anything but letters, digits and `_ . + - [ ] , : @ %` enters as a short
hash of itself (`dataset.oracle_path=sha256-3f2a9c1d0e`), the full value staying in the run's
config.yaml; so no override makes nested folders or climbs out of its folder with `..`, and a name
stays within the file system's limit.

Data files are read under the data root: `$COTBENCH_DATA`, else `data/` in a checkout of the suite,
else the user's cache folder (an installed wheel has no checkout); the resolver `cotbench.data_root`
gives it to the config (`paths.data_root`), and code asks `data_root()`: one answer for both.
`checkout_root()` is the one answer to "is this a checkout, and where": every default that lives in
a checkout (data/, results/) asks it, so that an installed wheel never writes into site-packages.

A sweep is named by `sweep=NAME`, else by its experiment file, else after the dataset and the
command-line overrides that do not already name run folders or set the budget, written to be read
and typed: `synthetic_tiny__algorithm.lr-0.1+0.2__eval.n_samples-500` (parts joined by `__`, a key
and its value by `-`, swept values by `+`; no `,` or `=`, which Hydra's own overrides would split
on), so that ad-hoc sweeps with different settings never share a folder and a report of one folder
never pools them: never "None".
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from bench.config.keys import left_out_of_folder_names

RUN_FOLDER = "cotbench.run_folder"
SWEEP_NAME = "cotbench.sweep_name"
DATA_ROOT = "cotbench.data_root"
HELP_GROUPS = "cotbench.help_groups"
"""The groups and their options, for `--help` (conf/config.yaml's `hydra.help.template`)."""
LOCAL_JOBS = "cotbench.local_jobs"
DATA_ENV = "COTBENCH_DATA"
"""Environment variable naming the data root; each dataset reads `<root>/<dataset.name>/`."""
PROJECT_NAME = "cotbench"
"""The distribution name a checkout's pyproject.toml gives the suite."""
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
"""The folder holding the `bench` package: a checkout of the suite, or site-packages for an installed wheel."""
MAX_VALUE_CHARS = 32
"""Longer override values enter folder names as their short hash."""
VALUE_PUNCTUATION = "_.+-[],:@%"
"""Characters besides letters and digits that a value may keep in a folder name (none is a path separator)."""
HASH_DIGITS = 10
MAX_NAME_BYTES = 200
"""A folder name stays well within the usual 255-byte limit of one path component."""


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


def override_value(override: str) -> str:
    """`key=value` -> `value`, without one pair of matching outer quotes (`x='a b'` -> `a b`)."""
    value = override.split("=", 1)[1] if "=" in override else ""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def named_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that belong in a folder's name, sorted."""
    return sorted(str(o) for o in overrides if not left_out_of_folder_names(override_key(str(o))))


def short_hash(text: str) -> str:
    """`sha256-` and the first hex digits of the text's sha256: a name part that stands for a value."""
    return "sha256-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]


def plain_value(value: str) -> bool:
    """Whether a value may enter a folder name as it is: short, and only letters, digits and `_.+-[],:@%`."""
    return 0 < len(value) <= MAX_VALUE_CHARS and all(c.isalnum() or c in VALUE_PUNCTUATION for c in value)


def name_part(override: str) -> str:
    """`key=value` as it enters a run folder's name: the value as it is when plain, else its short hash."""
    key, value = override_key(override), override_value(override)
    if not _typable(key):
        return short_hash(override)
    return f"{key}={value if plain_value(value) else short_hash(value)}"


def _within_limit(parts: list[str], separator: str) -> str:
    """The joined parts, or the first part and a hash of the rest when the name would be too long."""
    name = separator.join(parts)
    if len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES:
        return name
    return separator.join([parts[0], "overrides-" + short_hash(separator.join(parts[1:]))])


def run_folder(seed: int, overrides: Sequence[str]) -> str:
    """`seed<seed>`, then the `,`-joined overrides that name this run apart from the plain one."""
    return _within_limit([f"seed{seed}", *(name_part(o) for o in named_overrides(overrides))], ",")


def sweep_part(override: str) -> str:
    """`key=value` as it enters an ad-hoc sweep's name: `key-value`, swept values joined by `+`; a value
    with anything but letters, digits and `_ . -` enters as its short hash."""
    key, value = override_key(override), override_value(override)
    if not _typable(key):
        return short_hash(override)
    values = value.split(",")
    plain = all(0 < len(v) <= MAX_VALUE_CHARS and _typable(v) for v in values)
    return f"{key}-{'+'.join(values) if plain else short_hash(value)}"


def _typable(text: str) -> bool:
    """Only letters, digits and `_ . -`: typed in a shell or a Hydra override without quotes."""
    return all(c.isalnum() or c in "_.-" for c in text)


def sweep_name(sweep: str | None, experiment: str | None, dataset: str | None, overrides: Sequence[str] = ()) -> str:
    """`sweep`, else `experiment`, else `<dataset>[__<key>-<value>...]` for the overrides that name it."""
    for name in (sweep, experiment):
        if name not in (None, "", "None", "null"):
            return str(name)
    swept = [override_value(str(o)) for o in overrides if override_key(str(o)) == "dataset"]  # dataset=a,b
    if swept and all(_typable(v) for v in swept[-1].split(",")):
        dataset = swept[-1].replace(",", "+")
    return _within_limit([str(dataset or "adhoc"), *(sweep_part(o) for o in named_overrides(overrides))], "__")


def folder_name_problem(value: str, option: str) -> str | None:
    """Why `value` would not be exactly one folder or file name (`..`, a `/`, a control character), or None."""
    text = str(value)
    plain = text.strip() == text and text not in ("", ".", "..") and text.isprintable()
    if plain and not any(c in text for c in "/\\") and len(text.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES:
        return None
    return (
        f"{option}={text!r}: must be one plain folder name (no '/', not '..', no control characters, "
        f"at most {MAX_NAME_BYTES} bytes)"
    )


def _help_groups() -> str:
    from bench.config.help import help_groups  # only `--help` needs it

    return help_groups()


def local_jobs(jobs_per_gpu: int) -> int:
    """`hydra/launcher=local`'s number of jobs (bench/devices.py:local_jobs; torch is imported only here)."""
    from bench.devices import local_jobs as jobs

    return jobs(int(jobs_per_gpu))


def register_resolvers() -> None:
    """Make the `${cotbench.*:...}` resolvers known to OmegaConf (idempotent)."""
    resolvers = ((RUN_FOLDER, run_folder), (SWEEP_NAME, sweep_name), (DATA_ROOT, lambda: str(data_root())))
    resolvers += ((HELP_GROUPS, _help_groups), (LOCAL_JOBS, local_jobs))
    for name, resolver in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
