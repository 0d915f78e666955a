"""Timing: median of repeats with the range, and the rows of the performance table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    """Seconds per call: median over repeats, with the fastest and slowest."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{seconds(self.median)} [{seconds(self.low)}–{seconds(self.high)}]"


@dataclass
class Row:
    """One line of the table; `met` is the verdict against `target`, empty where there is no target."""

    figure: str
    ours: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


def seconds(value: float) -> str:
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1, per_call: int = 1) -> Timing:
    """Time `fn` `repeats` times after `warmup` calls; `per_call` divides (several iterations per call)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        samples.append((time.perf_counter() - start) / per_call)
    return Timing(statistics.median(samples), min(samples), max(samples))
