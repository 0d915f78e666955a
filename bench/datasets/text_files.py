"""Reading one text corpus file: UTF-8 lines, its sha256, and a refusal of altered published files.

A file that carries the name of a published file (`test_coco.txt`, ...) must be that file: a
truncated or edited copy would silently move every figure (a 90-line test_coco.txt halves
BLEU-2), so it is refused before any work with one line naming it. A file of one's own goes
under another name. A UTF-8 byte-order mark is removed (it would stick to the first word) and
reported as a warning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bench.config.folders import DATA_ENV
from bench.datasets.fetch import published_file
from bench.errors import BenchError

BOM = "\ufeff"


class TextFileError(BenchError, ValueError):
    """A text file is missing, empty, not UTF-8 text, or an altered copy of a published file."""


@dataclass(frozen=True)
class TextFile:
    """The non-blank lines of one file (stripped), where they were, and what the file was."""

    path: Path
    sha256: str
    lines: int
    """Lines in the file, blank ones included (a last line without newline counts)."""
    sentences: list[str]
    line_numbers: list[int]
    """1-based file line of each sentence, for messages."""
    had_bom: bool

    def provenance(self) -> dict[str, object]:
        return {"path": str(self.path), "sha256": self.sha256, "lines": self.lines, "sentences": len(self.sentences)}


def _decode(data: bytes, path: Path, field: str) -> str:
    if b"\x00" in data:
        raise TextFileError(f"dataset.{field}: {path}: not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TextFileError(
            f"dataset.{field}: {path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def check_published(path: Path, sha256: str, field: str) -> None:
    """Refuse a file named like a published one whose content differs from the published file's."""
    found = published_file(path.name)
    if found is None or found[1].sha256 == sha256:
        return
    bundle, remote = found
    raise TextFileError(
        f"dataset.{field}: {path}: sha256 {sha256[:12]}... is not that of the published {remote.name}"
        f" ({remote.sha256[:12]}...): an altered or truncated copy; fetch it again"
        f" (`python -m bench.data fetch {bundle}`) or give a file of your own another name"
    )


def read_text_file(path: Path, field: str, fetch_name: str) -> TextFile:
    """The sentences of a UTF-8 text file, with one-line errors for anything else."""
    if not path.is_file():
        raise TextFileError(
            f"dataset.{field}: {path}: no such file (download it with `python -m bench.data fetch {fetch_name}`,"
            f" or set dataset.data_dir or {DATA_ENV})"
        )
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    check_published(path, sha256, field)
    text = _decode(data, path, field)
    had_bom = text.startswith(BOM)
    all_lines = text.removeprefix(BOM).splitlines()
    numbered = [(number, line.strip()) for number, line in enumerate(all_lines, start=1)]
    numbered = [(number, line) for number, line in numbered if line]
    if not numbered:
        raise TextFileError(f"dataset.{field}: {path}: empty (no non-blank line)")
    return TextFile(
        path=path,
        sha256=sha256,
        lines=len(all_lines),
        sentences=[line for _, line in numbered],
        line_numbers=[number for number, _ in numbered],
        had_bom=had_bom,
    )
