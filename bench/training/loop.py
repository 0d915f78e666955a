"""The one training loop: every algorithm runs through `train()`, which knows only `Algorithm`.

Budget in steps; an evaluation at step 0, every `eval.every` steps, at the steps `eval.also_at`
lists, at the end of each phase of a phased algorithm (SeqGAN) and at the end; a progress bar
(bench/progress.py) naming the phase, saying when it evaluates, with the latest figures; one
history row per evaluation carrying the mean of each logged loss since the previous evaluation, and
every step's losses to `on_step` (an experiment tracker, bench/tracking.py). The losses stay on
the device until they are read in batches (bench/training/losses.py): no step waits for the device.
"""

from __future__ import annotations

import math
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from algorithms.base import Algorithm
from bench.errors import BenchError
from bench.evaluation.evaluator import Evaluation, Evaluator
from bench.training.losses import READ_EVERY, ReadOnAccess, StepLosses, read_losses
from bench.training.progress import ProgressBar


class DivergenceError(BenchError):
    """A loss, figure or parameter became NaN or infinite."""


class StopRequested(BenchError):
    """SIGINT or SIGTERM arrived: the loop stopped at a step boundary so the state can be saved."""

    def __init__(self, signal_name: str, step: int) -> None:
        super().__init__(f"interrupted by {signal_name} at step {step}")
        self.signal_name, self.step = signal_name, step
        self.exit_code = 128 + signal.Signals[signal_name].value  # the shell's convention

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # crosses from a sweep worker to its parent
        return (StopRequested, (self.signal_name, self.step))


@dataclass
class LoopState:
    """What the loop itself carries between steps (the algorithm keeps its own state)."""

    step: int = 0
    pending_phase: str | None = None
    """Set while the evaluation at `step` is under way: a stop during it leaves it to be redone on resume."""
    wall_s: float = 0.0
    """Seconds of training and evaluation so far (summed across resumed sessions)."""
    train_s: float = 0.0
    """Wall-clock seconds inside training steps only (evaluations excluded): the compute budget."""
    train_cpu_s: float = 0.0
    """Process CPU seconds inside training steps only: the compute budget, far less sensitive to other
    load on the machine than wall-clock (contention still inflates it through shared caches; and with
    several torch threads it sums over them, so it can exceed `train_s`)."""
    sequences: int = 0
    """Sequences the algorithm's models sampled in training steps (rollout completions included):
    the generated-data budget, beside steps and wall-clock; evaluation samples are not counted."""
    restored: bool = False
    """Continued from a checkpoint. A checkpoint is written only after the evaluation at its step, or
    with that evaluation pending: a restored state owes an evaluation only when one is pending (a
    fresh run owes the one at step 0)."""
    loss_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    loss_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: list[tuple[int, StepLosses]] = field(default_factory=list)
    """Steps whose losses are still on the device (read by `read_losses`)."""

    def add_losses(self, step: int, losses: StepLosses) -> None:
        self.pending.append((step, losses))

    def read_losses(self) -> None:
        """Read the pending losses and add them to the sums, step by step in order (as floats were added
        when every step was read); the first non-finite one, by step, stops the run naming its step."""
        for step, losses in read_losses(self.pending):
            _check_finite(losses, step)
            for name, value in losses.items():
                self.loss_sums[name] += value
                self.loss_counts[name] += 1
        self.pending = []

    def mean_losses(self) -> dict[str, float]:
        """Mean of each logged figure over the steps since the last evaluation that logged it."""
        self.read_losses()
        return {name: total / self.loss_counts[name] for name, total in self.loss_sums.items()}

    def reset_losses(self) -> None:
        self.loss_sums, self.loss_counts, self.pending = defaultdict(float), defaultdict(int), []

    def state_dict(self) -> dict[str, Any]:
        self.read_losses()
        return {
            "step": self.step,
            "pending_phase": self.pending_phase,
            "wall_s": self.wall_s,
            "train_s": self.train_s,
            "train_cpu_s": self.train_cpu_s,
            "sequences": self.sequences,
            "loss_sums": dict(self.loss_sums),
            "loss_counts": dict(self.loss_counts),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LoopState:
        loop = cls(step=int(state["step"]), wall_s=float(state["wall_s"]), pending_phase=state.get("pending_phase"))
        loop.sequences = int(state.get("sequences", 0))
        loop.restored = True
        loop.train_s = float(state.get("train_s", 0.0))
        loop.train_cpu_s = float(state.get("train_cpu_s", 0.0))
        loop.loss_sums.update(state["loss_sums"])
        loop.loss_counts.update(state["loss_counts"])
        return loop


def sequences_sampled(algorithm: Algorithm) -> int:
    """Sequences sampled so far by every language model the algorithm trains (G, a mediator, ...)."""
    return sum(getattr(network, "sequences_sampled", 0) for network in algorithm.networks().values())


def _check_finite(figures: dict[str, float], step: int) -> None:
    for name, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise DivergenceError(f"step {step}: {name} is {value} (training diverged)")


def check_parameters(algorithm: Algorithm, step: int) -> None:
    """Every network's parameters must be finite before a checkpoint can be trusted."""
    for network_name, network in algorithm.networks().items():
        for name, parameter in network.named_parameters():
            if not torch.isfinite(parameter).all():
                raise DivergenceError(f"step {step}: parameter {network_name}.{name} is not finite (training diverged)")


def train(
    algorithm: Algorithm,
    evaluator: Evaluator,
    steps: int,
    eval_every: int,
    on_evaluation: Callable[[dict[str, Any], Evaluation, LoopState], None],
    progress: bool = True,
    state: LoopState | None = None,
    stop_requested: Callable[[], str | None] = lambda: None,
    on_step: Callable[[int, Mapping[str, float]], None] = lambda step, losses: None,
    eval_also_at: Collection[int] = (),
) -> LoopState:
    """Run `algorithm` for `steps` steps, evaluating on schedule and reporting each row.

    `on_evaluation(row, evaluation, state)` receives every row (the run records it and checkpoints
    there). `stop_requested()` is polled between steps; when it names a signal the loop raises
    `StopRequested` with `state` consistent at a step boundary, so the caller can save it.
    `on_step(step, losses)` receives each step's losses (an experiment tracker), read when it reads them.
    `eval_also_at`: further steps to evaluate at, besides every `eval_every`-th.
    """
    extra_evaluations = frozenset(eval_also_at)
    state = state or LoopState()
    bar = ProgressBar(steps, state.step, eval_every, algorithm.schedule, enabled=progress)
    clock = time.perf_counter()

    def stop_check() -> None:
        if signal_name := stop_requested():
            state.read_losses()  # a run that diverged since the last read fails instead of saving
            raise StopRequested(signal_name, state.step)

    def evaluate(phase: str) -> None:
        with bar.evaluating(phase, algorithm.phase):
            evaluate_now(phase)

    def evaluate_now(phase: str) -> None:
        nonlocal clock
        state.read_losses()
        state.pending_phase = phase
        evaluation = evaluator(algorithm.generator, state.step, stop_check)
        row = {"step": state.step, "phase": phase}
        row |= state.mean_losses()
        row |= evaluation.figures
        row |= algorithm.evaluation_figures(evaluation.context)
        _check_finite(row, state.step)
        check_parameters(algorithm, state.step)
        now = time.perf_counter()
        state.wall_s, clock = state.wall_s + now - clock, now
        row["wall_s"] = round(state.wall_s, 3)
        row["train_s"] = round(state.train_s, 3)
        row["train_cpu_s"] = round(state.train_cpu_s, 3)
        row["sequences_generated"] = state.sequences
        state.reset_losses()
        state.pending_phase = None
        on_evaluation(row, evaluation, state)
        bar.show_figures(row)

    try:
        if state.pending_phase is not None or (state.step == 0 and not state.restored):  # a stopped one is redone
            evaluate(state.pending_phase or algorithm.phase)
        while state.step < steps and not algorithm.finished:
            stop_check()
            phase = algorithm.phase
            before = sequences_sampled(algorithm)
            started, started_cpu = time.perf_counter(), time.process_time()
            with bar.step(phase):
                losses = algorithm.step()
                state.add_losses(state.step + 1, losses)
                # Also at the end of each phase, so that no row mixes two phases' losses; a row is
                # labelled with the phase of the steps it summarises.
                phase_ends = algorithm.phase != phase
                done = state.step + 1 == steps or algorithm.finished or phase_ends
                evaluates = (state.step + 1) % eval_every == 0 or state.step + 1 in extra_evaluations or done
                if evaluates or (state.step + 1) % READ_EVERY == 0:
                    state.read_losses()  # inside the clock: waiting for the device is the steps' time
            state.train_s += time.perf_counter() - started
            state.train_cpu_s += time.process_time() - started_cpu
            state.sequences += sequences_sampled(algorithm) - before
            state.step += 1
            on_step(state.step, ReadOnAccess(losses))
            if evaluates:
                evaluate(phase)
    finally:
        bar.close()
    return state
