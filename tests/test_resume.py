"""Rerunning a command: a complete run is never touched again (and its files are checked against what
it recorded), a larger budget continues it, keys that say how a run executes may change, and any other
difference is refused naming the value."""

from __future__ import annotations

import hashlib
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
FAST = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.every=2", "eval.n_samples=50")
FAST = (*FAST, "progress=false")


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
    metrics = json.loads((tmp_path / "metrics.json").read_text())  # as a run killed after its checkpoint
    (tmp_path / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
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


def as_killed(run_dir: Path) -> None:
    """metrics.json as a run killed after its last checkpoint leaves it (`running`)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda run_dir: truncate(run_dir / "model.pt"), r"model\.pt truncated \(100 bytes, \d+ recorded\)"),
        (lambda run_dir: truncate(run_dir / "model_best_valid.pt"), r"model_best_valid\.pt truncated"),
        (lambda run_dir: (run_dir / "config.yaml").unlink(), r"config\.yaml missing"),
        (lambda run_dir: (run_dir / "history.csv").unlink(), r"history\.csv missing"),
        (lambda run_dir: (run_dir / CHECKPOINT).unlink(), r"checkpoint\.pt missing"),
        # edited by hand: the same size, other bytes
        (lambda run_dir: (run_dir / "samples.txt").write_text((run_dir / "samples.txt").read_text()[::-1]), "changed"),
    ],
)
def test_a_complete_run_with_damaged_files_says_what_is_damaged_and_how_to_repair(
    tmp_path: Path, damage, named: str
) -> None:
    first = run(compose_spec(*FAST, "train.steps=4"), tmp_path)
    damage(tmp_path)
    stamp = (tmp_path / "metrics.json").read_text()
    with pytest.raises(
        BenchError, match=rf"a complete run with damaged files: .*{named}.*; restore them, or resume=never"
    ):
        run(compose_spec(*FAST, "train.steps=4"), tmp_path)
    with pytest.raises(BenchError, match="damaged files"):  # a larger budget does not continue it either
        run(compose_spec(*FAST, "train.steps=6"), tmp_path)
    assert (tmp_path / "metrics.json").read_text() == stamp
    assert run(compose_spec(*FAST, "train.steps=4", "resume=never"), tmp_path) == first  # the repair: same figures
    assert run(compose_spec(*FAST, "train.steps=4"), tmp_path) == first  # and it is complete and whole


def test_a_complete_run_records_the_size_and_sha256_of_its_files(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    files = json.loads((tmp_path / "metrics.json").read_text())["files"]
    assert set(files) == {"config.yaml", "history.csv", "prefix_jsd.csv", "samples.txt", CHECKPOINT, "model.pt"} | {
        "model_best_valid.pt"
    }
    model = (tmp_path / "model.pt").read_bytes()
    assert files["model.pt"] == {"bytes": len(model), "sha256": hashlib.sha256(model).hexdigest()}


def test_a_complete_run_from_before_the_record_is_checked_by_its_files_presence(tmp_path: Path) -> None:
    first = run(compose_spec(*TINY), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    del metrics["files"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert run(compose_spec(*TINY), tmp_path) == first
    (tmp_path / "samples.txt").unlink()
    with pytest.raises(BenchError, match=r"damaged files: samples\.txt missing"):
        run(compose_spec(*TINY), tmp_path)


def test_a_huge_history_csv_in_a_run_being_resumed_is_replaced_from_the_checkpoint_never_read(tmp_path: Path) -> None:
    run(compose_spec(*QUICK, "train.steps=40"), tmp_path)
    as_killed(tmp_path)
    with open(tmp_path / "history.csv", "w") as history:  # 20 MB of rows no run wrote
        history.write("step,nll_oracle\n")
        history.writelines(f"{step},1.0\n" for step in range(2_000_000))
    extended = run(compose_spec(*QUICK, "train.steps=60"), tmp_path)
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [0, 20, 40, 60]
    assert extended == run(compose_spec(*TINY), tmp_path / "straight")


def test_a_hand_edited_config_yaml_is_rewritten_from_the_checkpoint_a_run_resumes(tmp_path: Path) -> None:
    run(compose_spec(*QUICK, "train.steps=40"), tmp_path)
    as_killed(tmp_path)
    edited = (tmp_path / "config.yaml").read_text().replace("lr: 0.01", "lr: 0.5")
    (tmp_path / "config.yaml").write_text(edited)
    assert run(compose_spec(*QUICK, "train.steps=60"), tmp_path)["step"] == 60  # the checkpoint is what continues
    assert "lr: 0.01" in (tmp_path / "config.yaml").read_text()


def test_a_hand_edited_config_yaml_in_a_complete_run_is_reported_as_changed(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("seed: 0", "seed: 1"))
    with pytest.raises(BenchError, match=r"config\.yaml changed \(its sha256 differs from the one recorded\)"):
        run(compose_spec(*TINY), tmp_path)
