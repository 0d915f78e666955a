"""Guards around a run's life: one writer per run directory, and signals turned into a clean stop."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from bench.errors import BenchError


class RunLock:
    """An exclusive lock on `run_dir/.lock` for as long as the run writes there.

    Two jobs pointed at the same folder (a repeated command, a sweep launched twice) would interleave
    their files; the second one fails at once instead. The lock is an `flock`, so the kernel releases
    it when its holder dies, even by SIGKILL: a crashed run never blocks its own resumption.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self.handle: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise BenchError(f"output directory {self.path.parent}: cannot write there ({error.strerror})") from None
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.handle)
            raise BenchError(f"output directory {self.path.parent}: another process is writing this run") from None
        os.ftruncate(self.handle, 0)
        os.write(self.handle, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None


class StopSignals:
    """Record SIGINT/SIGTERM instead of dying, so the loop can stop at a step boundary and save.

    A second SIGINT raises KeyboardInterrupt at once (the user insists). Outside the main thread
    (where Python cannot install handlers) nothing is changed.
    """

    HANDLED = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.previous: dict[signal.Signals, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum)

    def pending(self) -> str | None:
        """The name of the signal received so far, if any."""
        return self.received.name if self.received is not None else None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.received) if self.received is not None else 1

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.HANDLED:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
