"""The run directory: resolved config, history.csv, metrics.json and samples, written atomically.

`metrics.json` says `status: running` from the first moment and becomes `complete` only after
the last evaluation and the samples are on disk, so a crashed run can never pass for a finished one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.files import atomic_write_text, read_regular_bytes
from bench.provenance import git_revision, library_versions

# ----- the names of a run folder's files: every reader and writer takes them from here -----
CONFIG = "config.yaml"
"""The resolved config the run ran with."""
HISTORY = "history.csv"
"""One row per evaluation: step, phase, the losses since the last row, every figure, the clocks."""
METRICS = "metrics.json"
"""Status (running, complete, interrupted, failed), final figures and provenance."""
SAMPLES = "samples.txt"
"""The last evaluation's samples, one per line (words, or token ids on synthetic data)."""
CHECKPOINT = "checkpoint.pt"
"""The whole state at the last evaluation: what a re-run of the same command continues from."""
MODEL = "model.pt"
"""The final generator alone, with its config (bench.api.load_run, the report's temperature curves)."""
BEST_VALID_MODEL = "model_best_valid.pt"
"""The generator at the evaluation with the lowest `nll_valid` so far, with its step: model
selection without the test set."""
PREFIX_JSD = "prefix_jsd.csv"
"""Synthetic data: J_t = JSD(P_{1:t} || G_{1:t}) for every prefix length t, one row per (evaluation, t)."""
LOCK = ".lock"
"""Held by the one process writing the run."""
HYDRA_FILES = ".hydra"
"""Hydra's record of the command (config, hydra, overrides), written under the lock."""
PLOT = "learning_curves.png"
"""The run's learning curves, drawn when it completes (derived from history.csv, so never verified)."""
RUN_FILES = (CHECKPOINT, MODEL, BEST_VALID_MODEL, HISTORY, PREFIX_JSD, SAMPLES, METRICS, CONFIG, PLOT)
"""Every file a run writes apart from its lock and `.hydra/`: what `resume=never` removes."""
VERIFIED_FILES = (CONFIG, HISTORY, PREFIX_JSD, SAMPLES, CHECKPOINT, MODEL, BEST_VALID_MODEL)
"""The files a complete run records the size and sha256 of in metrics.json (`files`), checked whenever
the run is met again."""
REQUIRED_FILES = (CONFIG, HISTORY, SAMPLES, CHECKPOINT, MODEL)
"""What every complete run holds (checked by presence for runs completed before `files` was recorded)."""


class DamagedRunError(BenchError):
    """A complete run whose files no longer match what it recorded at completion."""


STATUSES = ("running", "complete", "interrupted", "failed", "killed")
"""A run's status: the four metrics.json says, and `killed`, read as `effective_status` reads it."""
METRICS_LIMIT = 16 * 2**20
"""The largest metrics.json read (a run writes a few kB)."""


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """A run directory's metrics.json, or None when there is no readable one (missing, malformed, not a
    regular file, e.g. a FIFO planted under its name, which is never waited on, or oversized)."""
    try:
        metrics = json.loads(read_regular_bytes(Path(run_dir) / METRICS, METRICS_LIMIT).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def read_status(run_dir: Path) -> str | None:
    """The `status` in a run directory's metrics.json, or None when there is no readable one."""
    status = (read_metrics(run_dir) or {}).get("status")
    return status if isinstance(status, str) else None


def sha256_of(path: Path) -> str:
    """The file's sha256, read in chunks (a checkpoint may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of each of `VERIFIED_FILES` the run holds, by name."""
    present = [name for name in VERIFIED_FILES if (Path(run_dir) / name).is_file()]
    return {
        name: {"bytes": (Path(run_dir) / name).stat().st_size, "sha256": sha256_of(run_dir / name)} for name in present
    }


def damaged_files(run_dir: Path, metrics: dict[str, Any]) -> list[str]:
    """What is wrong with a complete run's files against the record its metrics.json holds: missing,
    truncated, grown or changed; for a run without a record, the required files that are missing."""
    recorded = metrics.get("files")
    if not isinstance(recorded, dict):
        return [f"{name} missing" for name in REQUIRED_FILES if not (Path(run_dir) / name).is_file()]
    damaged = []
    for name, expected in recorded.items():
        path = Path(run_dir) / str(name)
        if not isinstance(expected, dict) or not path.is_file():
            damaged.append(f"{name} missing")
            continue
        size = path.stat().st_size
        if size != expected.get("bytes"):
            change = "truncated" if isinstance(expected.get("bytes"), int) and size < expected["bytes"] else "resized"
            damaged.append(f"{name} {change} ({size:,} bytes, {expected.get('bytes')!r} recorded)")
        elif sha256_of(path) != expected.get("sha256"):
            damaged.append(f"{name} changed (its sha256 differs from the one recorded)")
    return damaged


def effective_status(run_dir: Path, status: str | None = None) -> str | None:
    """The status as it stands: metrics.json's, except that a `running` run whose lock nobody holds is
    `killed` (SIGKILL, the out-of-memory killer, a power cut: its process ended without a word).

    A run that is really running holds its lock; asking is a non-blocking try of that lock
    (`bench.training.run_lock.holder_alive`), so it works across the machines of a shared filesystem.
    When the lock cannot be tried (a read-only copy of the results) `running` stays `running`. A reader
    that has read metrics.json its own way passes the `status` it found.
    """
    status = read_status(run_dir) if status is None else status
    if status == "running":
        from bench.training.run_lock import holder_alive  # it imports this module's names

        if holder_alive(Path(run_dir)) is False:
            return "killed"
    return status


class RunRecord:
    """Everything a run writes lives in one folder, and every file in it is replaced atomically (into the
    folder as it is: a folder moved away is never recreated at its old path)."""

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
        return self.run_dir / METRICS

    def start(self, resolved_config_yaml: str, meta: dict[str, Any]) -> None:
        """Write the resolved config and a `running` status before any training happens.

        A resumed run arrives with the history of its checkpoint; history.csv is rewritten from it,
        dropping any row written after that checkpoint (it will be recomputed identically).
        """
        atomic_write_text(self.run_dir / CONFIG, resolved_config_yaml, parents=False)
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
        atomic_write_text(self.run_dir / f"{name}.csv", buffer.getvalue(), parents=False)

    def write_samples(self, lines: list[str]) -> None:
        atomic_write_text(self.run_dir / SAMPLES, "".join(line + "\n" for line in lines), parents=False)

    def finish(self, final: dict[str, Any]) -> None:
        """`complete`, with the size and sha256 of every file the run wrote (checked when it is met again)."""
        self.meta["files"] = file_record(self.run_dir)
        self._write_metrics("complete", final)

    def fail(self, status: str, reason: str) -> None:
        """Mark the run `failed` or `interrupted`, keeping the last evaluated figures."""
        final = dict(self.history[-1]) if self.history else {}
        self._write_metrics(status, final, reason=reason)

    def _write_metrics(self, status: str, final: dict[str, Any], reason: str | None = None) -> None:
        payload = {"status": status, **({"reason": reason} if reason else {}), "final": final, **self.meta}
        payload["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(self.metrics_path, json.dumps(payload, indent=2, sort_keys=False) + "\n", parents=False)
