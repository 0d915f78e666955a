"""Where runs and sweeps go: the run folder's name and the sweep folder's name, as Hydra resolvers.

A run folder is `seed0` for a plain run, `seed0,algorithm.lr=0.1` beside it with overrides. Hydra's
`override_dirname` alone would put override runs inside the plain run's folder
(`seed0/algorithm.lr=0.1`), and it cannot leave out every `steps_by_algorithm.<name>` key. The
resolver `cotbench.run_folder` (used by conf/config.yaml) makes the two siblings and leaves out
every key listed in `exclude_keys`, where `key.*` stands for all its sub-keys, so a larger budget
(`train.steps`, `steps_by_algorithm.<name>`) continues a run.

A sweep is named by `sweep=NAME`, else by its experiment file, else after the dataset and the
command-line overrides that do not already name run folders or set the budget
(`synthetic_tiny,eval.n_samples=500`), so that ad-hoc sweeps with different settings never share
a folder and a report of one folder never pools them: never "None".
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import OmegaConf

RUN_FOLDER = "cotbench.run_folder"
SWEEP_NAME = "cotbench.sweep_name"


def _key(override: str) -> str:
    """`+steps_by_algorithm.mle=5` -> `steps_by_algorithm.mle`."""
    return override.split("=", 1)[0].lstrip("+~")


def _excluded(override: str, exclude_keys: Sequence[str]) -> bool:
    """Whether the override's key (or a key above it) is excluded; `key.*` excludes every sub-key."""
    parts = _key(override).split(".")
    exact = {key.removesuffix(".*") if key.endswith(".*") else key for key in exclude_keys}
    return any(".".join(parts[:n]) in exact for n in range(1, len(parts) + 1))


def run_folder(seed: int, overrides: Sequence[str], exclude_keys: Sequence[str]) -> str:
    """`seed<seed>`, then `,`-joined sorted overrides whose key is not excluded (`key.*`: every sub-key)."""
    exact = {key for key in exclude_keys if not key.endswith(".*")}
    prefixes = tuple(key[:-1] for key in exclude_keys if key.endswith(".*"))  # `steps_by_algorithm.`

    def kept(override: str) -> bool:
        key = _key(override)
        return key not in exact and not key.startswith(prefixes)

    return ",".join([f"seed{seed}", *sorted(o for o in overrides if kept(o))])


def sweep_name(
    sweep: str | None,
    experiment: str | None,
    dataset: str | None,
    overrides: Sequence[str] = (),
    exclude_keys: Sequence[str] = (),
) -> str:
    """`sweep`, else `experiment`, else `<dataset>[,<sorted overrides not excluded>]`."""
    for name in (sweep, experiment):
        if name not in (None, "", "None", "null"):
            return str(name)
    kept = sorted(str(o) for o in overrides if not _excluded(str(o), exclude_keys))
    return ",".join([str(dataset or "adhoc"), *kept])


def register_resolvers() -> None:
    """Make `${cotbench.run_folder:...}` and `${cotbench.sweep_name:...}` known to OmegaConf (idempotent)."""
    for name, resolver in ((RUN_FOLDER, run_folder), (SWEEP_NAME, sweep_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
