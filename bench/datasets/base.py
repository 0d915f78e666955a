"""What every dataset hands the loop: a sequence space, train and test tensors, and optionally an oracle."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from algorithms.generator import Generator, SequenceSpace


@dataclass
class Dataset:
    """Sequences on the CPU as (N, T) long tensors; `oracle` is the true model on synthetic data."""

    name: str
    space: SequenceSpace
    train: Tensor
    test: Tensor
    oracle: Generator | None = None

    @property
    def enumerable(self) -> bool:
        """Whether every sequence of the space can be listed (exact JSD by enumeration)."""
        return (
            self.oracle is not None
            and self.space.eos_token is None
            and (self.space.vocab_size**self.space.seq_len <= 10**6)
        )

    def decode(self, tokens: Tensor) -> list[str]:
        """One line of text per sequence; synthetic data prints token ids separated by spaces."""
        return [" ".join(str(t) for t in row) for row in tokens.tolist()]
