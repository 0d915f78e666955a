"""Training runs that never end on their own, for tests that stop them: their overrides, and what a test
waits for before it acts (evaluations written, a checkpoint saved), so that no test depends on a clock
or on how fast the machine is."""

from __future__ import annotations

import json
from pathlib import Path

from bench.training import checkpoint
from bench.training.records import CHECKPOINT

EVERY = 10
QUICK = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    f"eval.every={EVERY}",
    "eval.n_samples=100",
    "progress=false",
)
"""4^4 = 256 sequences: every evaluation is exact and takes milliseconds."""
ENDLESS = (*QUICK, "train.steps=10000000")


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def evaluations_written(run_dir: Path) -> int:
    history = run_dir / "history.csv"
    return max(len(history.read_text().splitlines()) - 1, 0) if history.exists() else 0


def checkpointed_after(run_dir: Path, evaluations: int) -> bool:
    """A checkpoint exists and `evaluations` rows are in history.csv (the checkpoint follows the one before)."""
    return (run_dir / CHECKPOINT).exists() and evaluations_written(run_dir) >= evaluations


def saved_step(run_dir: Path) -> int:
    return int(checkpoint.load(run_dir / CHECKPOINT)["loop"]["step"])


def budget_past(step: int) -> str:
    """A budget two evaluations past `step`, ending on an evaluation."""
    return f"train.steps={(step // EVERY + 2) * EVERY}"
