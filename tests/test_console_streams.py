"""A broken console never fails a run: `| tee log` whose tee dies first at Ctrl-C, `| head`, `>/dev/full`,
stdout and stderr closed, with the progress bar on or off. The run goes on, its log file goes on, the
console output is dropped once its stream is broken, and a signal still saves a checkpoint at the
current step with status `interrupted`. Real processes and real pipes throughout.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from bench.training.console import RunLogHandler
from tests.conftest import REPO_ROOT, cli_env
from tests.endless import ENDLESS, QUICK, checkpointed_after, evaluations_written, metrics, saved_step
from tests.processes import cli_command, default_signals, start_cli, wait_until

SHORT = (*QUICK, "train.steps=40")
"""A run of a fraction of a second that writes to the console all along when its bar is on."""


def with_progress(overrides: tuple[str, ...], progress: str) -> tuple[str, ...]:
    return (*(o for o in overrides if not o.startswith("progress=")), f"progress={progress}")


def the_end_is_logged(run_dir: Path, status: str) -> bool:
    """The run's own log file (not the console) says how it ended."""
    return f"{status} {run_dir}" in (run_dir / "cotbench.log").read_text()


@pytest.mark.skipif(shutil.which("tee") is None, reason="needs tee")
@pytest.mark.parametrize("progress", ["true", "false"])
def test_ctrl_c_behind_tee_that_died_first_saves_at_the_current_step(tmp_path: Path, progress: str) -> None:
    run_dir = tmp_path / "run"
    tee = subprocess.Popen(
        ["tee", str(tmp_path / "console.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        preexec_fn=default_signals(),  # Ctrl-C must kill it even where the tests' runner ignores SIGINT
    )
    command = cli_command(*with_progress(ENDLESS, progress), f"hydra.run.dir={run_dir}")
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_env(), preexec_fn=default_signals(), stdout=tee.stdin, stderr=subprocess.STDOUT
    )
    tee.stdin.close()  # the run holds the pipe's only writing end
    wait_until(lambda: checkpointed_after(run_dir, 2), process)
    tee.send_signal(signal.SIGINT)  # Ctrl-C reaches tee first, and it dies at once
    tee.wait()
    written = evaluations_written(run_dir)
    wait_until(lambda: evaluations_written(run_dir) >= written + 2, process)  # training on, into a dead pipe
    process.send_signal(signal.SIGINT)
    assert process.wait() == 130
    record = metrics(run_dir)
    step = saved_step(run_dir)
    assert record["status"] == "interrupted"
    assert record["reason"] == f"interrupted by SIGINT at step {step}; checkpoint saved, run the same command to resume"
    assert step >= record["final"]["step"]  # the step it reached, not only its last evaluation
    assert the_end_is_logged(run_dir, "interrupted")


@pytest.mark.parametrize("progress", ["true", "false"])
def test_a_full_stdout_and_stderr_never_fail_a_run(tmp_path: Path, progress: str) -> None:
    with open("/dev/full", "w") as full:
        process = start_cli(*with_progress(SHORT, progress), f"hydra.run.dir={tmp_path}", stdout=full, stderr=full)
        assert process.wait() == 0
    assert metrics(tmp_path)["status"] == "complete"
    assert the_end_is_logged(tmp_path, "complete")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("progress", ["true", "false"])
def test_a_run_started_without_stdout_and_stderr_gets_dev_null_there(tmp_path: Path, progress: str) -> None:
    close_both = lambda: (os.close(1), os.close(2))  # noqa: E731  `>&- 2>&-`
    process = start_cli(*with_progress(ENDLESS, progress), f"hydra.run.dir={tmp_path}", preexec_fn=close_both)
    wait_until(lambda: checkpointed_after(tmp_path, 2), process)
    # no file of the run took descriptor 1 or 2 (whatever a library prints there would land in it)
    assert [os.readlink(f"/proc/{process.pid}/fd/{fd}") for fd in (1, 2)] == [os.devnull, os.devnull]
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 128 + signal.SIGTERM
    assert metrics(tmp_path)["status"] == "interrupted"


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head")
@pytest.mark.parametrize("progress", ["true", "false"])
def test_a_pipe_closed_after_one_line_never_fails_a_run(tmp_path: Path, progress: str) -> None:
    head = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    command = cli_command(*with_progress(SHORT, progress), f"hydra.run.dir={tmp_path}")
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_env(), preexec_fn=default_signals(), stdout=head.stdin, stderr=subprocess.STDOUT
    )
    head.stdin.close()
    first_line = head.stdout.read()  # head prints one line and exits, closing the pipe
    head.wait()
    assert process.wait() == 0
    assert first_line.count(b"\n") == 1
    assert metrics(tmp_path)["status"] == "complete"
    assert the_end_is_logged(tmp_path, "complete")


def test_a_log_file_on_a_full_disk_says_so_once_and_the_run_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    handler = RunLogHandler("/dev/full")  # every write fails with ENOSPC, as on a full disk
    logger = logging.getLogger("tests.full_disk_log")
    logger.addHandler(handler)
    try:
        for step in range(3):
            logger.warning("step %d", step)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err = capsys.readouterr().err
    assert err == "warning: cannot write /dev/full (No space left on device); the run goes on without its log\n"
