"""The one training loop: default budgets, schedules that end early, and one row per evaluation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from algorithms.mle import MLE
from bench.run import run
from tests.conftest import compose_config


class ScheduledMLE(MLE):
    """MLE with a fixed schedule of 7 steps, as SeqGAN's phases are: the loop must stop there."""

    steps_done = 0

    def step(self) -> dict[str, float]:
        self.steps_done += 1
        return super().step()

    @property
    def default_steps(self) -> int:
        return 12

    @property
    def finished(self) -> bool:
        return self.steps_done >= 7


def test_loop_uses_the_algorithm_default_budget_and_stops_when_its_schedule_ends(tmp_path: Path) -> None:
    cfg = compose_config("dataset=synthetic_tiny", "eval.every=5", "eval.n_samples=200", "progress=false")
    cfg.algorithm._target_ = f"{__name__}.ScheduledMLE"
    final = run(cfg, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [0, 5, 7]
    assert final["step"] == 7


def test_train_steps_overrides_the_default_budget(tmp_path: Path) -> None:
    cfg = compose_config("dataset=synthetic_tiny", "train.steps=4", "eval.every=3", "eval.n_samples=200")
    cfg.algorithm._target_ = f"{__name__}.ScheduledMLE"
    cfg.progress = False
    run(cfg, tmp_path)
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 3, 4]


def test_rows_count_the_sequences_each_algorithm_sampled_in_training(tmp_path: Path) -> None:
    """The generated-data budget, against each update rule written out: MLE samples nothing; a CoT
    iteration samples B from G for its G step and B from G for its M step; a Nested CoT iteration
    adds B from M (M's step) and B/2 from G plus B from M (M2's step). Evaluation samples are not counted."""
    b = 8
    per_iteration = {"mle": 0, "cot": 2 * b, "nested_cot": b + b + (b // 2 + b)}
    for name, per_step in per_iteration.items():
        run_dir = tmp_path / name
        overrides = ("dataset=synthetic_tiny", "train.steps=6", "eval.every=3", "eval.n_samples=50", "progress=false")
        run(compose_config(f"algorithm={name}", f"algorithm.batch_size={b}", *overrides), run_dir)
        history = pd.read_csv(run_dir / "history.csv")
        assert history["sequences_generated"].tolist() == [0, 3 * per_step, 6 * per_step], name
