"""The name of a sweep, and so its folder under outputs/sweeps/: never "None".

A sweep is named by `sweep=NAME`, else by its experiment file, else after the dataset and the
overrides that are not swept over by the launcher's routine keys (`synthetic_tiny,train.steps=50`),
so that two ad-hoc sweeps with different settings never share a folder and a report of one
folder never pools them.
"""

from __future__ import annotations

from omegaconf import OmegaConf

RESOLVER = "cotbench_sweep_name"


def sweep_name(sweep: str | None, experiment: str | None, dataset: str | None, overrides: str | None) -> str:
    """`sweep`, else `experiment`, else `<dataset>[,<overrides>]` (the overrides as in run folder names)."""
    for name in (sweep, experiment):
        if name not in (None, "", "None", "null"):
            return str(name)
    derived = str(dataset or "adhoc")
    return f"{derived},{overrides}" if overrides else derived


def register_resolver() -> None:
    """Make `${cotbench_sweep_name:...}` available to conf/config.yaml (idempotent)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, sweep_name)
