"""The save a stop makes, under more signals: a SIGTERM arriving while a checkpoint is written waits for
the write; a repeated SIGTERM during the stop's own save waits too; a second Ctrl-C stops the save at
once and leaves the previous checkpoint whole, with no temporary file and a status that says so.

Real signals, sent by the process to itself at a chosen point of a real atomic write: the handler runs
right there (Python runs a handler between two bytecodes of the main thread), so the timing is exact.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.files import atomic_write_bytes
from bench.training.lifecycle import SIGNALS, Interrupted, outcome_recorded
from bench.training.loop import StopRequested
from bench.training.records import RunRecord

PREVIOUS = b"the checkpoint of the last evaluation"


@pytest.fixture
def command_signals() -> Iterator[None]:
    """The process's signal handling as the command line sets it up, and pytest's own back afterwards."""
    SIGNALS.start()
    try:
        yield
    finally:
        SIGNALS.uninstall()


def interrupted_write(path: Path, signum: int) -> None:
    """Write `path` atomically, receiving `signum` halfway through the write."""

    def write(stream) -> None:
        stream.write(b"new checkpoint, first half; ")
        os.kill(os.getpid(), signum)
        stream.write(b"second half")

    atomic_write_bytes(path, write)


def stop_with_a_save(tmp_path: Path, second: int) -> RunRecord:
    """A run stopped by SIGINT at step 12 whose save receives `second` halfway."""
    record = RunRecord(tmp_path)
    record.history = [{"step": 10, "nll_test": 1.5}]
    with outcome_recorded(record, lambda: interrupted_write(tmp_path / "checkpoint.pt", second)):
        with SIGNALS.deferred():
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: recorded, the loop stops at its next step
            raise StopRequested(SIGNALS.pending(), 12)
    return record


def test_a_second_ctrl_c_during_the_save_leaves_the_previous_checkpoint_whole(
    tmp_path: Path, command_signals: None
) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(PREVIOUS)
    with pytest.raises(Interrupted):
        stop_with_a_save(tmp_path, signal.SIGINT)
    assert (tmp_path / "checkpoint.pt").read_bytes() == PREVIOUS
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.json"]  # no .tmp left
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted"
    assert (
        record["reason"]
        == "interrupted by SIGINT at step 12; a second signal stopped the save, the last checkpoint stays"
    )


def test_a_repeated_sigterm_during_the_save_waits_for_it(tmp_path: Path, command_signals: None) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(PREVIOUS)
    with pytest.raises(StopRequested):
        stop_with_a_save(tmp_path, signal.SIGTERM)
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"new checkpoint, first half; second half"
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["reason"] == "interrupted by SIGINT at step 12; checkpoint saved, run the same command to resume"


def test_sigterm_during_an_evaluations_checkpoint_write_waits_for_the_write(
    tmp_path: Path, command_signals: None
) -> None:
    with SIGNALS.deferred() as signals:  # as in the training loop, where evaluations write their checkpoint
        interrupted_write(tmp_path / "checkpoint.pt", signal.SIGTERM)
        assert signals.pending() == "SIGTERM"  # recorded: the loop stops at its next step and saves again
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"new checkpoint, first half; second half"
