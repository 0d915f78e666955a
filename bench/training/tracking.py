"""Experiment trackers: every history row and every step's training losses as scalars.

`logger=tensorboard` writes TensorBoard event files into the run folder (`tensorboard --logdir
outputs/`), `logger=wandb` logs to Weights & Biases in offline mode (`wandb sync` uploads it
later), `logger=none` (the default) writes nothing beyond the run's own files. The loop knows
nothing of these: it calls `log_step` after each step and the run calls `log_row` at each
evaluation.

Resuming continues the same event stream: the run resumes from a checkpoint at step S, so every
event already written for a step after S (the work lost since that checkpoint) is removed from the
run folder's event files before logging goes on, and each (tag, step) is written exactly once.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.errors import BenchError
from bench.files import atomic_write_bytes

LOGGERS = ("none", "tensorboard", "wandb")
EVENTS_GLOB = "events.out.tfevents.*"


@dataclass
class LoggerConfig:
    """Where training curves go besides history.csv (conf/logger/*.yaml)."""

    kind: str = "none"
    """none (only the run's own files), tensorboard (event files in the run folder) or wandb (offline)."""
    every: int = 1
    """Log the training losses of every this many steps (history rows are always logged)."""
    project: str = "cotbench"
    """wandb project name (offline runs are stored under the run folder's wandb/)."""

    def __post_init__(self) -> None:
        if self.kind not in LOGGERS:
            raise ValueError(f"logger.kind={self.kind!r}: must be one of {', '.join(LOGGERS)}")
        if self.every < 1:
            raise ValueError(f"logger.every={self.every}: must be a positive integer")
        package = {"tensorboard": "tensorboard", "wandb": "wandb"}.get(self.kind)
        if package and importlib.util.find_spec(package) is None:
            extra = " (pip install -e '.[tensorboard]')" if package == "tensorboard" else " (pip install wandb)"
            raise ValueError(f"logger={self.kind}: the {package} package is not installed{extra}")


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


class NoTracker:
    """logger=none: the run's own files only."""

    def log_step(self, step: int, losses: dict[str, float]) -> None:
        pass

    def log_row(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def trim_events(run_dir: Path, keep_through: int | None) -> None:
    """Drop from the run folder's event files every event of a step after `keep_through`.

    `None` removes the event files altogether (a run starting from step 0 logs everything again).
    Each file is rewritten atomically under its own name, so the files keep their order.
    """
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    for path in sorted(Path(run_dir).glob(EVENTS_GLOB)):
        if keep_through is None:
            path.unlink()
            continue
        kept = [raw for raw in RawEventFileLoader(str(path)).Load() if _keeps(raw, keep_through, event_pb2)]

        def write(stream: Any, records: list[bytes] = kept) -> None:
            writer = RecordWriter(stream)
            for record in records:
                writer.write(record)

        atomic_write_bytes(path, write)


def _keeps(raw: bytes, keep_through: int, event_pb2: Any) -> bool:
    event = event_pb2.Event.FromString(raw)
    return not event.HasField("summary") or event.step <= keep_through


class TensorBoardTracker:
    """Event files in the run folder: `train/<loss>` per step, `history/<column>` per evaluation."""

    def __init__(self, config: LoggerConfig, run_dir: Path, resumed_at: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        trim_events(run_dir, resumed_at)
        self.every = config.every
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=30)

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

    def __init__(self, config: LoggerConfig, run_dir: Path, run_config: dict[str, Any], name: str) -> None:
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


def open_tracker(
    config: LoggerConfig, run_dir: Path, resumed_at: int | None, run_config: dict[str, Any], name: str
) -> Tracker:
    """The tracker `config` asks for; `resumed_at` is the checkpoint's step (None: a fresh start)."""
    if config.kind == "tensorboard":
        return TensorBoardTracker(config, Path(run_dir), resumed_at)
    if config.kind == "wandb":
        try:
            return WandbTracker(config, Path(run_dir), run_config, name)
        except ImportError as error:
            raise BenchError(f"logger=wandb: cannot import wandb ({error})") from None
    return NoTracker()
