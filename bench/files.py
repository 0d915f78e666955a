"""Writing files safely: every run, report and data file is replaced atomically, never half-written.

One home for the helpers every writer uses: the process umask, an atomic replace through a unique
temporary file (fsynced, renamed over the target, symbolic links refused), and the clean-up of the
temporary files a SIGKILL can leave behind.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_for_write(handle: int) -> BinaryIO:
    """The stream every run file is written through (one place, so a full disk can be simulated)."""
    return os.fdopen(handle, "wb")


class _Recording(io.RawIOBase):
    """Passes writes through and keeps the first OSError: torch.save reports a failed write
    (a full disk) only as "unexpected pos", so the real cause is recovered from here."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.stream = stream
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return self.stream.write(data)
        except OSError as error:
            self.error = self.error or error
            raise


def atomic_write_bytes(path: Path, write: Callable[[BinaryIO], None], parents: bool = True) -> None:
    """Let `write` fill a unique temporary file beside `path`, then rename it over `path`.

    Readers see the old file or the new one, never half of one; parallel writers never share a
    temporary name. The file gets the usual permissions (mkstemp's are owner-only). A symbolic link
    at `path` is refused rather than replaced; a failed write is raised as the OSError that caused
    it, naming `path` (e.g. "No space left on device"). `parents=False`: a missing folder is an error
    (FileNotFoundError), not created: a run's files go into its folder or nowhere, so a run folder
    moved away while the run writes is never recreated, half-filled, at its old path.
    """
    if path.is_symlink():
        raise OSError(errno.ELOOP, "is a symbolic link; refusing to replace it", str(path))
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    recording: _Recording | None = None
    try:
        with _open_for_write(handle) as stream:
            recording = _Recording(stream)
            write(recording)  # type: ignore[arg-type]
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~umask())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        cause = recording.error if recording is not None and recording.error is not None else error
        if isinstance(cause, OSError) and cause.errno is not None and cause.filename is None:
            raise OSError(cause.errno, cause.strerror, str(path)) from error
        raise


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete temporary files left by writes that a SIGKILL interrupted (`.NAME.*.tmp`).

    Only called with the run's lock held, so no live writer owns them.
    """
    stale = [p for p in Path(run_dir).glob(".*.tmp") if p.is_file() and not p.is_symlink()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_write_text(path: Path, text: str, parents: bool = True) -> None:
    """Replace `path` by `text` (UTF-8) atomically (`parents`: as `atomic_write_bytes`)."""
    atomic_write_bytes(path, lambda stream: stream.write(text.encode("utf-8")), parents)


class RefusedFile(OSError):
    """A file refused for reading: a FIFO, device, socket, folder or link where a regular file was expected, or
    one larger than its reader allows."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, only if it is a regular file: never through a symbolic link, and
    without blocking, so a FIFO planted under a run file's name is refused at once instead of hanging
    the reader forever (`RefusedFile`)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise RefusedFile(errno.ELOOP, "is a symbolic link; refusing to read through it", str(path)) from None
        raise
    kind = stat.S_IFMT(os.fstat(descriptor).st_mode)
    if kind != stat.S_IFREG:
        os.close(descriptor)
        what = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket"}.get(kind, "a device")
        raise RefusedFile(errno.EINVAL, f"is {what}, not a regular file; refusing to read it", str(path))
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_regular_bytes(path: Path, limit: int) -> bytes:
    """The content of the regular file `path` (`open_regular`), refused when larger than `limit` bytes."""
    with open_regular(path) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise RefusedFile(errno.EFBIG, f"is larger than {limit:,} bytes; refusing to read it", str(path))
    return data
