"""The run folder's name: `seed0` for a plain run, `seed0,algorithm.lr=0.1` beside it with overrides.

Hydra's `override_dirname` alone would put override runs inside the plain run's folder
(`seed0/algorithm.lr=0.1`), and it cannot leave out every `steps_by_algorithm.<name>` key. The
resolver `cotbench.run_folder` (used by conf/config.yaml) makes the two siblings and leaves out
every key listed in `exclude_keys`, where `key.*` stands for all its sub-keys, so a larger budget
(`train.steps`, `steps_by_algorithm.<name>`) continues a run.
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import OmegaConf


def _key(override: str) -> str:
    """`+steps_by_algorithm.mle=5` -> `steps_by_algorithm.mle`."""
    return override.split("=", 1)[0].lstrip("+~")


def run_folder(seed: int, overrides: Sequence[str], exclude_keys: Sequence[str]) -> str:
    """`seed<seed>`, then `,`-joined sorted overrides whose key is not excluded (`key.*`: every sub-key)."""
    exact = {key for key in exclude_keys if not key.endswith(".*")}
    prefixes = tuple(key[:-1] for key in exclude_keys if key.endswith(".*"))  # `steps_by_algorithm.`

    def kept(override: str) -> bool:
        key = _key(override)
        return key not in exact and not key.startswith(prefixes)

    return ",".join([f"seed{seed}", *sorted(o for o in overrides if kept(o))])


def register_resolvers() -> None:
    """Make `${cotbench.run_folder:...}` known to OmegaConf (idempotent)."""
    if not OmegaConf.has_resolver("cotbench.run_folder"):
        OmegaConf.register_new_resolver("cotbench.run_folder", run_folder)
