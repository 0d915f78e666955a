"""One writer per run folder: an OS lock on `run_dir/.lock`, never through a symbolic link.

The lock is `filelock`'s native lock (`flock` on POSIX, `LockFileEx` on Windows), so the kernel
releases it when its holder dies, even by SIGKILL: the lock of a dead process is simply taken over,
and a crashed run never blocks its own resumption. The holder writes its pid into the file, for the
message that refuses a second writer. docs/design.md says why filelock and not `fcntl` directly.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from bench.errors import BenchError
from bench.files import umask
from bench.training.records import HYDRA_FILES, LOCK

LOCK_WAIT_S = 2.0
"""How long a start waits for a busy lock: enough for a probe (`holder_alive`, a report asking whether
a run still runs) or a holder that is stopping to let go, short enough to refuse a second launch at once."""
PID_BYTES = 64
"""The most of a lock file that is read for its holder's pid."""


class RunDirectoryError(BenchError):
    """The run directory cannot be used safely (in use, unwritable, or holding a symbolic link)."""


class RunFolderMoved(RunDirectoryError):
    """The run folder was renamed or removed while the run wrote it: the run stops writing at once."""

    def __init__(self, run_dir: Path, moved_to: Path | None) -> None:
        where = f"moved to {moved_to}" if moved_to is not None else "moved or removed"
        resume = f"; hydra.run.dir={moved_to} resumes it there" if moved_to is not None else ""
        super().__init__(f"run folder {run_dir}: {where} while the run was writing it; stopped{resume}")
        self.run_dir, self.moved_to = run_dir, moved_to


def symlink_refusal(path: Path) -> RunDirectoryError:
    return RunDirectoryError(f"{path}: is a symbolic link; refusing to write through it")


def refuse_symlinks(run_dir: Path) -> None:
    """Nothing in a run directory is opened, truncated or replaced through a symbolic link.

    A link planted in a shared results folder (`.lock -> ~/.bashrc`) would otherwise make a re-run
    write into whatever it points at. Checked for every entry of the folder and of `.hydra/`.
    """
    for folder in (run_dir, run_dir / HYDRA_FILES):
        if folder.is_symlink():
            raise symlink_refusal(folder)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink():
                raise symlink_refusal(entry)


def _write_pid(descriptor: int) -> None:
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())


def holder_pid(lock_path: Path) -> int | None:
    """The pid a lock file names (its holder, or its last holder), if it names one."""
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        text = os.read(descriptor, PID_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return int(text) if text.isdigit() else None


def holder_alive(run_dir: Path) -> bool | None:
    """Whether a process holds the run's lock now: True, False, or None when it cannot be told
    (no lock file can be opened there, e.g. a read-only copy of the results)."""
    path = Path(run_dir) / LOCK
    if path.is_symlink() or not path.is_file():
        return None
    probe = FileLock(path, timeout=0, thread_local=False, preserve_lock_file=True, fallback_to_soft=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        return None
    probe.release()
    return False


class RunLock:
    """An exclusive lock on `run_dir/.lock` for as long as the run writes there.

    Two jobs pointed at the same folder (a repeated command, a sweep launched twice) would interleave
    their files; the second one fails, before it writes anything. A run folder that is itself a
    symbolic link is refused before anything (the lock file included) is created in its target.
    `bench.training.run.run` is its one owner.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir).absolute()
        self.path = self.run_dir / LOCK
        self.lock: FileLock | None = None
        self.folder: os.stat_result | None = None
        self.folder_handle: int | None = None
        """The run folder, held open: where it is now, should it be moved while the run writes it."""

    def __enter__(self) -> RunLock:
        if self.run_dir.is_symlink():
            raise symlink_refusal(self.run_dir)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirectoryError(f"output directory {self.run_dir}: cannot write there ({error.strerror})") from None
        lock = FileLock(
            self.path,
            timeout=LOCK_WAIT_S,
            mode=0o644 & ~umask(),
            thread_local=False,
            preserve_lock_file=True,  # also: no fallback to a marker file, whose holder could not be told dead
            on_acquired=_write_pid,
        )
        try:
            lock.acquire()
        except Timeout:
            pid = holder_pid(self.path)
            held = f" (pid {pid})" if pid is not None else ""
            raise RunDirectoryError(
                f"output directory {self.run_dir}: another process{held} is writing this run"
            ) from None
        except OSError as error:
            if self.path.is_symlink():
                raise symlink_refusal(self.path) from None
            raise RunDirectoryError(f"output directory {self.run_dir}: cannot write there ({error.strerror})") from None
        self.lock = lock
        try:
            refuse_symlinks(self.run_dir)
            self._hold_folder()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _hold_folder(self) -> None:
        self.folder = os.stat(self.run_dir)
        if hasattr(os, "O_DIRECTORY"):
            self.folder_handle = os.open(self.run_dir, os.O_RDONLY | os.O_DIRECTORY)

    def check_in_place(self) -> None:
        """Raise `RunFolderMoved` when the run folder is no longer where the run writes (renamed, removed):
        writing on would create a second, partial run at the old path."""
        try:
            in_place = self.folder is not None and os.path.samestat(os.stat(self.run_dir), self.folder)
        except OSError:
            in_place = False
        if not in_place:
            raise RunFolderMoved(self.run_dir, self.where_now())

    def where_now(self) -> Path | None:
        """Where the held folder is now (Linux tells through /proc), or None when unknown or removed."""
        if self.folder_handle is None:
            return None
        try:
            target = os.readlink(f"/proc/self/fd/{self.folder_handle}")
        except OSError:
            return None
        return None if target.endswith(" (deleted)") else Path(target)

    def __exit__(self, *exc: object) -> None:
        if self.folder_handle is not None:
            os.close(self.folder_handle)
            self.folder_handle = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
