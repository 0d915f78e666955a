"""Where a run's messages go: the console and the run's log file, neither of which may fail the run.

`python -m bench ... 2>&1 | tee log` and Ctrl-C: the terminal signals `tee` too, it dies first and
every later write to the pipe fails ("Broken pipe"). `| head` closes the pipe after a line,
`>/dev/full` fails every write, `>&-` starts the command without a stdout at all, and a full disk
fails the log file. The run's own files (metrics.json, history.csv, checkpoints) are its record;
the console and the log are views of it. So:

- the standard streams are wrapped (`ConsoleStream`): the first failed write marks a stream broken,
  points its file descriptor at /dev/null (so the interpreter's last flush, C libraries and child
  processes write nowhere instead of failing) and drops everything after, silently;
- the console log handler (`ConsoleHandler`, conf/hydra/job_logging) writes to whatever
  `sys.stdout` is at the moment, and drops a record it cannot write;
- the run's log file (`RunLogHandler`) says once on the console that it cannot be written, and the
  run goes on without it (a disk that is really full stops the run at its next checkpoint anyway,
  with one line naming it).

Only the standard library is imported here: `bench/__main__.py` wraps the streams before the heavy
imports.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

STANDARD_FDS = (0, 1, 2)


class ConsoleStream(io.TextIOBase):
    """A text stream that passes writes through until the first one fails, then drops them."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:  # type: ignore[override]
        if not self.broken:
            try:
                self.stream.write(text)
            except (OSError, ValueError):  # EPIPE, ENOSPC, EIO (a hung-up terminal), a closed file
                self._break()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._break()

    def _break(self) -> None:
        """From now on this stream, and its file descriptor for everyone else, writes to /dev/null."""
        self.broken = True
        try:
            descriptor = self.stream.fileno()
        except (OSError, ValueError, io.UnsupportedOperation):
            return  # not backed by a descriptor (or already closed): dropping is enough
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, descriptor)
        finally:
            os.close(null)
        try:
            self.stream.flush()  # what the failed write left in the buffer now goes to /dev/null
        except (OSError, ValueError):
            pass

    # ----- what tqdm, logging and warnings ask of a stream ------------------------------------------
    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return not self.broken and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def open_missing_standard_fds() -> None:
    """A command started with a standard descriptor closed (`>&-`) gets /dev/null there.

    Otherwise the next file the run opens (its lock, a checkpoint) would take descriptor 1 or 2, and
    anything written to "stdout" by a library or a child process would land in it.
    """
    for descriptor in STANDARD_FDS:
        try:
            os.fstat(descriptor)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)


def guard_console() -> tuple[Any, Any]:
    """Wrap `sys.stdout` and `sys.stderr` (idempotent); return the streams found, to restore later."""
    found = (sys.stdout, sys.stderr)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, ConsoleStream):
            continue
        if stream is None:  # started without the descriptor: Python made no stream for it
            stream = open(os.devnull, "w", encoding="utf-8")  # lives as long as the process
        setattr(sys, name, ConsoleStream(stream))
    return found


@contextmanager
def guarded_console() -> Iterator[None]:
    """The standard streams wrapped for as long as a command runs; the streams found are back afterwards
    (the command line may be called in a process that goes on, e.g. a test)."""
    found = guard_console()
    try:
        yield
    finally:
        sys.stdout, sys.stderr = found


class ConsoleHandler(logging.Handler):
    """The console log handler: writes to the current `sys.stdout` (or `sys.stderr`), never raises.

    Resolving the stream at each record, rather than once when logging is configured, means a record
    always goes through the wrapped stream, whichever of Hydra's configurations installed the handler.
    """

    def __init__(self, stream_name: str = "stdout", level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        if stream_name not in ("stdout", "stderr"):
            raise ValueError(f"stream_name={stream_name!r}: must be stdout or stderr")
        self.stream_name = stream_name

    def emit(self, record: logging.LogRecord) -> None:
        stream = getattr(sys, self.stream_name)
        if stream is None:
            return
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # the console is a view of the run: a broken one drops the record
        except Exception:
            self.handleError(record)


class RunLogHandler(logging.FileHandler):
    """The run's log file. A write that fails (a full disk) is said once, on the console, in one line;
    the run goes on and the log stops there (its later records are dropped)."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__(path, encoding="utf-8")
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError) or self.failed:
            super().handleError(record)
            return
        self.failed = True
        reason = os.strerror(error.errno) if error.errno else str(error)
        print(f"warning: cannot write {self.baseFilename} ({reason}); the run goes on without its log", file=sys.stderr)
        try:
            self.close()
        except OSError:
            pass
