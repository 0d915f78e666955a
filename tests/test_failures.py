"""Failure cases: one test per item of the reliability issue, each a bad input or a fault that once
ended in a traceback, a wrong status or a file written where it must not be.

In-process wherever the process boundary is not the point (`run()` raises the same one-line
`BenchError` the command prints); subprocesses for exit statuses, signals and Hydra's own files.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import files
from bench.errors import BenchError
from bench.report import main as report_main
from bench.training.lifecycle import RunLock
from bench.training.records import CHECKPOINT
from bench.training.resume import comparable, first_difference
from bench.training.run import run
from tests.conftest import REPO_ROOT, cli_env, compose_config, compose_spec, run_cli
from tests.run_folders import make_run

# A run of a few seconds: 4^4 = 256 sequences, so the JSD is exact and cheap.
TINY = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=4",
    "eval.every=2",
    "eval.n_samples=50",
    "progress=false",
    "threads=1",
)


def start_cli(*overrides: str, **popen: object) -> subprocess.Popen:
    command = [sys.executable, "-m", "bench", *overrides]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def wait_for(condition, timeout: float = 240, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"the process ended first: {process.returncode} {process.communicate()[1][-2000:]}")
        time.sleep(0.02)
    pytest.fail("timed out")


# Item 2: symbolic links in a run folder are never followed.
def test_item_2_symlinks_in_a_run_folder_are_refused(tmp_path: Path, cli_in_process) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(victim)
    with pytest.raises(BenchError, match=r"\.lock: is a symbolic link; refusing to write through it"):
        run(compose_spec(*TINY), run_dir)
    (run_dir / ".lock").unlink()
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").symlink_to(victim)
    with pytest.raises(BenchError, match=r"\.hydra/config\.yaml: is a symbolic link"):
        run(compose_spec(*TINY), run_dir)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").symlink_to(victim)
    status, _, err = cli_in_process("-m", *TINY, f"hydra.sweep.dir={sweep}")
    assert status == 2
    assert one_error_line(err).endswith("multirun.yaml: is a symbolic link; refusing to write through it")
    assert victim.read_text() == "precious\n"
    assert not (run_dir / "metrics.json").exists()


# Item 3: a refused second writer writes nothing, not even Hydra's files.
def test_item_3_a_refused_second_writer_leaves_the_run_folder_untouched(tmp_path: Path) -> None:
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("the running run's config\n")
    with RunLock(tmp_path):
        result = run_cli(*TINY, run_dir=tmp_path)
    assert result.returncode == 2
    assert one_error_line(result.stderr).endswith("another process is writing this run")
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "the running run's config\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == [".hydra", ".lock", "config.yaml"]


class FullDisk(io.FileIO):
    """A real file whose writes fail with ENOSPC once `limit` bytes are in: a disk that fills up."""

    limit = 4096

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


# Item 4: every unexpected error ends as one line naming its cause and an honest status.
def test_item_4_a_full_disk_is_one_line_naming_the_path_and_the_run_is_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_for_write(handle: int):
        if "checkpoint.pt" in os.readlink(f"/proc/self/fd/{handle}"):
            return FullDisk(handle, "wb")
        return os.fdopen(handle, "wb")

    monkeypatch.setattr(files, "_open_for_write", open_for_write)
    with pytest.raises(BenchError) as raised:
        run(compose_spec(*TINY), tmp_path)
    assert str(raised.value) == f"cannot write {tmp_path / CHECKPOINT}: no space left on device"
    assert metrics(tmp_path)["status"] == "failed"
    assert "no space left on device" in metrics(tmp_path)["reason"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        (["algorithm.lr=1e300"], "overflow"),  # Adam's update overflows float
        (["seed=99999999999999999999"], "overflow"),  # beyond the 64 bits torch seeds with
    ],
)
def test_item_4_overflows_are_one_line_and_never_left_running(tmp_path: Path, overrides: list[str], cause: str) -> None:
    with pytest.raises(BenchError) as raised:
        run(compose_spec(*TINY, *overrides), tmp_path)
    assert cause in str(raised.value).lower() and "\n" not in str(raised.value)
    if (tmp_path / "metrics.json").exists():
        assert metrics(tmp_path)["status"] == "failed" and metrics(tmp_path)["reason"]


def test_item_4_a_checkpoint_with_the_wrong_keys_is_refused(tmp_path: Path) -> None:
    torch.save({"format": 2, "weights": torch.zeros(3)}, tmp_path / CHECKPOINT)
    with pytest.raises(BenchError, match=r"not a cotbench run checkpoint \(missing config, identity"):
        run(compose_spec(*TINY), tmp_path)


def test_item_4_command_line_one_line_exit_2_and_traceback_on_request(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = cli_in_process(*TINY, "algorithm.lr=1e300", f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert one_error_line(err).startswith("error: RuntimeError: value cannot be converted")
    assert metrics(tmp_path)["status"] == "failed"

    from bench.__main__ import cli

    monkeypatch.setattr(sys, "argv", ["cotbench", *TINY, "algorithm.lr=1e300", f"hydra.run.dir={tmp_path / 'full'}"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(BenchError) as raised:  # raised, so Python prints the traceback
        cli()
    assert isinstance(raised.value.__cause__, RuntimeError) and "overflow" in str(raised.value.__cause__)


def seqgan_arrays(vocab: int, hidden: int, fill: float | None = None) -> list[np.ndarray]:
    shapes = [(vocab, hidden)] + [(hidden, hidden), (hidden, hidden), (hidden,)] * 4 + [(hidden, vocab), (vocab,)]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    if fill is not None:
        arrays[7][0, 0] = fill
    return arrays


ORACLE = ("dataset=synthetic", "dataset.vocab_size=6", "dataset.seq_len=4", "dataset.n_train=64", "dataset.n_test=64")
ORACLE_SHAPE = ("dataset.oracle_emb_dim=8", "dataset.oracle_hidden_dim=8")


# Item 5 (the part outside config validation): NaN in an oracle file; NaN in a saved config.
def test_item_5_nan_oracle_refused_and_nan_config_values_compare_equal(tmp_path: Path) -> None:
    oracle = tmp_path / "oracle.pkl"
    oracle.write_bytes(pickle.dumps(seqgan_arrays(6, 8, fill=math.nan)))
    overrides = (*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={oracle}", *TINY[3:])
    with pytest.raises(BenchError, match=r"array 7 holds non-finite values \(NaN or infinity\)"):
        run(compose_spec(*overrides), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()

    saved = comparable(compose_spec(*TINY).resolved)
    saved["model"]["init_std"] = math.nan  # as a checkpoint made with a NaN field records it
    current = json.loads(json.dumps(saved))  # a fresh copy: a distinct NaN object
    assert first_difference(saved, current) is None
    current["model"]["init_std"] = 0.1
    assert first_difference(saved, current) == "model.init_std=0.1 (the checkpoint has nan)"


# Item 8: an empty output folder would scatter run files into the current folder.
@pytest.mark.parametrize("override", ["hydra.run.dir=", "hydra.sweep.dir="])
def test_item_8_an_empty_output_folder_is_refused(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch, override: str
) -> None:
    monkeypatch.chdir(tmp_path)
    multirun = ["-m"] if "sweep" in override else []
    status, _, err = cli_in_process(*multirun, *TINY, override)
    assert status == 2
    message = f"error: {override}'': must name a folder (empty, every run file would land here)"
    assert one_error_line(err) == message
    assert list(tmp_path.iterdir()) == []


# Item 9: a complete run is never touched again, whatever schedule it ended on.
def test_item_9_a_complete_seqgan_run_is_never_reopened(tmp_path: Path) -> None:
    overrides = ("algorithm=seqgan_tiny", *TINY[:3], "train.steps=1000", "eval.every=1000", *TINY[5:])
    first = run(compose_spec(*overrides), tmp_path)
    assert first["step"] < 1000  # SeqGAN ended on its own schedule
    files = ("metrics.json", "history.csv", "samples.txt", "model.pt", CHECKPOINT)
    before = {name: os.stat(tmp_path / name).st_ino for name in files}  # an atomic rewrite changes the inode
    assert run(compose_spec(*overrides), tmp_path) == first
    assert {name: os.stat(tmp_path / name).st_ino for name in files} == before
    assert metrics(tmp_path)["status"] == "complete"


# Item 10: stopping a parallel local sweep stops it: nothing queued starts, no worker survives.
@pytest.mark.slow
def test_item_10_sigterm_to_a_local_sweep_group_stops_every_job_and_worker(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    overrides = [*TINY[:3], "train.steps=100000", "eval.every=20", *TINY[5:]]
    process = start_cli(
        "-m", "seed=0,1,2,3,4,5", *overrides, "hydra/launcher=local", f"hydra.sweep.dir={sweep}", start_new_session=True
    )
    wait_for(lambda: len(list(sweep.rglob(CHECKPOINT))) >= 2, process=process)
    os.killpg(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=240)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].startswith("interrupted by SIGTERM"), err
    started = [metrics(p.parent) for p in sweep.rglob("metrics.json")]
    assert len(started) == 2  # the two jobs that were running; the four queued ones never started
    assert {m["status"] for m in started} == {"interrupted"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)  # anyone left in the sweep's process group?
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("a worker process outlived the sweep")


# Item 11: Ctrl-C is one line and exit 130, however it arrives.
@pytest.mark.slow
def test_item_11_ctrl_c_twice_within_a_millisecond_is_one_line_exit_130(tmp_path: Path) -> None:
    overrides = [*TINY[:3], "train.steps=100000", "eval.every=20", *TINY[5:]]
    process = start_cli(*overrides, f"hydra.run.dir={tmp_path}")
    wait_for(lambda: (tmp_path / CHECKPOINT).exists(), process=process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert one_error_line(err).startswith("interrupted by SIGINT")
    assert metrics(tmp_path)["status"] == "interrupted"


@pytest.mark.slow
def test_item_11_ctrl_c_while_a_text_dataset_is_built_is_one_line_exit_130(tmp_path: Path) -> None:
    words = [f"w{i}" for i in range(3000)]
    rng = np.random.default_rng(0)
    lines = "".join(" ".join(rng.choice(words, size=12)) + " .\n" for _ in range(200_000))
    (tmp_path / "train.txt").write_text(lines)
    (tmp_path / "test.txt").write_text(lines[:10_000])
    run_dir = tmp_path / "run"
    text = [
        "dataset=coco",
        f"dataset.data_dir={tmp_path}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
    ]
    process = start_cli(*text, "train.steps=2", "eval.n_samples=10", "progress=false", f"hydra.run.dir={run_dir}")
    wait_for(lambda: (run_dir / ".lock").exists(), process=process)
    time.sleep(0.5)  # reading and tokenising 200,000 lines takes seconds
    assert process.poll() is None and not (run_dir / "metrics.json").exists()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert one_error_line(err) == "interrupted by SIGINT"


# Item 12: temporary files left by a write that SIGKILL interrupted are removed on the next start.
def test_item_12_stale_temporary_files_are_removed_on_the_next_start(tmp_path: Path) -> None:
    stale = [tmp_path / ".checkpoint.pt.k3j2_x.tmp", tmp_path / ".metrics.json.a8b9c0.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    run(compose_spec(*TINY), tmp_path)
    assert not any(path.exists() for path in stale)
    assert not list(tmp_path.glob(".*.tmp"))


# Item 14: a protocol-2 pickle of plain numpy arrays is admitted; one that calls anything else is not.
def test_item_14_protocol_2_oracle_pickle_is_admitted_and_nothing_runs(tmp_path: Path) -> None:
    from bench.config.build import build

    arrays = seqgan_arrays(6, 8)
    oracle = tmp_path / "oracle_p2.pkl"
    oracle.write_bytes(pickle.dumps(arrays, protocol=2))
    assert b"_codecs" in oracle.read_bytes()
    dataset = build(compose_config(*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={oracle}").dataset, "dataset")
    assert torch.equal(dataset.oracle.embedding.weight, torch.from_numpy(arrays[0]))

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    hostile = tmp_path / "hostile_p2.pkl"
    hostile.write_bytes(pickle.dumps([*arrays[:14], Payload()], protocol=2))
    with pytest.raises(BenchError, match="refusing to load global"):
        build(compose_config(*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={hostile}").dataset, "dataset")
    assert not marker.exists()


# Item 15: README says what is guaranteed when things go wrong.
def test_item_15_readme_lists_the_guarantees() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## When things go wrong", 1)[1].split("\n## ", 1)[0]
    for promise in (
        "symbolic link",
        "no space left",
        "exit status 2",
        "130",
        "never touched again",
        "emporary files left",
        "no worker",
        "HYDRA_FULL_ERROR=1",
    ):
        assert promise in section, promise


# ----- issue 16 items 1 and 13: reading a results folder, and the report's own failures -----------
PLUGIN = 'from pathlib import Path\nPath(__file__).with_name("MARKER").write_text("ran")\ndef build(c):\n    return c\n'


def _report_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert report_main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.strip()


@pytest.mark.parametrize(
    "target", ["cotbench_plugin.build", "this.s", "os.system", "bench", "bench.cli.os.system", "algorithms.mle.os"]
)
def test_a_foreign_target_in_a_saved_config_is_refused_before_any_import(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    sweep = tmp_path / "downloaded"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0}, config={"dataset._target_": target})
    (sweep / "cotbench_plugin.py").write_text(PLUGIN)
    monkeypatch.chdir(sweep)  # as `python -m bench.report .` from inside the folder: it is on sys.path
    monkeypatch.syspath_prepend(str(sweep))
    before = set(sys.modules)
    err = _report_error(capsys, ".", "--out", str(tmp_path / "out"))
    assert f"dataset._target_={target} is not a target the suite ships; refusing to import it" in err
    assert not (sweep / "MARKER").exists()
    assert not {"cotbench_plugin", "this"} & (set(sys.modules) - before)
    assert not (tmp_path / "out").exists()


def test_a_target_the_user_trusts_is_admitted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, config={"algorithm._target_": "myalgos.Thing"})
    trusted = ["--allow-target", "myalgos.Thing"]
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out"), *trusted]) == 0
    err = _report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out2"), "--allow-target", "myalgos")
    assert "algorithm._target_=myalgos.Thing is not a target the suite ships" in err  # exact names, not prefixes


@pytest.mark.parametrize("missing", ["history.csv", "config.yaml"])
def test_a_complete_run_missing_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, missing: str) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    (run_dir / missing).unlink()
    err = _report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err == f"error: {run_dir}: complete run without {missing} (restore it or move the run away)"


def test_an_unreadable_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    (run_dir / "config.yaml").write_text("dataset: [unclosed\n")
    err = _report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: {run_dir / 'config.yaml'}: unreadable (")


def test_an_unknown_device_and_an_unwritable_out_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    err = _report_error(capsys, str(tmp_path / "s"), "--device", "tpu")
    assert err == "error: --device=tpu: must be auto, cpu, cuda or cuda:N"
    (tmp_path / "file").write_text("a file, not a folder")
    err = _report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "file" / "reports"))
    assert err.startswith(f"error: --out: cannot write {tmp_path / 'file' / 'reports'}: ")


def test_an_unreadable_model_skips_that_run_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "s"
    for seed in (0, 1):
        cfg = compose_spec(
            "algorithm=mle",
            f"seed={seed}",
            "dataset=synthetic_tiny",
            "train.steps=10",
            "eval.every=10",
            "eval.n_samples=100",
            "progress=false",
            "threads=1",
        )
        run(cfg, sweep / f"seed{seed}")
    (sweep / "seed1" / "model.pt").write_bytes(b"garbage")
    args = ["--out", str(tmp_path / "out"), "--temperatures", "1", "--temperature-samples", "50", "--threads", "1"]
    assert report_main([str(sweep), *args]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    left_out = readme.split("## Runs left out")[1]
    assert f"`{sweep / 'seed1'}`: model.pt unreadable, left out of the temperature curves" in left_out
    assert "this suite (n = 2)" in readme  # its final figures still count
    temperature = (tmp_path / "out" / "temperature.csv").read_text().splitlines()
    # header comment, columns, seed 0 only: its best nll_valid is its last evaluation, so its final
    # model gives both selections' rows
    assert len(temperature) == 1 + 1 + 2


def test_a_report_failing_halfway_leaves_the_previous_report_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    out = tmp_path / "out"
    assert report_main([str(tmp_path / "s"), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = make_run(tmp_path / "s", "cot", 0, {"nll_oracle": 2.0})
    (broken / "history.csv").write_text("step\n")  # found only while the tables are being written
    err = _report_error(capsys, str(tmp_path / "s"), "--out", str(out))
    assert err == f"error: {broken / 'history.csv'}: has no evaluation rows with a step column"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s"]  # no staging folder left behind
