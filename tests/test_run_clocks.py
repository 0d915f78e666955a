"""A run's durations come from monotonic clocks: a wall-clock jump (NTP stepping the clock, a daylight
saving change, a suspended laptop, an operator's `date -s`) never makes a duration negative or shrink."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.evaluation.catalogue import CLOCKS
from bench.training.run import run
from tests.conftest import compose_spec
from tests.endless import QUICK

DAY_S = 86_400


def test_a_wall_clock_that_jumps_back_a_day_at_every_reading_leaves_every_duration_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings, wall_clock = itertools.count(), time.time
    monkeypatch.setattr(time, "time", lambda: wall_clock() - DAY_S * next(readings))
    run(compose_spec(*QUICK, "train.steps=40"), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    for clock in CLOCKS:
        assert (history[clock] >= 0).all() and history[clock].is_monotonic_increasing, clock
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["wall_s"] >= metrics["train_s"] >= 0
