"""Faults during a run (a full disk, an overflow, a diverging model) end as one line naming the cause,
with the run marked `failed` and its last good state kept; the full traceback only on request."""

from __future__ import annotations

import errno
import io
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from algorithms.mle import MLE
from bench import files
from bench.errors import BenchError
from bench.training import checkpoint
from bench.training.records import CHECKPOINT
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


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


class FullDisk(io.FileIO):
    """A real file whose writes fail with ENOSPC once `limit` bytes are in: a disk that fills up."""

    limit = 4096

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


def test_a_full_disk_is_one_line_naming_the_path_and_the_run_is_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_for_write(handle: int):
        if "checkpoint.pt" in os.readlink(f"/proc/self/fd/{handle}"):
            return FullDisk(handle, "wb")
        return os.fdopen(handle, "wb")

    monkeypatch.setattr(files, "_open_for_write", open_for_write)
    with pytest.raises(BenchError) as raised:
        run(compose_spec(*QUICK), tmp_path)
    assert str(raised.value) == f"cannot write {tmp_path / CHECKPOINT}: no space left on device"
    assert metrics(tmp_path)["status"] == "failed"
    assert "no space left on device" in metrics(tmp_path)["reason"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # beyond float32: Adam's update would overflow; the value is named before any work
        (
            ["algorithm.lr=1e300"],
            "algorithm.lr=1e+300: must be at most 3.403e+38 in magnitude (torch computes in float32)",
        ),
        # beyond the 64 bits torch seeds with
        (["seed=99999999999999999999"], "seed=99999999999999999999: must be between 0 and 18446744073709551615"),
        (["seed=-1"], "seed=-1: must be between 0 and 18446744073709551615"),
        # an integer no tensor can be sized by (it was `TypeError: "`)
        (["eval.n_samples=" + "1" + "0" * 29], "eval.n_samples=1" + "0" * 29 + ": must be at most 9223372036854775807"),
        (["eval.n_samples=1000000000"], "eval.n_samples=1000000000: must be at most 100,000,000 (per evaluation)"),
        (["train.steps=" + "9" * 25], "train.steps=" + "9" * 25 + ": must be at most 9223372036854775807"),
        # a temperature that turns every logit into infinity (it was "training diverged" at step 0)
        (["eval.temperature=1e-300"], "eval.temperature=1e-300: must be between 0.0001 and 10000"),
        (["eval.temperature=1e300"], "eval.temperature=1e+300: must be at most 3.403e+38"),
    ],
)
def test_values_beyond_what_a_computation_can_hold_are_named_before_any_work(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(BenchError) as raised:
        run(compose_spec(*QUICK, *overrides), tmp_path)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert not tmp_path.joinpath("metrics.json").exists() and not tmp_path.joinpath(".lock").exists()


def test_an_unexpected_error_on_the_command_line_is_one_line_exit_2_and_its_traceback_on_request(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1e38 fits float32, but Adam's first step divides it by 1 - beta1: an overflow inside torch
    status, _, err = cli_in_process(*QUICK, "algorithm.lr=1e38", f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert one_error_line(err).startswith("error: RuntimeError: value cannot be converted")
    assert metrics(tmp_path)["status"] == "failed"

    from bench.__main__ import cli

    monkeypatch.setattr(sys, "argv", ["cotbench", *QUICK, "algorithm.lr=1e38", f"hydra.run.dir={tmp_path / 'full'}"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(BenchError) as raised:  # raised, so Python prints the traceback
        cli()
    assert isinstance(raised.value.__cause__, RuntimeError) and "overflow" in str(raised.value.__cause__)


class BlowsUpAtStep25(MLE):
    """MLE whose weights turn NaN after step 25, as a diverging learning rate would leave them."""

    steps_done = 0

    def step(self) -> dict[str, float]:
        losses = super().step()
        self.steps_done += 1
        if self.steps_done == 25:
            with torch.no_grad():
                self.generator.out.weight[0, 0] = float("nan")
        return losses


def test_divergence_stops_with_one_line_keeps_the_last_good_checkpoint_and_marks_failed(tmp_path: Path) -> None:
    spec = compose_spec(*QUICK, "train.steps=60", "eval.every=20", f"algorithm._target_={__name__}.BlowsUpAtStep25")
    with pytest.raises(BenchError, match=r"^step 26: g_loss is nan \(training diverged\)$"):
        run(spec, tmp_path)
    record = metrics(tmp_path)
    assert record["status"] == "failed"
    assert record["reason"] == "step 26: g_loss is nan (training diverged); last good checkpoint: step 20"
    saved = checkpoint.load(tmp_path / CHECKPOINT)
    assert saved["loop"]["step"] == 20
    assert all(torch.isfinite(v).all() for v in saved["algorithm"]["generator"].values())


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/data/train.txt"), "/data/train.txt: Permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/data/oracle.pkl"), "/data/oracle.pkl: Is a directory"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError(errno.EROFS, "Read-only file system", "/out/run"), "cannot write /out/run: Read-only file system"),
    ],
)
def test_an_os_error_is_named_by_its_file_and_called_a_write_failure_only_when_it_is_one(
    error: OSError, line: str
) -> None:
    from bench.training.lifecycle import describe

    assert describe(error) == line  # a failed read is never "cannot write a file"
