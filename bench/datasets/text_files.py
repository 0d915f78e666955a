"""Reading one text corpus file: UTF-8 lines, its sha256, and a refusal of altered published files.

A file that carries the name of a published file (`test_coco.txt`, ...) must be that file: a
truncated or edited copy would silently move every figure (a 90-line test_coco.txt halves
BLEU-2), so it is refused before any work with one line naming it. A file of one's own goes
under another name. A UTF-8 byte-order mark is removed (it would stick to the first word) and
reported as a warning. Lines end at `\n` alone (a `\r` before it is stripped with the line's other
spaces): Python's `splitlines` also breaks at U+2028, U+2029, U+0085, form feeds and a few control
characters, which news text carries inside sentences, so one sentence would become two and every
line number after it would shift. Such characters stay inside their line (the tokeniser reads them
as spaces) and are counted: `other_line_breaks`, a warning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bench.config.folders import DATA_ENV
from bench.datasets.download import git_blob_id_of
from bench.datasets.fetch import published_file
from bench.errors import BenchError

BOM = "\ufeff"
OTHER_LINE_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
"""Characters `str.splitlines` breaks lines at besides `\n` (a `\r` of a `\r\n` pair is not counted)."""


class TextFileError(BenchError, ValueError):
    """A text file is missing, empty, not UTF-8 text, or an altered copy of a published file."""


@dataclass(frozen=True)
class TextFile:
    """The non-blank lines of one file (stripped), where they were, and what the file was."""

    path: Path
    sha256: str
    git_blob: str
    """git's blob id of the file (what a repository's tree records; the full EMNLP file is known by it)."""
    lines: int
    """Lines in the file, blank ones included (a last line without newline counts)."""
    sentences: list[str]
    line_numbers: list[int]
    """1-based file line of each sentence, for messages."""
    had_bom: bool
    other_line_breaks: int = 0
    """Characters other readers take for line breaks (`OTHER_LINE_BREAKS`), kept inside their lines."""
    first_other_break_line: int | None = None

    def provenance(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "git_blob": self.git_blob,
            "lines": self.lines,
            "sentences": len(self.sentences),
            "other_line_breaks": self.other_line_breaks,
        }


def split_lines(text: str) -> list[str]:
    """The lines of `text`, ended by `\n` only; a final newline does not start another line."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def count_other_line_breaks(lines: list[str]) -> tuple[int, int | None]:
    """How many `OTHER_LINE_BREAKS` the lines hold (a `\r` ending a line is a `\r\n`, not counted),
    and the 1-based number of the first line with one."""
    total, first = 0, None
    for number, line in enumerate(lines, start=1):
        found = sum(line.count(character) for character in OTHER_LINE_BREAKS) - line.endswith("\r")
        if found and first is None:
            first = number
        total += found
    return total, first


def decode_text(data: bytes, path: Path, prefix: str) -> str:
    """`data` as UTF-8 text, or a one-line `TextFileError` starting with `prefix` (binary, other encoding)."""
    if b"\x00" in data:
        raise TextFileError(f"{prefix}{path}: not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TextFileError(
            f"{prefix}{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def check_published(path: Path, data: bytes, sha256: str, field: str) -> None:
    """Refuse a file named like a published one whose content differs from the published file's
    (by sha256, or by git blob id for a file known only by that)."""
    found = published_file(path.name)
    if found is None:
        return
    bundle, remote = found
    if remote.sha256 is not None:
        if remote.sha256 == sha256:
            return
        ours, theirs = f"sha256 {sha256[:12]}...", f"{remote.sha256[:12]}..."
    else:
        blob = git_blob_id_of(data)
        if blob == remote.git_blob:
            return
        ours, theirs = f"git blob {blob[:12]}...", f"{str(remote.git_blob)[:12]}..."
    raise TextFileError(
        f"dataset.{field}: {path}: {ours} is not that of the published {remote.name} ({theirs}): an altered or"
        f" truncated copy; fetch it again (`python -m bench.data fetch {bundle}`) or give a file of your own"
        " another name"
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
    check_published(path, data, sha256, field)
    text = decode_text(data, path, f"dataset.{field}: ")
    had_bom = text.startswith(BOM)
    all_lines = split_lines(text.removeprefix(BOM))
    other_breaks, first_break = count_other_line_breaks(all_lines)
    numbered = [(number, line.strip()) for number, line in enumerate(all_lines, start=1)]
    numbered = [(number, line) for number, line in numbered if line]
    if not numbered:
        raise TextFileError(f"dataset.{field}: {path}: empty (no non-blank line)")
    return TextFile(
        path=path,
        sha256=sha256,
        git_blob=git_blob_id_of(data),
        lines=len(all_lines),
        sentences=[line for _, line in numbered],
        line_numbers=[number for number, _ in numbered],
        had_bom=had_bom,
        other_line_breaks=other_breaks,
        first_other_break_line=first_break,
    )
