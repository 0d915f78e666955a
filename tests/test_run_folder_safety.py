"""A run folder is written by one process at a time (a dead holder's lock is taken over), never through
a symbolic link, never as the current folder by accident, never at its old path once moved, never read
through a FIFO, never over something that is not its own run, and left without stray temporary files;
a refused command leaves no folder behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

from bench.api import load_run
from bench.errors import BenchError
from bench.report.runs import collect
from bench.training.lifecycle import RunLock
from bench.training.records import effective_status, read_status
from bench.training.run import run
from bench.training.run_lock import holder_pid
from tests import endless
from tests.conftest import compose_spec
from tests.endless import ENDLESS, budget_past, checkpointed_after, metrics, saved_step
from tests.processes import finish, one_error_line, start_cli, wait_until

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
    assert one_error_line(err).endswith(f"another process (pid {os.getpid()}) is writing this run")
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "the running run's config\n"  # not even Hydra's files
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".hydra", ".lock", "config.yaml"]


def test_two_writers_never_share_a_run_folder_and_the_lock_goes_with_its_holder(tmp_path: Path) -> None:
    holder = FileLock(tmp_path / ".lock", thread_local=False)  # another writer's lock (its own open file)
    holder.acquire()
    with pytest.raises(BenchError, match="another process is writing this run"):
        run(compose_spec(*QUICK), tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    holder.release()  # the lock is released with its holder
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


@pytest.mark.parametrize("override", ["train.steps=-5", "eval.every=0", "algorithm.lr=nan", "seed=-1"])
def test_a_refused_value_leaves_no_folder_behind(tmp_path: Path, cli_in_process, override: str) -> None:
    status, _, err = cli_in_process(*QUICK, override, f"hydra.run.dir={tmp_path / 'new' / 'run'}")
    assert status == 2 and err.startswith("error: ")
    assert list(tmp_path.iterdir()) == []  # not even the parent Hydra would have made


def test_missing_data_takes_away_the_folders_this_command_made_and_never_one_that_existed(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COTBENCH_DATA", str(tmp_path / "no-data"))
    text = ("dataset=coco", "train.steps=2", "eval.every=2", "progress=false")
    status, _, err = cli_in_process(*text, f"hydra.run.dir={tmp_path / 'made' / 'here'}")
    assert status == 2 and "no such file" in err and "python -m bench.data fetch coco" in err
    assert not (tmp_path / "made").exists()  # the run failed before it started: its folders go too
    existing = tmp_path / "existing"
    (existing / "inside").mkdir(parents=True)
    status, _, _ = cli_in_process(*text, f"hydra.run.dir={existing / 'inside'}")
    assert status == 2 and (existing / "inside").is_dir()  # a folder that existed stays


def foreign_folder(folder: Path) -> dict[str, str]:
    """A folder holding another program's config.yaml, metrics.json and history.csv."""
    files = {"config.yaml": "learning_rate: 3\n", "metrics.json": '{"accuracy": 0.9}\n', "history.csv": "epoch\n1\n"}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return files


@pytest.mark.parametrize("resume", ["resume=auto", "resume=never"])
def test_a_folder_holding_something_else_is_refused_and_left_as_it_was(
    tmp_path: Path, cli_in_process, resume: str
) -> None:
    files = foreign_folder(tmp_path)
    status, _, err = cli_in_process(*QUICK, resume, f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert one_error_line(err) == (
        f"error: {tmp_path}: holds history.csv, metrics.json, config.yaml of something that is not a cotbench run; "
        "choose another folder (hydra.run.dir=...), or empty this one"
    )
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == files  # not even a lock or .hydra/ added


def test_a_folder_holding_another_run_is_refused_naming_the_difference_also_with_resume_never(tmp_path: Path) -> None:
    run(compose_spec(*QUICK, "algorithm.lr=0.03"), tmp_path)
    (tmp_path / "checkpoint.pt").unlink()  # no checkpoint to compare: its config.yaml says whose run it is
    for resume in ("resume=auto", "resume=never"):
        with pytest.raises(BenchError, match=r"holds another run: algorithm.lr=0.02 \(its config.yaml has 0.03\)"):
            run(compose_spec(*QUICK, "algorithm.lr=0.02", resume), tmp_path)
    assert run(compose_spec(*QUICK, "algorithm.lr=0.03", "resume=never"), tmp_path)["step"] == 4  # its own config


def test_an_empty_folder_or_one_with_only_other_files_is_used_and_the_other_files_kept(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run(compose_spec(*QUICK), empty)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine\n")
    run(compose_spec(*QUICK), notes)
    assert (notes / "notes.txt").read_text() == "mine\n" and (notes / "metrics.json").is_file()


def test_a_run_folder_that_is_a_symbolic_link_is_refused_before_anything_is_created_in_its_target(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "run").symlink_to(target)
    with pytest.raises(BenchError, match=r"/run: is a symbolic link; refusing to write through it"):
        run(compose_spec(*QUICK), tmp_path / "run")
    assert list(target.iterdir()) == []  # not even the lock file


def test_the_lock_of_a_killed_run_is_taken_over_and_until_then_the_run_reads_killed(tmp_path: Path) -> None:
    process = start_cli(*ENDLESS, f"hydra.run.dir={tmp_path}")
    wait_until(lambda: checkpointed_after(tmp_path, 2), process)
    assert effective_status(tmp_path) == "running"  # its owner holds the lock
    process.kill()  # as the out-of-memory killer does: no word, no status
    process.wait()
    assert holder_pid(tmp_path / ".lock") == process.pid
    assert read_status(tmp_path) == "running" and effective_status(tmp_path) == "killed"
    assert [run.status for run in collect(tmp_path)] == ["killed"]  # as the report lists it, left out
    run(compose_spec(*endless.QUICK, budget_past(saved_step(tmp_path))), tmp_path)
    assert holder_pid(tmp_path / ".lock") == os.getpid()
    assert effective_status(tmp_path) == "complete"


def test_a_run_folder_moved_while_running_stops_the_run_which_writes_nothing_at_the_old_path(tmp_path: Path) -> None:
    old, moved = tmp_path / "run", tmp_path / "moved"
    process = start_cli(*ENDLESS, f"hydra.run.dir={old}")
    wait_until(lambda: checkpointed_after(old, 2), process)
    old.rename(moved)
    status, _, err = finish(process)
    assert status == 2
    line = one_error_line(err)
    assert line == f"error: run folder {old}: moved to {moved} while the run was writing it; stopped; " + (
        f"hydra.run.dir={moved} resumes it there"
    )
    assert not old.exists()  # no second, partial run at the old path
    assert metrics(moved)["status"] == "interrupted" and f"moved to {moved}" in metrics(moved)["reason"]
    run(compose_spec(*endless.QUICK, budget_past(saved_step(moved))), moved)
    assert metrics(moved)["status"] == "complete"


def test_fifos_under_the_names_of_run_files_are_refused_never_waited_on(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.mkfifo(run_dir / "checkpoint.pt")  # nobody ever writes into these: reading one would wait forever
    with pytest.raises(BenchError, match=r"checkpoint\.pt: not a regular file"):
        run(compose_spec(*QUICK), run_dir)
    (run_dir / "checkpoint.pt").unlink()

    run(compose_spec(*QUICK), run_dir)
    (run_dir / "model.pt").unlink()
    os.mkfifo(run_dir / "model.pt")
    with pytest.raises(BenchError, match=r"model\.pt"):
        load_run(run_dir)
    (run_dir / "metrics.json").unlink()
    os.mkfifo(run_dir / "metrics.json")
    assert read_status(run_dir) is None and effective_status(run_dir) is None
    run(compose_spec(*QUICK), run_dir)  # its status unreadable, the complete run is finished again, same figures
    assert metrics(run_dir)["status"] == "complete"
