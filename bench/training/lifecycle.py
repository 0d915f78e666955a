"""Guards around a run's life: one writer per run directory, signals turned into a clean stop, and
every way a run can end written down as its status.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from bench.errors import BenchError
from bench.training.loop import DivergenceError, StopRequested
from bench.training.records import HYDRA_FILES, LOCK, RunRecord

log = logging.getLogger(__name__)


class Reported(BaseException):
    """Carries a `BenchError` past Hydra, which would log its own message for an Exception (and
    only warn about one raised in a callback); the command line unwraps it into one line."""

    def __init__(self, error: BenchError) -> None:
        super().__init__(str(error))
        self.error = error


class RunDirectoryError(BenchError):
    """The run directory cannot be used safely (in use, unwritable, or holding a symbolic link)."""


def refuse_symlinks(run_dir: Path) -> None:
    """Nothing in a run directory is opened, truncated or replaced through a symbolic link.

    A link planted in a shared results folder (`.lock -> ~/.bashrc`) would otherwise make a re-run
    write into whatever it points at. Checked for every entry of the folder and of `.hydra/`.
    """
    for folder in (run_dir, run_dir / HYDRA_FILES):
        if folder.is_symlink():
            raise RunDirectoryError(f"{folder}: is a symbolic link; refusing to write through it")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink():
                raise RunDirectoryError(f"{entry}: is a symbolic link; refusing to write through it")


class RunLock:
    """An exclusive lock on `run_dir/.lock` for as long as the run writes there.

    Two jobs pointed at the same folder (a repeated command, a sweep launched twice) would interleave
    their files; the second one fails at once, before it writes anything. The lock is an `flock`, so
    the kernel releases it when its holder dies, even by SIGKILL: a crashed run never blocks its own
    resumption. `bench.training.run.run` is its one owner.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir).absolute()
        self.path = self.run_dir / LOCK
        self.handle: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.handle = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise RunDirectoryError(f"{self.path}: is a symbolic link; refusing to write through it") from None
            raise RunDirectoryError(f"output directory {self.run_dir}: cannot write there ({error.strerror})") from None
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.handle)
            raise RunDirectoryError(f"output directory {self.run_dir}: another process is writing this run") from None
        try:
            refuse_symlinks(self.run_dir)
        except BaseException:
            self.__exit__()
            raise
        os.ftruncate(self.handle, 0)
        os.write(self.handle, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM where no checkpoint can be saved (before training, or a second Ctrl-C)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + signal.Signals[signal_name].value

    def __reduce__(self) -> tuple[type, tuple[str]]:  # crosses from a sweep worker to its parent
        return (Interrupted, (self.signal_name,))


class ProcessSignals:
    """SIGINT/SIGTERM handling for the whole process, installed once.

    While `deferring` (inside the training loop, or in a process that waits on sweep workers) the
    first signal is only recorded: the loop stops at the next step boundary and saves. Otherwise, or
    on a second SIGINT, `Interrupted` is raised at once; the command line turns it into one line.
    """

    HANDLED = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.deferring = 0
        self.always_defer = False
        """Set in a process that waits on sweep workers, and in the workers between their jobs."""
        self.owner_pid: int | None = None
        """The process that runs the command (a sweep's worker processes are others)."""
        self.installed = False
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if not self.installed and threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._handle) for signum in self.HANDLED}
            self.installed = True

    def start(self) -> None:
        """A fresh command in this process (the command line may be called more than once in one)."""
        self.received, self.always_defer, self.owner_pid = None, False, os.getpid()
        self.install()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signal.Signals(signum)
        if (self.deferring or self.always_defer) and (first or signum != signal.SIGINT):
            return
        raise Interrupted(signal.Signals(signum).name)

    @property
    def owns_process(self) -> bool:
        return self.owner_pid == os.getpid()

    def pending(self) -> str | None:
        """The name of the signal received so far, if any."""
        return self.received.name if self.received is not None else None

    @contextmanager
    def deferred(self) -> Iterator[ProcessSignals]:
        """Record signals instead of raising them, for a loop that polls `pending()`.

        Called outside the command line (`run()` from Python), the handlers last only as long as this.
        """
        standalone = not self.installed
        if standalone:
            self.received = None
            self.install()
        self.deferring += 1
        try:
            yield self
        finally:
            self.deferring -= 1
            if standalone:
                self.uninstall()

    def uninstall(self) -> None:
        """The command is over: the handlers it found are back (the process may go on, e.g. a test)."""
        if self.installed and threading.current_thread() is threading.main_thread():
            for signum, handler in self.previous.items():
                signal.signal(signum, handler)
            self.installed = False


SIGNALS = ProcessSignals()


class OutputGuard(Callback):
    """Refuses an empty `hydra.run.dir` / `hydra.sweep.dir` (every file would land in the current
    folder) before Hydra creates or writes anything; a sweep's own process then records SIGINT/SIGTERM
    instead of dying (a second Ctrl-C still stops it at once), so the running jobs stop cleanly and
    save, and nothing queued starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _require_folder(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _require_folder(config, "hydra.sweep.dir")
        record = Path(str(OmegaConf.select(config, "hydra.sweep.dir"))) / "multirun.yaml"  # Hydra writes it next
        if record.is_symlink():
            raise Reported(RunDirectoryError(f"{record}: is a symbolic link; refusing to write through it"))
        SIGNALS.always_defer = True  # whatever the launcher: the running jobs save, queued ones never start


def _require_folder(config: DictConfig, key: str) -> None:
    value = OmegaConf.select(config, key, throw_on_missing=False)
    if value is None or not str(value).strip():
        shown = "" if value is None else value
        raise Reported(BenchError(f"{key}={shown!r}: must name a folder (empty, every run file would land here)"))


def describe(error: BaseException) -> str:
    """One line naming the cause of an unexpected error (disk full, out of memory, overflow, ...)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"cannot write {error.filename or 'a file'}: no space left on device"
    if isinstance(error, OSError) and error.strerror:
        return f"cannot write {error.filename or 'a file'}: {error.strerror}"
    if isinstance(error, MemoryError) or "can't allocate memory" in str(error) or "out of memory" in str(error):
        return f"out of memory ({type(error).__name__}); try a smaller eval.n_samples or batch size"
    lines = str(error).strip().splitlines()
    detail = lines[-1].strip() if lines else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _mark(record: RunRecord, status: str, reason: str) -> None:
    """Write the final status; a failure to do so (disk full) must not hide the original error."""
    log.debug("end: %s %s: %s", status, record.run_dir, reason)  # the job log; the console gets one line
    try:
        record.fail(status, reason)
    except OSError as error:
        log.error("could not mark %s %s: %s", record.run_dir, status, describe(error))


@contextmanager
def outcome_recorded(record: RunRecord, save_checkpoint: Callable[[], None]) -> Iterator[None]:
    """Whatever stops a started run, metrics.json ends `interrupted` or `failed` with a reason.

    A signal at a step boundary saves a checkpoint first; divergence keeps the last good one;
    an unexpected error is re-raised as a one-line `BenchError` naming its cause (chained, so
    `HYDRA_FULL_ERROR=1` still shows where it came from).
    """
    try:
        yield
    except StopRequested as stop:
        try:
            save_checkpoint()
        except KeyboardInterrupt:  # a second Ctrl-C while saving: the previous checkpoint stays
            _mark(record, "interrupted", f"{stop}; a second signal stopped the save, the last checkpoint stays")
            raise
        _mark(record, "interrupted", f"{stop}; checkpoint saved, run the same command to resume")
        raise
    except DivergenceError as error:
        kept = f"; last good checkpoint: step {record.history[-1]['step']}" if record.history else ""
        _mark(record, "failed", f"{error}{kept}")
        raise
    except BenchError as error:
        _mark(record, "failed", str(error))
        raise
    except KeyboardInterrupt as interrupt:
        what = interrupt.signal_name if isinstance(interrupt, Interrupted) else "SIGINT"
        _mark(record, "interrupted", f"interrupted by {what} before a checkpoint could be written")
        raise
    except Exception as error:
        reason = describe(error)
        _mark(record, "failed", reason)
        raise BenchError(reason) from error
