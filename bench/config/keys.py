"""The vocabulary of root config keys that say *how* a run ran or *how long*, not *what* it computes.

Resuming, grouping runs in a report and naming run folders all need to tell these apart from the
keys that change the figures; they read them from here. Dotted keys name one field of a node.
"""

from __future__ import annotations

HOW_IT_RAN = (
    "progress",
    "device",
    "threads",
    "resume",
    "memory_check",
    "logger",
    "sweep",
    "paths",
    "cuda_graphs",
    "jobs_per_gpu",
    "tuning",
)
"""Execution settings: where and how a run ran, never what it computes (a different data location is
caught by the dataset's own paths, and its content by the data's sha256 in metrics.json); `tuning`,
the experiment's tuning section, says how its sweep is tuned (bench/tune/plan.py), not what a run computes."""

BUDGET = ("train", "steps_by_algorithm", "algorithm.default_steps")
"""How long a run trains: a larger budget continues a run instead of starting another."""

RESUMABLE = (*HOW_IT_RAN, *BUDGET)
"""Keys that may differ between a run and its continuation."""

NAMED_BY_FOLDER = ("algorithm", "dataset", "seed", "experiment", "hydra/launcher")
"""Choices a run folder's path already names (outputs/runs/<algorithm>/<dataset>/seed<seed>): only
the choice itself, never a field below it (`algorithm.lr=0.1` names a folder of its own)."""


def left_out_of_folder_names(override_key: str) -> bool:
    """Whether an override with this key stays out of run and sweep folder names: a choice the path
    already names, or a key (or a field below it) that says how the run ran or how long."""
    parts = override_key.split(".")
    return override_key in NAMED_BY_FOLDER or any(".".join(parts[:n]) in RESUMABLE for n in range(1, len(parts) + 1))


def without_keys(config: dict, keys: tuple[str, ...]) -> dict:
    """A copy of a config container without `keys` (top-level names, or dotted `node.field`)."""
    kept = {key: value for key, value in config.items() if key not in keys}
    for dotted in (key for key in keys if "." in key):
        node, _, field = dotted.partition(".")
        if isinstance(kept.get(node), dict) and field in kept[node]:
            kept[node] = {k: v for k, v in kept[node].items() if k != field}
    return kept
