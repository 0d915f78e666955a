"""The one training loop: default budgets, schedules that end early, and one row per evaluation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from algorithms.mle import MLE
from bench.training.run import run
from tests.conftest import compose_spec


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
    target = f"algorithm._target_={__name__}.ScheduledMLE"
    spec = compose_spec("dataset=synthetic_tiny", "eval.every=5", "eval.n_samples=200", "progress=false", target)
    final = run(spec, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [0, 5, 7]
    assert final["step"] == 7


def test_train_steps_overrides_the_default_budget(tmp_path: Path) -> None:
    target = f"algorithm._target_={__name__}.ScheduledMLE"
    run(compose_spec("dataset=synthetic_tiny", "train.steps=4", "eval.every=3", "eval.n_samples=200", target), tmp_path)
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 3, 4]


def test_also_at_adds_evaluations_at_the_listed_steps(tmp_path: Path) -> None:
    target = f"algorithm._target_={__name__}.ScheduledMLE"
    overrides = ("dataset=synthetic_tiny", "train.steps=7", "eval.every=5", "eval.also_at=[1,2,5]")
    run(compose_spec(*overrides, "eval.n_samples=200", "progress=false", target), tmp_path)
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 1, 2, 5, 7]  # step 5 evaluated once


def test_rows_count_the_sequences_each_algorithm_sampled_in_training(tmp_path: Path) -> None:
    """The generated-data budget, against each update rule written out: MLE samples nothing; a CoT
    iteration samples B from G for its G step and B from G for its M step; a Nested CoT iteration
    adds B from M (M's step) and B/2 from G plus B from M (M2's step). Evaluation samples are not counted."""
    b = 8
    per_iteration = {"mle": 0, "cot": 2 * b, "nested_cot": b + b + (b // 2 + b)}
    for name, per_step in per_iteration.items():
        run_dir = tmp_path / name
        overrides = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "train.steps=6")
        overrides += ("eval.every=3", "eval.n_samples=50", "progress=false")
        run(compose_spec(f"algorithm={name}", f"algorithm.batch_size={b}", *overrides), run_dir)
        history = pd.read_csv(run_dir / "history.csv")
        assert history["sequences_generated"].tolist() == [0, 3 * per_step, 6 * per_step], name


class SlowMLE(MLE):
    """MLE whose every step also sleeps 50 ms: wall-clock the CPU clock must not count."""

    def step(self) -> dict[str, float]:
        time.sleep(0.05)
        return super().step()


def test_training_clocks_count_the_steps_alone(tmp_path: Path) -> None:
    """train_s covers the training steps only (each sleeps 50 ms, so at least 4 x 0.05 s), never the
    evaluations that wall_s also holds; train_cpu_s is CPU time, which a sleep does not use."""
    overrides = ("dataset=synthetic_tiny", "train.steps=4", "eval.every=2", "eval.n_samples=2000", "progress=false")
    # one thread (the default): CPU time cannot outrun wall-clock
    run(compose_spec(*overrides, f"algorithm._target_={__name__}.SlowMLE"), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history.loc[0, "train_s"] == 0 and history.loc[0, "train_cpu_s"] == 0  # step 0: evaluation only
    end = history.iloc[-1]
    assert 4 * 0.05 <= end["train_s"] < end["wall_s"]
    assert 0 < end["train_cpu_s"] < end["train_s"] - 4 * 0.04
    assert history["train_s"].is_monotonic_increasing and history["train_cpu_s"].is_monotonic_increasing
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_s"] == end["train_s"] and metrics["train_cpu_s"] == end["train_cpu_s"]
    assert "train_s" not in metrics["final"] and "wall_s" not in metrics["final"]
