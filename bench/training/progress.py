"""The training progress bar: what runs now (a phase, or an evaluation) and an honest ETA.

tqdm's own ETA divides elapsed time by steps done, so a 30-second evaluation at step 0 makes the
first estimate hours long, and a phase whose steps cost 100x more (SeqGAN's adversarial rounds
after its MLE batches) makes it jump. Here the remaining time is the steps left in each phase times
that phase's measured cost per step, plus the evaluations left times the measured cost of one
evaluation. A phase that has not run yet has no cost: the ETA then covers the timed part only and
is shown as a lower bound (`eta ≥ 0:11`). Times come from an injectable clock, so tests drive it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

from bench.evaluation.catalogue import PROGRESS

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


class EtaEstimator:
    """Mean seconds per training step of each phase, and per evaluation, measured separately."""

    def __init__(self) -> None:
        self.step_seconds: dict[str, float] = defaultdict(float)
        self.step_counts: dict[str, int] = defaultdict(int)
        self.evaluation_seconds = 0.0
        self.evaluations = 0

    def add_step(self, phase: str, seconds: float) -> None:
        self.step_seconds[phase] += seconds
        self.step_counts[phase] += 1

    def add_evaluation(self, seconds: float) -> None:
        self.evaluation_seconds += seconds
        self.evaluations += 1

    def remaining(self, steps_left: dict[str, int], evaluations_left: int) -> tuple[float, bool]:
        """(seconds, complete): `complete` is False when a phase with steps left has not been timed."""
        seconds, complete = 0.0, True
        for phase, steps in steps_left.items():
            if steps <= 0:
                continue
            if self.step_counts[phase]:
                seconds += steps * self.step_seconds[phase] / self.step_counts[phase]
            else:
                complete = False
        if evaluations_left and self.evaluations:
            seconds += evaluations_left * self.evaluation_seconds / self.evaluations
        return seconds, complete


def steps_left_by_phase(schedule: dict[str, int] | None, phase: str, step: int, total: int) -> dict[str, int]:
    """Steps still to run in each phase, the budget `total` included.

    `schedule` gives each phase's length in the order the phases run (None: one phase, `phase`).
    """
    if not schedule:
        return {phase: max(total - step, 0)}
    left, start = {}, 0
    for name, length in schedule.items():
        end = min(start + length, total)
        left[name] = max(end - max(start, step), 0)
        start += length
    return left


def evaluations_left(step: int, total: int, every: int, boundaries: list[int]) -> int:
    """Evaluations after `step`: every `every` steps, at each phase boundary and at `total`."""
    if total <= step:
        return 0
    regular = total // every - step // every
    extra = {b for b in boundaries if step < b < total and b % every} | ({total} if total % every else set())
    return regular + len(extra)


def phase_boundaries(schedule: dict[str, int] | None) -> list[int]:
    """The steps at which one phase ends and the next begins."""
    if not schedule:
        return []
    ends, start = [], 0
    for length in schedule.values():
        start += length
        ends.append(start)
    return ends


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """A tqdm bar over the training steps whose label names the phase and says when it evaluates."""

    def __init__(
        self,
        total: int,
        initial: int,
        every: int,
        schedule: dict[str, int] | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        file: Any = None,
    ) -> None:
        self.total, self.every, self.schedule, self.clock = total, every, schedule, clock
        self.boundaries = phase_boundaries(schedule)
        self.estimator = EtaEstimator()
        self.figures = ""
        self.eta = ""
        self.bar = tqdm(
            total=total, initial=initial, disable=not enabled, dynamic_ncols=True, bar_format=BAR_FORMAT, file=file
        )

    def eta_text(self, phase: str, step: int) -> str:
        """`eta 1:23`, `eta ≥ 1:23` while a phase still to run is untimed, empty before any timing."""
        left = steps_left_by_phase(self.schedule, phase, step, self.total)
        evaluations = evaluations_left(step, self.total, self.every, self.boundaries)
        seconds, complete = self.estimator.remaining(left, evaluations)
        if not complete and seconds == 0:
            return ""
        return f"eta {'' if complete else '≥ '}{format_seconds(seconds)}"

    def _show(self, description: str) -> None:
        self.bar.set_description_str(description, refresh=False)
        self.bar.set_postfix_str(", ".join(part for part in (self.eta, self.figures) if part), refresh=False)

    @contextmanager
    def step(self, phase: str) -> Iterator[None]:
        """Time one training step of `phase` and advance the bar."""
        start = self.clock()
        yield
        if self.bar.disable:
            return
        self.estimator.add_step(phase, self.clock() - start)
        self.eta = self.eta_text(phase, self.bar.n + 1)
        self._show(phase)
        self.bar.update(1)

    @contextmanager
    def evaluating(self, phase: str, next_phase: str) -> Iterator[None]:
        """Say so on the bar (an evaluation can take a while) and time it apart from the steps."""
        self._show(f"{phase}: evaluating")
        self.bar.refresh()
        start = self.clock()
        yield
        if self.bar.disable:
            return
        self.estimator.add_evaluation(self.clock() - start)
        self.eta = self.eta_text(next_phase, self.bar.n)
        self._show(next_phase)
        self.bar.refresh()

    def show_figures(self, row: dict[str, Any]) -> None:
        self.figures = ", ".join(f"{k}={row[k]:.4g}" for k in PROGRESS if k in row)

    def close(self) -> None:
        self.bar.close()
