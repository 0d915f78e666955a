"""Experiment trackers: every history row and every step's training losses as scalars.

A tracker is chosen by the `_target_` of the `logger` node like every other part (conf/logger/):
`logger=tensorboard` writes TensorBoard event files into the run folder (`tensorboard --logdir
outputs/`), `logger=wandb` logs to Weights & Biases in offline mode (`wandb sync` uploads it
later), `logger=none` (the default) writes nothing beyond the run's own files. The loop knows
nothing of these: it calls `log_step` after each step and the run calls `log_row` at each
evaluation.

TensorBoard's HParams tab shows the run's config (every key that decides what it computes, as
`dotted.key` columns) beside its headline figures; the Text tab shows the same config as YAML.

Resuming continues the same event stream: the run resumes from a checkpoint at step S, so every
event already written for a step after S (the work lost since that checkpoint) is purged when the
writer opens (TensorBoard's `purge_step`), and each (tag, step) counts once.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.evaluation.catalogue import HEADLINE

EVENTS_GLOB = "events.out.tfevents.*"


@dataclass
class TrackerConfig:
    """How often a tracker logs the training losses (history rows are always logged)."""

    every: int = 1
    """Log the training losses of every this many steps."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"logger.every={self.every}: must be a positive integer")


@dataclass
class WandbConfig(TrackerConfig):
    """Weights & Biases, offline: runs are stored under the run folder's wandb/."""

    project: str = "cotbench"
    """wandb project name."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_package("wandb", "pip install wandb")


def require_package(package: str, install: str) -> None:
    """Refuse a tracker whose package is missing before any work, saying how to install it."""
    if importlib.util.find_spec(package) is None:
        raise ValueError(f"logger={package}: the {package} package is not installed ({install})")


class Tracker(Protocol):
    """What the run calls; every method is cheap enough to run at every step."""

    def log_step(self, step: int, losses: dict[str, float]) -> None: ...

    def log_row(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def scalars(values: dict[str, Any], prefix: str) -> dict[str, float]:
    """The finite numeric entries of `values` (not `step`, not text such as `phase`), as prefix/name."""
    out = {}
    for name, value in values.items():
        if name == "step" or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[f"{prefix}/{name}"] = float(value)
    return out


def hyperparameters(config: dict, prefix: str = "") -> dict[str, float | int | str | bool]:
    """A nested config as the flat `dotted.key: value` mapping TensorBoard's HParams tab takes (numbers,
    text and booleans as they are; null and lists as their text)."""
    flat: dict[str, float | int | str | bool] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= hyperparameters(value, f"{name}.")
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = "null" if value is None else str(value)
    return flat


class NoTracker:
    """logger=none: the run's own files only."""

    config_class = TrackerConfig

    def __init__(self, config: TrackerConfig, run_dir: Path, resumed_at: int | None, run_config: dict, name: str):
        pass

    def log_step(self, step: int, losses: dict[str, float]) -> None:
        pass

    def log_row(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class TensorBoardConfig(TrackerConfig):
    """TensorBoard event files in the run folder."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_package("tensorboard", "pip install -e '.[tensorboard]'")


class TensorBoardTracker:
    """Event files in the run folder: `train/<loss>` per step, `history/<column>` per evaluation, the
    config as hyperparameters (HParams tab) and as text."""

    config_class = TensorBoardConfig

    def __init__(
        self, config: TensorBoardConfig, run_dir: Path, resumed_at: int | None, run_config: dict, name: str
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if resumed_at is None:  # a run starting from step 0 logs everything again
            for path in Path(run_dir).glob(EVENTS_GLOB):
                path.unlink()
        self.every = config.every
        purge = None if resumed_at is None else resumed_at + 1
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=30, purge_step=purge)
        if resumed_at is None:  # a resumed run's event files hold them already
            self.write_config(run_config)

    def write_config(self, run_config: dict) -> None:
        """The run's config in the HParams tab (one column per dotted key, the headline figures as its
        metrics) and as YAML in the Text tab."""
        import yaml
        from torch.utils.tensorboard.summary import hparams

        metrics = {f"history/{name}": 0.0 for name in ("g_loss", *HEADLINE)}
        for summary in hparams(hyperparameters(run_config), metrics):
            self.writer.file_writer.add_summary(summary)
        text = yaml.safe_dump(run_config, sort_keys=False)
        self.writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)  # indented: shown as code

    def log_step(self, step: int, losses: dict[str, float]) -> None:
        if step % self.every == 0:
            for tag, value in scalars(losses, "train").items():
                self.writer.add_scalar(tag, value, step)

    def log_row(self, row: dict[str, Any]) -> None:
        for tag, value in scalars(row, "history").items():
            self.writer.add_scalar(tag, value, int(row["step"]))
        self.writer.flush()  # an evaluation is also a checkpoint: what it covers is on disk

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    """Weights & Biases in offline mode, one wandb run per run folder (resumed under the same id)."""

    config_class = WandbConfig

    def __init__(self, config: WandbConfig, run_dir: Path, resumed_at: int | None, run_config: dict, name: str):
        import wandb

        self.every = config.every
        run_id = "cotbench-" + "".join(c if c.isalnum() else "-" for c in name)[-100:]
        self.run = wandb.init(
            project=config.project,
            dir=str(run_dir),
            mode="offline",
            id=run_id,
            name=name,
            config=run_config,
            resume="allow",
        )

    def log_step(self, step: int, losses: dict[str, float]) -> None:
        if step % self.every == 0:
            self.run.log(scalars(losses, "train"), step=step)

    def log_row(self, row: dict[str, Any]) -> None:
        self.run.log(scalars(row, "history"), step=int(row["step"]))

    def close(self) -> None:
        self.run.finish()
