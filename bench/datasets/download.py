"""Downloading one published file safely: bounded in size and time, verified, atomic, nothing left behind.

The body streams into a temporary file beside the target (`.NAME.XXXX.part`), which is renamed into
place only once its checksum matches; a mismatch, an error or an interruption removes it. Limits:
no more bytes than the file's known size (or, for a file known only by its git blob id, its
`max_size`), refused up front when the server announces more; an overall `deadline`, checked
between reads (each read waits at most `timeout` seconds), so a server that dribbles bytes cannot
hold a download forever; a Content-Length that is not a number is ignored, not a crash. SIGTERM
(and SIGHUP) during a download raise `FetchInterrupted`, so the temporary file is removed as on
Ctrl-C; a SIGKILL can still leave one, which the next fetch of that file removes once it is older
than the deadline.

Why not `pooch`: its HTTP downloader (pooch 1.8, `pooch/downloaders.py`) needs `requests` (installed
here neither), parses Content-Length with a bare `int()` (the crash fixed here), has no size cap,
and only a per-read timeout; its temporary file is removed in a `finally`, which SIGTERM's default
action skips. Every limit above would be our own downloader inside it, and it has no git blob check.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from bench.errors import BenchError
from bench.files import umask

DEFAULT_DEADLINE = 1800.0
"""Seconds a whole file may take (the largest, EMNLP News' full training file, is tens of megabytes)."""
DEFAULT_TIMEOUT = 60.0
"""Seconds one read may wait for the server."""


class FetchError(BenchError):
    """A download failed, broke a limit, or its checksum did not match (nothing is kept)."""


class FetchInterrupted(FetchError):
    """SIGTERM or SIGHUP arrived during a download: the partial file was removed."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}; no partial file kept")
        self.exit_code = 128 + signal.Signals[signal_name].value


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its local name, where it lives under the base URL, and how it is verified."""

    name: str
    source: str
    """<owner>/<repo>/<commit>/<path>."""
    sha256: str | None
    size: int | None
    """Bytes; None when only the git blob id is known (then `max_size` bounds the download)."""
    git_blob: str | None = None
    """git's blob id: sha1 of b"blob <size>\\0" + the content (what a repository's tree records)."""
    max_size: int | None = None

    def __post_init__(self) -> None:
        if self.sha256 is None and self.git_blob is None:
            raise ValueError(f"{self.name}: needs a sha256 or a git blob id to be verified")
        if self.size is None and self.max_size is None:
            raise ValueError(f"{self.name}: needs its size or a max_size to bound the download")

    @property
    def cap(self) -> int:
        """The most bytes accepted."""
        return self.size if self.size is not None else int(self.max_size or 0)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(path: Path) -> str:
    """git's blob id of a file: sha1(b"blob <size>\\0" + content), as `git hash-object` prints it."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id_of(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def mismatch(path: Path, remote: RemoteFile) -> str | None:
    """Why the file at `path` is not `remote` (which checksum differs), or None when it is."""
    if remote.sha256 is not None and (found := sha256_of(path)) != remote.sha256:
        return f"sha256 {found}, expected {remote.sha256}"
    if remote.git_blob is not None and (found := git_blob_id(path)) != remote.git_blob:
        return f"git blob {found}, expected {remote.git_blob}"
    return None


def content_length(header: str | None) -> int | None:
    """The announced body size, or None when absent or not a plain non-negative integer."""
    text = (header or "").strip()
    return int(text) if text.isdigit() else None


@contextmanager
def terminations_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `FetchInterrupted` while inside (main thread only; elsewhere, no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise FetchInterrupted(signal.Signals(signum).name)

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def remove_stale_parts(folder: Path, name: str, older_than: float) -> None:
    """Delete `.NAME.*.part` files a killed download left, once older than `older_than` seconds."""
    now = time.time()
    for part in folder.glob(f".{name}.*.part"):
        if part.is_file() and now - part.stat().st_mtime > older_than:
            part.unlink(missing_ok=True)


def download(
    url: str,
    remote: RemoteFile,
    target: Path,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
) -> None:
    """Stream `url` into a temporary file beside `target`; rename it into place only if it is `remote`.

    The signal handlers are in place before the temporary file exists: a SIGTERM that finds the file
    always removes it (and is never lost to a disposition inherited from the parent, e.g. ignored)."""
    cap, ends = remote.cap, time.monotonic() + deadline
    temporary: str | None = None
    try:
        with terminations_raise():
            try:
                handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            except OSError as error:
                raise FetchError(f"{target.parent}: cannot write there ({error.strerror or error})") from None
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                announced = content_length(response.headers.get("Content-Length"))
                if announced is not None and announced > cap:
                    raise FetchError(f"{url}: the server announces {announced:,} bytes, more than the expected {cap:,}")
                received = 0
                bar = tqdm(
                    total=announced or cap,
                    unit="B",
                    unit_scale=True,
                    desc=remote.name,
                    disable=not progress,
                    leave=False,
                )
                with bar:
                    while block := response.read1(1 << 16):
                        received += len(block)
                        if received > cap:
                            raise FetchError(f"{url}: sent more than the expected {cap:,} bytes; file not kept")
                        if time.monotonic() > ends:
                            raise FetchError(
                                f"{url}: not complete after the {deadline:g} s deadline ({received:,} bytes); not kept"
                            )
                        out.write(block)
                        bar.update(len(block))
            wrong = mismatch(Path(temporary), remote)
            if wrong is not None:
                raise FetchError(f"{url}: checksum mismatch ({wrong}); file not kept")
            os.chmod(temporary, 0o666 & ~umask())  # mkstemp makes 0600; a data file is an ordinary file
            os.replace(temporary, target)
    except (urllib.error.URLError, OSError) as error:
        raise FetchError(f"{url}: download failed ({error})") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
