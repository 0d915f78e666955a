"""`python -m bench` as a separate process, for what only a process shows: exit statuses and signals.

Nothing here waits on a clock: a test waits until what it needs has happened in the process, or
until the process has ended (then it fails with the process's stderr), however busy the machine.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, cli_env

POLL_S = 0.02
"""How often a waiting test looks again (a pause between looks, not a limit)."""


def cli_command(*overrides: str) -> list[str]:
    """The argument list of `python -m bench OVERRIDES` (run it with `cwd=REPO_ROOT, env=cli_env()`)."""
    return [sys.executable, "-m", "bench", *overrides]


def default_signals(then: Callable[[], object] | None = None) -> Callable[[], None]:
    """A `preexec_fn` giving the child the signal dispositions of a command typed at a terminal, then
    running `then`: the tests' runner may ignore some (under `nohup` SIGHUP, in a background job of a
    script SIGINT), and a child inherits ignored signals."""

    def reset() -> None:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        if then is not None:
            then()

    return reset


def start_cli(*overrides: str, **popen: object) -> subprocess.Popen:
    """`python -m bench OVERRIDES` started in the background with default signal dispositions (then
    `popen`'s own `preexec_fn`), its output captured as text (unless `popen` says where it goes)."""
    preexec = default_signals(popen.pop("preexec_fn", None))  # type: ignore[arg-type]
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen(cli_command(*overrides), cwd=REPO_ROOT, env=cli_env(), preexec_fn=preexec, **popen)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen) -> None:
    """Return once `condition()` holds; fail with the process's stderr if it ends first."""
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the process ended (status {process.returncode}) before the test could act: {err[-2000:]}")
        time.sleep(POLL_S)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    """Wait for the process to end: exit status, stdout, stderr."""
    out, err = process.communicate()
    return process.returncode, out, err


def one_error_line(stderr: str) -> str:
    """The single line a failing command prints (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def live_members(group: int) -> list[int]:
    """Processes of process group `group` that have not exited (a zombie has: it only awaits reaping)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _, process_group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # it ended while being read
        if int(process_group) == group and state != "Z":
            alive.append(int(entry.name))
    return alive
