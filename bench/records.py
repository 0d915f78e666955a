"""The run directory: resolved config, history.csv, metrics.json and samples, written atomically.

`metrics.json` says `status: running` from the first moment and becomes `complete` only after
the last evaluation and the samples are on disk, so a crashed run can never pass for a finished one.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

REPO_ROOT = Path(__file__).resolve().parent.parent
# Every file a run writes (apart from its lock and Hydra's `.hydra/`): what `resume=never` removes.
RUN_FILES = (
    "checkpoint.pt", "model.pt", "model_best_valid.pt", "history.csv", "prefix_jsd.csv", "samples.txt", "metrics.json",
    "config.yaml",
)  # fmt: skip


def _umask() -> int:
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


def atomic_write_bytes(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Let `write` fill a unique temporary file beside `path`, then rename it over `path`.

    Readers see the old file or the new one, never half of one; parallel writers never share a
    temporary name. The file gets the usual permissions (mkstemp's are owner-only). A symbolic link
    at `path` is refused rather than replaced; a failed write is raised as the OSError that caused
    it, naming `path` (e.g. "No space left on device").
    """
    if path.is_symlink():
        raise OSError(errno.ELOOP, "is a symbolic link; refusing to replace it", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    recording: _Recording | None = None
    try:
        with _open_for_write(handle) as stream:
            recording = _Recording(stream)
            write(recording)  # type: ignore[arg-type]
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
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


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` by `text` (UTF-8) atomically."""
    atomic_write_bytes(path, lambda stream: stream.write(text.encode("utf-8")))


def git_revision() -> str:
    """The commit the code ran from, with '+dirty' when it had uncommitted changes."""
    try:
        run = lambda *args: subprocess.run(  # noqa: E731
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        revision = run("rev-parse", "HEAD")
        return revision + ("+dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the figures depend on (BLEU: nltk; sacreBLEU; tables: pandas)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("torch", "hydra-core", "numpy", "nltk", "sacrebleu", "pandas"):
        try:
            versions[name.removesuffix("-core")] = version(name)
        except PackageNotFoundError:
            versions[name.removesuffix("-core")] = "not installed"
    return versions


def read_status(run_dir: Path) -> str | None:
    """The `status` in a run directory's metrics.json, or None when there is no readable one."""
    try:
        return json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None


class RunRecord:
    """Everything a run writes lives in one folder, and every file in it is replaced atomically."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.history: list[dict[str, Any]] = []
        self.curves: dict[str, list[dict[str, Any]]] = {}
        """Per-evaluation tables by file stem (prefix_jsd.csv: one row per evaluation and prefix length)."""
        self.meta: dict[str, Any] = {}
        self.last_samples: Any = None
        """The latest evaluation's samples (a token tensor), written to samples.txt at the end."""

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.json"

    def start(self, resolved_config_yaml: str, meta: dict[str, Any]) -> None:
        """Write the resolved config and a `running` status before any training happens.

        A resumed run arrives with the history of its checkpoint; history.csv is rewritten from it,
        dropping any row written after that checkpoint (it will be recomputed identically).
        """
        atomic_write_text(self.run_dir / "config.yaml", resolved_config_yaml)
        if self.history:
            self._write_history()
        for name in self.curves:
            self._write_table(name, self.curves[name])
        self.meta = {
            **meta,
            "git_revision": git_revision(),
            "versions": library_versions(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._write_metrics("running", final={})

    def append_history(self, row: dict[str, Any], curves: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """Add one evaluation row (and its curves' rows) and rewrite history.csv (and each curve's CSV)."""
        self.history.append(row)
        self._write_history()
        for name, rows in (curves or {}).items():
            self.curves.setdefault(name, []).extend(rows)
            self._write_table(name, self.curves[name])

    def _write_history(self) -> None:
        self._write_table("history", self.history)

    def _write_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Rewrite `name`.csv from all its rows (columns: union of all rows, in order)."""
        columns: list[str] = []
        for past in rows:
            columns += [key for key in past if key not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.run_dir / f"{name}.csv", buffer.getvalue())

    def write_samples(self, lines: list[str]) -> None:
        atomic_write_text(self.run_dir / "samples.txt", "".join(line + "\n" for line in lines))

    def finish(self, final: dict[str, Any]) -> None:
        self._write_metrics("complete", final)

    def fail(self, status: str, reason: str) -> None:
        """Mark the run `failed` or `interrupted`, keeping the last evaluated figures."""
        final = dict(self.history[-1]) if self.history else {}
        self._write_metrics(status, final, reason=reason)

    def _write_metrics(self, status: str, final: dict[str, Any], reason: str | None = None) -> None:
        payload = {"status": status, **({"reason": reason} if reason else {}), "final": final, **self.meta}
        payload["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(self.metrics_path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
