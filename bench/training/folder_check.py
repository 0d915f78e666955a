"""Whose folder is this: a run writes only into an empty folder or one holding a run of its own config.

`hydra.run.dir` may name any folder. One holding another program's `config.yaml`, `metrics.json` or
`history.csv`, or another cotbench run's, would otherwise be silently replaced (with `resume=never`
too: it discards a previous run, and must never discard someone else's). So before anything is
written, a folder holding any file a run writes (`RUN_FILES`) must hold a cotbench run of the same
config: its config.yaml equal to this run's apart from the keys that may change on resume, or, with
that file lost, a metrics.json naming the same algorithm, dataset and seed. With `resume=auto`, a
checkpoint is left to decide (it is compared value by value when the run resumes, and it is what
the run continues from: a config.yaml edited by hand beside it is rewritten from the run's config).
Other files in the folder (notes, plots) are never touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.config.spec import RunSpec
from bench.training.lifecycle import RunDirectoryError
from bench.training.records import CHECKPOINT, CONFIG, RUN_FILES, STATUSES, read_metrics
from bench.training.resume import comparable, first_difference

WAYS_OUT = "choose another folder (hydra.run.dir=...), or empty this one"


def _saved_config(path: Path) -> Any:
    """The YAML in a config.yaml (safe-loaded), or None when it cannot be read as YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _is_run_config(config: Any) -> bool:
    """A cotbench config: an algorithm and a dataset, each naming its `_target_`."""
    return isinstance(config, dict) and all(
        isinstance(config.get(node), dict) and "_target_" in config[node] for node in ("algorithm", "dataset")
    )


def check_run_folder(run_dir: Path, spec: RunSpec) -> None:
    """Refuse `run_dir` when it holds run files that are not a cotbench run of `spec`'s config."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    present = [name for name in RUN_FILES if (run_dir / name).exists() or (run_dir / name).is_symlink()]
    if not present or (spec.root.resume == "auto" and CHECKPOINT in present):
        return
    if any((run_dir / name).is_symlink() for name in present):
        return  # never read through a link: the run's lock refuses the folder (bench.training.lifecycle)
    shown = ", ".join(present)
    if CONFIG in present:
        saved = _saved_config(run_dir / CONFIG)
        if not _is_run_config(saved):
            raise RunDirectoryError(f"{run_dir}: holds {shown} of something that is not a cotbench run; {WAYS_OUT}")
        difference = first_difference(comparable(saved), comparable(spec.resolved))
        if difference:
            raise RunDirectoryError(
                f"{run_dir}: holds another run: {difference.replace('the checkpoint', 'its config.yaml')}; "
                f"use the original values, or {WAYS_OUT}"
            )
        return
    metrics = read_metrics(run_dir)
    if metrics is None or metrics.get("status") not in STATUSES:
        raise RunDirectoryError(f"{run_dir}: holds {shown} of something that is not a cotbench run; {WAYS_OUT}")
    ours = {"algorithm": spec.name, "dataset": spec.resolved["dataset"].get("name"), "seed": spec.root.seed}
    different = [f"{key}={metrics.get(key)!r}" for key, value in ours.items() if metrics.get(key) != value]
    if different:
        raise RunDirectoryError(f"{run_dir}: holds another run: {', '.join(different)}; {WAYS_OUT}")
