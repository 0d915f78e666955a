"""`python -m bench [overrides]` and the `cotbench` command: see `bench.cli`.

Importing the command line (Hydra, torch) takes a second or more, several on a busy machine. Before
that starts, Ctrl-C, SIGTERM and SIGHUP already end the command with one line and the shell's status
(130, 143, 129) instead of a traceback or a silent death, and the console streams can no longer fail
it (`bench.training.console`). Nothing has been written yet at that point, so ending at once is
safe; once the command line runs, `bench.training.lifecycle.SIGNALS` takes over.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

from bench.training.console import guarded_console, open_missing_standard_fds  # the standard library only

STARTUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupted_while_starting(signum: int, frame: FrameType | None) -> None:
    try:
        os.write(2, f"interrupted by {signal.Signals(signum).name}\n".encode())
    except OSError:
        pass  # no console to tell: the status still says it
    os._exit(128 + signum)


def _catch_startup_signals() -> dict[int, object]:
    """One line and 128 + N for a signal during the imports; SIGHUP left alone where it is ignored (nohup)."""
    caught = {}
    for signum in STARTUP_SIGNALS:
        if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
            continue
        caught[signum] = signal.signal(signum, _interrupted_while_starting)
    return caught


def cli() -> None:
    """The `cotbench` entry point."""
    open_missing_standard_fds()
    previous = _catch_startup_signals()
    try:
        with guarded_console():
            from bench.cli import cli as run_command  # the heavy imports

            run_command()
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signum, handler)


if __name__ == "__main__":
    cli()
