"""A signal while the command line is still importing (Hydra, torch: seconds on a busy machine) ends it
with one line and the shell's status, never a traceback or a silent death.

The signal must land during the imports, whatever the machine's speed: the command is started through
an import hook that stops at `import torch` (as a slow disk or a busy machine would) and says so; the
test signals it then.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, cli_env
from tests.processes import default_signals, finish, one_error_line, wait_until

SLOW_TORCH_IMPORT = """
import importlib.abc, runpy, sys, time
marker = sys.argv.pop(1)

class SlowImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            open(marker, "w").close()  # the command line's imports have reached torch
            while True:
                time.sleep(0.01)
        return None

sys.meta_path.insert(0, SlowImport())
sys.argv[0] = "bench"
runpy.run_module("bench", run_name="__main__", alter_sys=True)
"""


def stopped_at_import(script: str, marker: Path, *overrides: str) -> subprocess.Popen:
    """The command line started through `script`'s import hook, returned once it waits at the import
    (`marker` exists), with default signal dispositions and its output captured."""
    command = [sys.executable, "-c", script, str(marker), *overrides]
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=cli_env(), preexec_fn=default_signals(), **popen)
    wait_until(marker.exists, process)
    return process


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_during_the_start_up_imports_is_one_line_and_128_plus_n(tmp_path: Path, signum: int) -> None:
    process = stopped_at_import(SLOW_TORCH_IMPORT, tmp_path / "importing-torch", "dataset=synthetic_tiny")
    process.send_signal(signum)
    status, out, err = finish(process)
    assert status == 128 + signum
    assert one_error_line(err) == f"interrupted by {signal.Signals(signum).name}"
    assert out == ""


SLOW_RUN_IMPORT = SLOW_TORCH_IMPORT.replace('name == "torch"', 'name == "bench.training.run"')


def test_ctrl_c_after_the_run_folder_exists_but_before_the_run_starts_leaves_no_folder(tmp_path: Path) -> None:
    marker, run_dir = tmp_path / "importing-run", tmp_path / "made" / "here"
    process = stopped_at_import(SLOW_RUN_IMPORT, marker, "dataset=synthetic_tiny", f"hydra.run.dir={run_dir}")
    assert run_dir.is_dir()  # Hydra made it (and its log) before the job imports the training code
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
    assert status == 130 and one_error_line(err) == "interrupted by SIGINT"
    assert not (tmp_path / "made").exists()  # nothing of a run that never started is left behind
