"""Reading a file of generated samples (one sentence a line) as a text dataset reads its own files.

Made for `cotbench-score`: the lines of a model's output, from this suite (samples.txt) or any
other, become the dataset's tokens through its own `LineTokenizer` (normalisation, then tokeniser).
Lines end at `\\n` only, as in the dataset files. A blank line is a sample too (a model that emits
EOS at once writes an empty sentence: samples.txt writes it as a blank line), so nothing is skipped;
a file without any non-blank line is an error. A model of the dataset writes at most max_len words:
a sentence and its EOS, or max_len words cut off without one (`no_eos`, as a run's `no_eos_share`
counts them). A longer line is counted and the file refused as a whole: no model of that dataset
can generate it, and scoring the rest would silently describe another sample set.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from bench.datasets.base import Dataset
from bench.datasets.text_files import BOM, TextFileError, count_other_line_breaks, decode_text, split_lines
from bench.datasets.tokenizers import SOFT_HYPHEN, LineTokenizer


@dataclass(frozen=True)
class SamplesFile:
    """The lines of one samples file (stripped, blank ones kept) and what the file was; `samples`, once
    tokenised for a dataset (`tokenized`)."""

    path: Path
    sha256: str
    lines: list[str]
    had_bom: bool
    other_line_breaks: int
    samples: list[list[str]] | None = None

    @property
    def empty(self) -> int:
        """Blank lines: empty samples (scored as such)."""
        return sum(not line for line in self.lines)

    def provenance(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "samples": len(self.lines),
            "empty_samples": self.empty,
            "other_line_breaks": self.other_line_breaks,
            "soft_hyphens_removed": sum(line.count(SOFT_HYPHEN) for line in self.lines),
        }

    def warnings(self) -> list[str]:
        """One line for each thing a reader of the figures should know about the file."""
        found = []
        if self.had_bom:
            found.append(f"{self.path}: starts with a UTF-8 byte-order mark (removed)")
        if self.empty:
            found.append(f"{self.path}: {self.empty:,} blank line(s), scored as empty samples")
        if self.other_line_breaks:
            found.append(
                f"{self.path}: {self.other_line_breaks:,} character(s) that other readers take for line breaks"
                " (U+2028, U+0085, a lone CR, ...): lines end at \\n only, so they stay inside their samples"
            )
        return found

    def no_eos(self, max_len: int) -> int:
        """Samples of exactly `max_len` words: cut at the maximum length, without EOS."""
        return sum(len(words) == max_len for words in self.samples or [])

    def tokenized(self, dataset: Dataset) -> SamplesFile:
        """The same file with `samples`: each line as `dataset`'s tokens; a line of more than max_len
        words is a one-line `TextFileError` counting every such line (nothing is scored)."""
        if dataset.vocabulary is None:
            raise TextFileError(f"dataset {dataset.name!r} is not a text dataset: its samples are not sentences")
        line_tokenizer = dataset.line_tokenizer or LineTokenizer(dataset.vocabulary.tokenizer)
        samples = [line_tokenizer(line) for line in self.lines]
        longest = dataset.space.seq_len
        overlong = [number for number, words in enumerate(samples, start=1) if len(words) > longest]
        if overlong:
            worst = max(overlong, key=lambda number: len(samples[number - 1]))
            raise TextFileError(
                f"{self.path}: {len(overlong):,} of {len(samples):,} lines have more than {longest} tokens, the most"
                f" a model of {dataset.name} writes (max_len; the longest here: line {worst},"
                f" {len(samples[worst - 1])} tokens); nothing was scored (shorten or remove those lines)"
            )
        return dataclasses.replace(self, samples=samples)


def read_sample_lines(path: Path) -> SamplesFile:
    """The lines of `path` (UTF-8, ended by \\n), or a one-line `TextFileError` naming the file."""
    if not path.is_file():
        raise TextFileError(f"{path}: no such file")
    data = path.read_bytes()
    text = decode_text(data, path, "")
    lines = split_lines(text.removeprefix(BOM))
    if not any(line.strip() for line in lines):
        raise TextFileError(f"{path}: empty (no non-blank line)")
    return SamplesFile(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        lines=[line.strip() for line in lines],
        had_bom=text.startswith(BOM),
        other_line_breaks=count_other_line_breaks(lines)[0],
    )
