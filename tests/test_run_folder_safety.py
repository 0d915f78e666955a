"""A run folder is written by one process at a time, never through a symbolic link, never as the
current folder by accident, and left without stray temporary files."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.training.lifecycle import RunLock
from bench.training.run import run
from tests.conftest import compose_spec
from tests.processes import one_error_line

QUICK = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=4",
    "eval.every=2",
    "eval.n_samples=50",
    "progress=false",
)
"""A run of a fraction of a second: 4^4 = 256 sequences, so every evaluation is exact and cheap."""


def test_symbolic_links_in_a_run_or_sweep_folder_are_never_written_through(tmp_path: Path, cli_in_process) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(victim)
    with pytest.raises(BenchError, match=r"\.lock: is a symbolic link; refusing to write through it"):
        run(compose_spec(*QUICK), run_dir)
    (run_dir / ".lock").unlink()
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").symlink_to(victim)
    with pytest.raises(BenchError, match=r"\.hydra/config\.yaml: is a symbolic link"):
        run(compose_spec(*QUICK), run_dir)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").symlink_to(victim)
    status, _, err = cli_in_process("-m", *QUICK, f"hydra.sweep.dir={sweep}")
    assert status == 2
    assert one_error_line(err).endswith("multirun.yaml: is a symbolic link; refusing to write through it")
    assert victim.read_text() == "precious\n"
    assert not (run_dir / "metrics.json").exists()


def test_a_refused_second_writer_leaves_the_run_folder_untouched(tmp_path: Path, cli_in_process) -> None:
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("the running run's config\n")
    with RunLock(tmp_path):  # the lock of the run that is writing here (its own open file)
        status, _, err = cli_in_process(*QUICK, f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert one_error_line(err).endswith("another process is writing this run")
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "the running run's config\n"  # not even Hydra's files
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".hydra", ".lock", "config.yaml"]


def test_two_writers_never_share_a_run_folder_and_the_lock_goes_with_its_holder(tmp_path: Path) -> None:
    holder = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)  # another writer's lock (its own open file)
    fcntl.flock(holder, fcntl.LOCK_EX)
    with pytest.raises(BenchError, match="another process is writing this run"):
        run(compose_spec(*QUICK), tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    os.close(holder)  # the lock is released with its holder
    run(compose_spec(*QUICK), tmp_path)


@pytest.mark.parametrize("override", ["hydra.run.dir=", "hydra.sweep.dir="])
def test_an_empty_output_folder_is_refused_before_anything_is_written(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch, override: str
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty folder name would mean this one
    multirun = ["-m"] if "sweep" in override else []
    status, _, err = cli_in_process(*multirun, *QUICK, override)
    assert status == 2
    message = f"error: {override}'': must name a folder (empty, every run file would land here)"
    assert one_error_line(err) == message
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_left_by_an_interrupted_write_are_removed_on_the_next_start(tmp_path: Path) -> None:
    stale = [tmp_path / ".checkpoint.pt.k3j2_x.tmp", tmp_path / ".metrics.json.a8b9c0.tmp"]  # as SIGKILL leaves them
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    run(compose_spec(*QUICK), tmp_path)
    assert not any(path.exists() for path in stale)
    assert not list(tmp_path.glob(".*.tmp"))
