"""What every dataset hands the loop: a sequence space, train and test tensors, an oracle or a vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from algorithms.generator import Generator, SequenceSpace
from bench.datasets.vocabulary import Vocabulary


@dataclass
class Dataset:
    """Sequences on the CPU as (N, T) long tensors; `oracle` is the true model on synthetic data.

    Text datasets carry a `vocabulary` (ids -> words, also checked against checkpoints), the
    BLEU `references` (every test sentence as tokens, whatever the vocabulary or max length left
    out) and `reference_lines` (the same sentences as the file spells them, for sacreBLEU).
    `provenance` says what the data was (files and their sha256, sizes, seeds), `warnings` what a
    reader of the figures should know about it; a run records both in metrics.json.
    """

    name: str
    space: SequenceSpace
    train: Tensor
    test: Tensor
    oracle: Generator | None = None
    vocabulary: Vocabulary | None = None
    references: list[list[str]] | None = None
    reference_lines: list[str] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def enumerable(self) -> bool:
        """Whether every sequence of the space can be listed (exact JSD by enumeration)."""
        return (
            self.oracle is not None
            and self.space.eos_token is None
            and (self.space.vocab_size**self.space.seq_len <= 10**6)
        )

    def decode(self, tokens: Tensor) -> list[str]:
        """One line of text per sequence: words through the first EOS, or token ids on synthetic data."""
        if self.vocabulary is not None:
            return [" ".join(words) for words in self.vocabulary.decode(tokens)]
        return [" ".join(str(t) for t in row) for row in tokens.tolist()]
