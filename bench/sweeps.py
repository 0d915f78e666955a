"""The name of a sweep, and so its folder under outputs/sweeps/: never "None".

A sweep is named by `sweep=NAME`, else by its experiment file, else after the dataset and the
command-line overrides that do not already name run folders or set the budget
(`synthetic_tiny,eval.n_samples=500`), so that ad-hoc sweeps with different settings never share
a folder and a report of one folder never pools them.
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import OmegaConf

RESOLVER = "cotbench.sweep_name"


def _kept(override: str, excluded: set[str]) -> bool:
    parts = override.split("=", 1)[0].lstrip("+~").split(".")
    return not any(".".join(parts[:n]) in excluded for n in range(1, len(parts) + 1))


def sweep_name(
    sweep: str | None, experiment: str | None, dataset: str | None, overrides: Sequence[str] = (),
    exclude_keys: Sequence[str] = (),
) -> str:  # fmt: skip
    """`sweep`, else `experiment`, else `<dataset>[,<sorted overrides not excluded>]`."""
    for name in (sweep, experiment):
        if name not in (None, "", "None", "null"):
            return str(name)
    excluded = set(exclude_keys)
    return ",".join([str(dataset or "adhoc"), *sorted(o for o in overrides if _kept(str(o), excluded))])


def register_resolver() -> None:
    """Make `${cotbench.sweep_name:...}` available to conf/config.yaml (idempotent)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, sweep_name)
