"""What every dataset hands the loop: a sequence space, train and test tensors, and what its kind needs.

A dataset's `kind` says which figures an evaluation can compute on it: `synthetic` (an oracle gives
exact densities: NLL_oracle, the JSDs, validation NLL) or `text` (a vocabulary and references: BLEU).
The kind, not which fields happen to be None, is what evaluation dispatches on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from bench.datasets.tokenizers import LineTokenizer
from bench.datasets.vocabulary import Vocabulary
from models import Generator, SequenceSpace

# What each kind must carry besides the sequences.
REQUIRED_BY_KIND = {"synthetic": ("oracle",), "text": ("vocabulary", "references")}
# Spaces up to this many sequences are listed whole for exact figures.
ENUMERABLE_SIZE = 10**6


@dataclass
class Dataset:
    """Sequences on the CPU as (N, T) long tensors; `oracle` is the true model on synthetic data.

    Text datasets carry a `vocabulary` (ids -> words, also checked against checkpoints), the
    BLEU `references` (every test sentence as tokens, whatever the vocabulary or max length left
    out) and `reference_lines` (the same sentences as the file spells them, for sacreBLEU).
    `valid` is a held-out sample for model selection (synthetic: a fresh oracle sample).
    `provenance` records where the data came from (files and sha256, seeds, sizes) for metrics.json;
    `warnings` what a reader of the figures should know about the data (a run prints and records them).
    `line_tokenizer` turns a line of text into this dataset's tokens (its normalisation and tokeniser):
    whoever reads text for a text dataset (the API, the score command) uses it.
    """

    name: str
    space: SequenceSpace
    train: Tensor
    test: Tensor
    oracle: Generator | None = None
    vocabulary: Vocabulary | None = None
    references: list[list[str]] | None = None
    reference_lines: list[str] | None = None
    kind: str = "text"
    """`synthetic` or `text` (REQUIRED_BY_KIND says what each must carry)."""
    valid: Tensor | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    line_tokenizer: LineTokenizer | None = None

    def __post_init__(self) -> None:
        if self.kind not in REQUIRED_BY_KIND:
            raise ValueError(f"dataset kind={self.kind!r}: must be one of {', '.join(REQUIRED_BY_KIND)}")
        missing = [name for name in REQUIRED_BY_KIND[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"dataset {self.name!r} of kind {self.kind} lacks {', '.join(missing)}")

    @property
    def enumerable(self) -> bool:
        """Whether exact figures by enumeration apply: an oracle and a space small enough to list."""
        size = self.space.size
        return self.kind == "synthetic" and size is not None and size <= ENUMERABLE_SIZE

    def decode(self, tokens: Tensor) -> list[str]:
        """One line of text per sequence: words through the first EOS, or token ids on synthetic data."""
        if self.vocabulary is not None:
            return [" ".join(words) for words in self.vocabulary.decode(tokens)]
        return [" ".join(str(t) for t in row) for row in tokens.tolist()]
