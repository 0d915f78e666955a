"""Guards around a run's life: signals turned into a clean stop, and every way a run can end written
down as its status. The one-writer lock lives in `bench.training.run_lock`.
"""

from __future__ import annotations

import errno
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
from bench.training.records import RunRecord
from bench.training.run_lock import RunDirectoryError, RunFolderMoved, RunLock, refuse_symlinks, symlink_refusal

__all__ = ["SIGNALS", "Interrupted", "Reported", "RunDirectoryError", "RunLock", "outcome_recorded", "refuse_symlinks"]

log = logging.getLogger(__name__)


class Reported(BaseException):
    """Carries a `BenchError` past Hydra, which would log its own message for an Exception (and
    only warn about one raised in a callback); the command line unwraps it into one line."""

    def __init__(self, error: BenchError) -> None:
        super().__init__(str(error))
        self.error = error


class Interrupted(KeyboardInterrupt):
    """A signal where no checkpoint can be saved (before training, or a second Ctrl-C)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + signal.Signals[signal_name].value

    def __reduce__(self) -> tuple[type, tuple[str]]:  # crosses from a sweep worker to its parent
        return (Interrupted, (self.signal_name,))


class ProcessSignals:
    """SIGINT, SIGTERM and SIGHUP handling for the whole process, installed once.

    While `deferring` (inside the training loop, or in a process that waits on sweep workers) the
    first signal is only recorded: the loop stops at the next step boundary and saves. Otherwise, or
    on a second SIGINT, `Interrupted` is raised at once; the command line turns it into one line.
    SIGHUP (the terminal was closed) is a stop like SIGTERM, unless the command was started with it
    ignored (`nohup`): then it stays ignored and the run goes on.
    """

    HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.deferring = 0
        self.always_defer = False
        """Set in a process that waits on sweep workers, and in the workers between their jobs."""
        self.owner_pid: int | None = None
        """The process that runs the command (a sweep's worker processes are others)."""
        self.on_first: Callable[[signal.Signals], None] | None = None
        """Called with the first signal (a local sweep's process passes it on to its workers)."""
        self.stop_notice: Path | None = None
        """A file whose appearance counts as a signal (a local sweep worker: written by its parent)."""
        self.installed = False
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if not self.installed and threading.current_thread() is threading.main_thread():
            self.previous = {}
            for signum in self.HANDLED:
                if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
                    continue  # nohup: the user asked the run to outlive its terminal
                self.previous[signum] = signal.signal(signum, self._handle)
            self.installed = True

    def start(self) -> None:
        """A fresh command in this process (the command line may be called more than once in one)."""
        self.received, self.always_defer, self.owner_pid = None, False, os.getpid()
        self.on_first, self.stop_notice = None, None
        self.install()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signal.Signals(signum)
            if self.on_first is not None:
                self.on_first(self.received)
        if (self.deferring or self.always_defer) and (first or signum != signal.SIGINT):
            return
        raise Interrupted(signal.Signals(signum).name)

    @property
    def owns_process(self) -> bool:
        return self.owner_pid == os.getpid()

    def pending(self) -> str | None:
        """The name of the signal received so far, if any (a stop notice counts as one)."""
        if self.received is None and self.stop_notice is not None and self.stop_notice.is_file():
            self.received = read_stop_notice(self.stop_notice)
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

    @contextmanager
    def holding(self) -> Iterator[None]:
        """While the stop's checkpoint is written: signals are recorded as while deferring (a second
        Ctrl-C still stops at once, leaving the previous checkpoint whole)."""
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1

    def uninstall(self) -> None:
        """The command is over: the handlers it found are back (the process may go on, e.g. a test)."""
        if self.installed and threading.current_thread() is threading.main_thread():
            for signum, handler in self.previous.items():
                if handler is not None:  # None: a handler not set from Python, which cannot be put back
                    signal.signal(signum, handler)
            self.installed = False


def read_stop_notice(path: Path) -> signal.Signals:
    """The signal a stop notice names (SIGTERM when it cannot be read: it exists, so the stop stands)."""
    try:
        name = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        name = ""
    return signal.Signals[name] if name in signal.Signals.__members__ else signal.SIGTERM


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
            raise Reported(symlink_refusal(record))
        from bench.training.sweep_control import begin_sweep  # it imports this module

        begin_sweep(config)  # whatever the launcher: the running jobs save, queued ones never start


def _require_folder(config: DictConfig, key: str) -> None:
    value = OmegaConf.select(config, key, throw_on_missing=False)
    if value is None or not str(value).strip():
        shown = "" if value is None else value
        raise Reported(BenchError(f"{key}={shown!r}: must name a folder (empty, every run file would land here)"))


WRITE_ERRORS = (errno.EROFS, errno.EDQUOT, errno.EFBIG)
"""Errors only a write can meet; any other OSError is named by its file and the system's words alone."""


def describe(error: BaseException) -> str:
    """One line naming the cause of an unexpected error (disk full, out of memory, overflow, ...)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"cannot write {error.filename or 'a file'}: no space left on device"
    if isinstance(error, OSError) and error.errno in WRITE_ERRORS:
        return f"cannot write {error.filename or 'a file'}: {error.strerror}"
    if isinstance(error, OSError) and error.strerror:  # a read or a write: the error alone does not say which
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
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
def outcome_recorded(
    record: RunRecord, save_checkpoint: Callable[[], None], in_place: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Whatever stops a started run, metrics.json ends `interrupted` or `failed` with a reason.

    A signal at a step boundary saves a checkpoint first; divergence keeps the last good one;
    an unexpected error is re-raised as a one-line `BenchError` naming its cause (chained, so
    `HYDRA_FULL_ERROR=1` still shows where it came from). `in_place()` raises `RunFolderMoved` when
    the run folder is gone from where the run writes: then nothing more is written at the old path
    (the status goes into the folder where it is now, when that is known).
    """
    try:
        yield
    except StopRequested as stop:
        try:
            with SIGNALS.holding():  # a repeated SIGTERM waits for the save; a second Ctrl-C still stops it
                in_place()
                save_checkpoint()
        except KeyboardInterrupt:  # a second Ctrl-C while saving: the previous checkpoint stays
            _mark(record, "interrupted", f"{stop}; a second signal stopped the save, the last checkpoint stays")
            raise
        except RunFolderMoved as moved:
            _mark_moved(record, moved, f"{stop}; {moved}")
            raise moved from stop
        _mark(record, "interrupted", f"{stop}; checkpoint saved, run the same command to resume")
        raise
    except BaseException as error:
        moved = error if isinstance(error, RunFolderMoved) else _folder_moved(in_place)
        if moved is not None:  # whatever failed (a write into the vanished folder): the move is the cause
            _mark_moved(record, moved, str(moved))
            if moved is error:
                raise
            raise moved from error
        replacement = _mark_end(record, error)
        if replacement is None:
            raise
        raise replacement from error


def _folder_moved(in_place: Callable[[], None]) -> RunFolderMoved | None:
    try:
        in_place()
    except RunFolderMoved as moved:
        return moved
    return None


def _mark_end(record: RunRecord, error: BaseException) -> BenchError | None:
    """Mark how `error` ended the run; return the one-line error to raise instead of it, if any."""
    if isinstance(error, DivergenceError):
        kept = f"; last good checkpoint: step {record.history[-1]['step']}" if record.history else ""
        _mark(record, "failed", f"{error}{kept}")
    elif isinstance(error, BenchError):
        _mark(record, "failed", str(error))
    elif isinstance(error, KeyboardInterrupt):
        what = error.signal_name if isinstance(error, Interrupted) else "SIGINT"
        _mark(record, "interrupted", f"interrupted by {what} before a checkpoint could be written")
    elif isinstance(error, Exception):
        reason = describe(error)
        _mark(record, "failed", reason)
        return BenchError(reason)
    return None


def _mark_moved(record: RunRecord, moved: RunFolderMoved, reason: str) -> None:
    """The status of a run whose folder moved goes where the folder is now, never to the old path."""
    if moved.moved_to is not None:
        record.run_dir = moved.moved_to
        _mark(record, "interrupted", f"{reason} (its last checkpoint stays)")
