"""The progress bar: phase and evaluation shown, ETA from step costs per phase and evaluation cost apart."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.training.progress import ProgressBar, evaluations_left, format_seconds, steps_left_by_phase
from bench.training.run import run
from tests.conftest import compose_spec


class FakeClock:
    """Time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_bar(
    total: int, every: int, schedule: dict[str, int] | None = None
) -> tuple[ProgressBar, FakeClock, io.StringIO]:
    clock, out = FakeClock(), io.StringIO()
    return ProgressBar(total, 0, every, schedule, enabled=True, clock=clock, file=out), clock, out


def advance(bar: ProgressBar, clock: FakeClock, phase: str, seconds: float) -> None:
    with bar.step(phase):
        clock.now += seconds


def test_a_long_evaluation_does_not_inflate_the_step_rate() -> None:
    bar, clock, out = make_bar(total=100, every=50)
    with bar.evaluating("train", "train"):  # step 0: a 30 s evaluation
        clock.now += 30
    for _ in range(10):
        advance(bar, clock, "train", 0.5)
    # 90 steps x 0.5 s + evaluations at 50 and 100 x 30 s = 105 s (tqdm's own rate would say 315 s)
    assert bar.eta == "eta 1:45"
    bar.close()
    assert "train: evaluating" in out.getvalue() and "10/100" in out.getvalue().split("\r")[-1]
    assert "eta 1:45" in out.getvalue().split("\r")[-1]


def test_each_phase_is_timed_on_its_own_and_an_untimed_phase_makes_a_lower_bound() -> None:
    bar, clock, _ = make_bar(total=15, every=100, schedule={"cheap": 10, "costly": 5})
    for _ in range(4):
        advance(bar, clock, "cheap", 0.25)
    # 6 cheap steps left (1.5 s) + the evaluation at the phase end and at 15 (untimed): costly untimed
    assert bar.eta == "eta ≥ 0:02"
    for _ in range(6):
        advance(bar, clock, "cheap", 0.25)
    with bar.evaluating("cheap", "costly"):
        clock.now += 4
    advance(bar, clock, "costly", 10.0)
    # 4 costly steps x 10 s + the final evaluation (4 s); the cheap steps' rate plays no part
    assert bar.eta == "eta 0:44"
    bar.close()


def test_steps_and_evaluations_left() -> None:
    assert steps_left_by_phase(None, "train", 30, 100) == {"train": 70}
    schedule = {"a": 10, "b": 3, "c": 5}
    assert steps_left_by_phase(schedule, "b", 11, 18) == {"a": 0, "b": 2, "c": 5}
    assert steps_left_by_phase(schedule, "a", 4, 12) == {"a": 6, "b": 2, "c": 0}  # a smaller budget cuts it
    assert evaluations_left(0, 100, 20, []) == 5
    assert evaluations_left(0, 18, 5, [10, 13, 18]) == 5  # 5, 10, 15, 13 and the end, 18
    assert evaluations_left(18, 18, 5, [10, 13, 18]) == 0
    assert format_seconds(3725) == "1:02:05" and format_seconds(71.6) == "1:12"


def test_the_bar_names_each_seqgan_phase_and_says_when_it_evaluates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = compose_spec(
        "algorithm=seqgan_tiny",
        "dataset=synthetic_tiny",
        "eval.every=100",
        "eval.n_samples=200",
        "algorithm.pretrain_d_rounds=1",
        "algorithm.adversarial_rounds=1",
        "algorithm.d_negatives=100",
        "algorithm.n_rollouts=2",
        "dataset.n_train=640",
        "dataset.vocab_size=4",
        "dataset.seq_len=4",
        "dataset.n_test=400",
    )
    run(cfg, tmp_path)
    err = capsys.readouterr().err
    for label in ("pretrain_g: evaluating", "pretrain_d: evaluating", "adversarial: evaluating", "adversarial:"):
        assert label in err, label
    assert "eta" in err
