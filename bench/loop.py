"""The one training loop: every algorithm runs through `train()`, which knows only `Algorithm`.

Budget in steps; an evaluation at step 0, every `eval.every` steps, at the end of each phase of a
phased algorithm (SeqGAN) and at the end; a progress bar
with the latest figures; one history row per evaluation carrying the mean of each logged loss
since the previous evaluation.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from algorithms.base import Algorithm
from bench.errors import BenchError
from bench.evaluation import Evaluation, Evaluator

# Figures shown on the progress bar, when present.
_SHOWN = ("g_loss", "nll_oracle", "nll_test", "jsd")


class DivergenceError(BenchError):
    """A loss or figure became NaN or infinite."""


@dataclass
class LoopState:
    """What the loop itself carries between steps (the algorithm keeps its own state)."""

    step: int = 0
    wall_s: float = 0.0
    """Seconds of training and evaluation so far (summed across resumed sessions)."""
    loss_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    loss_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add_losses(self, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self.loss_sums[name] += value
            self.loss_counts[name] += 1

    def mean_losses(self) -> dict[str, float]:
        """Mean of each logged figure over the steps since the last evaluation that logged it."""
        return {name: total / self.loss_counts[name] for name, total in self.loss_sums.items()}

    def reset_losses(self) -> None:
        self.loss_sums, self.loss_counts = defaultdict(float), defaultdict(int)


def _check_finite(figures: dict[str, float], step: int) -> None:
    for name, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise DivergenceError(f"step {step}: {name} is {value} (training diverged)")


def train(
    algorithm: Algorithm,
    evaluator: Evaluator,
    steps: int,
    eval_every: int,
    on_evaluation: Callable[[dict[str, Any], Evaluation], None],
    progress: bool = True,
    state: LoopState | None = None,
) -> LoopState:
    """Run `algorithm` for `steps` steps, evaluating on schedule and reporting each row."""
    state = state or LoopState()
    bar = tqdm(total=steps, initial=state.step, disable=not progress, dynamic_ncols=True, desc="train")
    clock = time.perf_counter()

    def evaluate(phase: str) -> None:
        nonlocal clock
        evaluation = evaluator(algorithm.generator, state.step)
        row = {"step": state.step, "phase": phase}
        row |= state.mean_losses()
        row |= evaluation.figures
        row |= algorithm.evaluation_figures(evaluation.samples.tokens, evaluator.test)
        _check_finite(row, state.step)
        now = time.perf_counter()
        state.wall_s, clock = state.wall_s + now - clock, now
        row["wall_s"] = round(state.wall_s, 3)
        state.reset_losses()
        on_evaluation(row, evaluation)
        bar.set_postfix({k: f"{row[k]:.4g}" for k in _SHOWN if k in row}, refresh=False)

    try:
        if state.step == 0:
            evaluate(algorithm.phase)
        while state.step < steps and not algorithm.finished:
            phase = algorithm.phase
            losses = algorithm.step()
            state.step += 1
            _check_finite(losses, state.step)
            state.add_losses(losses)
            bar.update(1)
            # Also at the end of each phase, so that no row mixes two phases' losses; a row is
            # labelled with the phase of the steps it summarises.
            phase_ends = algorithm.phase != phase
            if state.step % eval_every == 0 or state.step == steps or algorithm.finished or phase_ends:
                evaluate(phase)
    finally:
        bar.close()
    return state
