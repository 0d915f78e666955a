"""Rerunning a command: a complete run is never touched again, a larger budget continues it, keys that
say how a run executes may change, and any other difference is refused naming the value."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.training import checkpoint
from bench.training.records import CHECKPOINT
from bench.training.resume import comparable, first_difference
from bench.training.run import run
from tests.conftest import compose_spec

QUICK = ("dataset=synthetic_tiny", "eval.every=20", "eval.n_samples=300", "progress=false")
TINY = (*QUICK, "train.steps=60")


def test_rerunning_a_complete_run_changes_nothing_and_resume_never_starts_over(tmp_path: Path) -> None:
    first = run(compose_spec(*TINY), tmp_path)
    stamp = (tmp_path / "metrics.json").read_text()
    assert run(compose_spec(*TINY), tmp_path) == first
    assert (tmp_path / "metrics.json").read_text() == stamp

    (tmp_path / "history.csv").write_text("step\n999\n")
    assert run(compose_spec(*TINY, "resume=never"), tmp_path) == first
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 20, 40, 60]


def test_a_complete_seqgan_run_is_never_reopened_whatever_schedule_it_ended_on(tmp_path: Path) -> None:
    overrides = (
        "algorithm=seqgan_tiny",
        "dataset=synthetic_tiny",
        "dataset.vocab_size=4",
        "dataset.seq_len=4",
        "train.steps=1000",
        "eval.every=1000",
        "eval.n_samples=50",
        "progress=false",
    )
    first = run(compose_spec(*overrides), tmp_path)
    assert first["step"] < 1000  # SeqGAN ended on its own schedule
    names = ("metrics.json", "history.csv", "samples.txt", "model.pt", CHECKPOINT)
    before = {name: os.stat(tmp_path / name).st_ino for name in names}  # an atomic rewrite changes the inode
    assert run(compose_spec(*overrides), tmp_path) == first
    assert {name: os.stat(tmp_path / name).st_ino for name in names} == before
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "complete"


def test_a_larger_budget_continues_a_complete_run_to_the_figures_of_a_straight_run(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    extended = run(compose_spec(*QUICK, "train.steps=100"), tmp_path)
    straight = run(compose_spec(*QUICK, "train.steps=100"), tmp_path / "straight")
    assert extended == straight


def test_resuming_with_another_config_is_refused_naming_the_value(tmp_path: Path) -> None:
    made = ("algorithm.lr=0.03", "model.hidden_dim=12")
    run(compose_spec(*QUICK, *made, "train.steps=20"), tmp_path)
    with pytest.raises(BenchError, match=r"made with another config: algorithm.lr=0.02 \(the checkpoint has 0.03\)"):
        run(compose_spec(*QUICK, "algorithm.lr=0.02", made[1], "train.steps=40"), tmp_path)
    with pytest.raises(BenchError, match=r"model.hidden_dim=16 \(the checkpoint has 12\)"):
        run(compose_spec(*QUICK, made[0], "model.hidden_dim=16", "train.steps=40"), tmp_path)
    assert run(compose_spec(*QUICK, *made, "train.steps=40"), tmp_path)["step"] == 40  # the same config resumes


def test_a_checkpoint_recording_keys_that_may_change_still_resumes(tmp_path: Path) -> None:
    """Budget and run-time keys (device, threads, budgets) never block a resume, whichever side has them."""
    run(compose_spec(*TINY), tmp_path)
    saved = checkpoint.load(tmp_path / CHECKPOINT)
    saved["config"] |= {"steps_by_algorithm": {}, "threads": 7, "device": "cuda"}
    checkpoint.save(tmp_path / CHECKPOINT, {k: v for k, v in saved.items() if k != "format"})
    extended = run(compose_spec(*QUICK, "train.steps=80"), tmp_path)
    assert extended["step"] == 80


def test_a_nan_config_value_equals_itself_and_a_changed_one_is_named() -> None:
    saved = comparable(compose_spec(*TINY).resolved)
    saved["model"]["init_std"] = math.nan  # as a checkpoint made with a NaN field records it
    current = json.loads(json.dumps(saved))  # a fresh copy: a distinct NaN object
    assert first_difference(saved, current) is None
    current["model"]["init_std"] = 0.1
    assert first_difference(saved, current) == "model.init_std=0.1 (the checkpoint has nan)"
