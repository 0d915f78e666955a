"""Token <-> id for text datasets: four special tokens, then the training split's words by frequency.

Ids 0..3 are PAD, BOS (the generator's start token), EOS and UNK. Words follow in order of falling
training frequency (ties alphabetical), so the same training file and tokeniser always give the
same ids. A word of the text that spells a special token ("<eos>") is read as UNK, never as the
special itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from bench.errors import BenchError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
OVERLONG_POLICIES = ("drop", "truncate", "error")


class VocabularyMismatchError(BenchError):
    """A checkpoint was trained on a different vocabulary (other data, tokeniser or file)."""


class OverlongSentenceError(BenchError):
    """A sentence does not fit the configured maximum length and the policy is `error`."""


@dataclass(frozen=True)
class Vocabulary:
    """The ordered token list of a text dataset and the tokeniser that produced its tokens."""

    words: tuple[str, ...]
    tokenizer: str

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3

    @classmethod
    def from_sentences(
        cls, sentences: Sequence[Sequence[str]], tokenizer: str, max_size: int | None = None
    ) -> Vocabulary:
        """Specials, then the training words by falling frequency (ties alphabetical), `max_size` ids at most.

        Words beyond the cap read as UNK, as unseen test words do.
        """
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(
                f"dataset.max_vocab={max_size}: must exceed the {len(SPECIALS)} special tokens ({', '.join(SPECIALS)})"
            )
        counts = Counter(word for sentence in sentences for word in sentence if word not in SPECIALS)
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls(SPECIALS + tuple(ranked), tokenizer)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def encode(self, sentences: Sequence[Sequence[str]], max_len: int, overlong: str, split: str) -> Tensor:
        """(N, max_len) ids: words (UNK when unknown), EOS, then PAD.

        A sentence needs len + 1 positions (its EOS). Longer ones are dropped, truncated to
        `max_len` words without EOS (the window ends mid-sentence), or refused, by `overlong`.
        """
        if overlong not in OVERLONG_POLICIES:
            raise ValueError(f"overlong={overlong!r}: must be one of {', '.join(OVERLONG_POLICIES)}")
        index, rows = self.index, []
        for number, sentence in enumerate(sentences, start=1):
            ids = [index.get(word, self.unk_id) if word not in SPECIALS else self.unk_id for word in sentence]
            ids.append(self.eos_id)
            if len(ids) > max_len:
                if overlong == "error":
                    raise OverlongSentenceError(
                        f"{split} sentence {number} has {len(sentence)} tokens: more than dataset.max_len={max_len}"
                        " allows with its EOS (set dataset.overlong=drop or truncate, or a larger max_len)"
                    )
                if overlong == "drop":
                    continue
                ids = ids[:max_len]
            rows.append(ids + [self.pad_id] * (max_len - len(ids)))
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), max_len)

    def tokens_of(self, ids: Sequence[int]) -> list[str]:
        """The words of one sequence, up to (not including) its first EOS or PAD."""
        words = []
        for token in ids:
            if token in (self.eos_id, self.pad_id):
                break
            words.append(self.words[token])
        return words

    def decode(self, tokens: Tensor) -> list[list[str]]:
        """The words of each row of a (N, T) id tensor."""
        return [self.tokens_of(row) for row in tokens.tolist()]

    def check_matches(self, saved: Sequence[str], source: str) -> None:
        """Refuse a checkpoint (or any saved model) whose vocabulary `saved` differs from this one."""
        saved = tuple(saved)
        if saved == self.words:
            return
        if len(saved) != len(self.words):
            detail = f"{len(saved)} tokens there, {len(self.words)} here"
        else:
            first = next(i for i, (a, b) in enumerate(zip(saved, self.words, strict=True)) if a != b)
            detail = f"id {first} is {saved[first]!r} there, {self.words[first]!r} here"
        raise VocabularyMismatchError(f"{source}: vocabulary differs from the dataset's ({detail})")
