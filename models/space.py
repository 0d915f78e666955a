"""Which sequences exist: vocabulary, length, and the special tokens that shape them.

The synthetic setting has fixed-length sequences over ids that are all tokens (SeqGAN's
convention); the text setting adds EOS, PAD and tokens no sentence may contain as a word.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

BLOCKED_LOGIT = -1e9
"""Added to the logit of a blocked token. Finite, unlike -inf: exp() of it is exactly 0 in float32, so
sampling never draws it and softmax gives it no mass, while 0 * (log p - log q) stays 0 in a KL (with
-inf it would be NaN). Survives a temperature as low as 1e-29 before overflowing."""


@dataclass(frozen=True)
class SequenceSpace:
    """Which sequences exist: vocabulary, length and the special tokens that shape them.

    The synthetic setting has no EOS or PAD: every sequence has exactly `seq_len` tokens and the
    start token is an ordinary vocabulary id (SeqGAN's convention). The text setting adds EOS
    (a sequence ends at its first EOS, inclusive) and PAD (fills the rest, never scored), and
    blocks the tokens no sentence may contain as a word (PAD, BOS, UNK): a model over this space
    gives them probability zero, so its densities are normalised over what can be generated.
    """

    vocab_size: int
    seq_len: int
    start_token: int = 0
    eos_token: int | None = None
    pad_token: int | None = None
    blocked_tokens: tuple[int, ...] | None = None
    """Ids never generated: their logits are masked for training, scoring and sampling alike, and
    a target that is one of them is not scored. None (synthetic): every id can be generated."""

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size={self.vocab_size}: must be at least 2")
        if self.seq_len < 1:
            raise ValueError(f"seq_len={self.seq_len}: must be at least 1")
        for name in ("start_token", "eos_token", "pad_token"):
            token = getattr(self, name)
            if token is not None and not 0 <= token < self.vocab_size:
                raise ValueError(f"{name}={token}: must be in [0, {self.vocab_size})")
        if (self.eos_token is None) != (self.pad_token is None):
            raise ValueError("eos_token and pad_token must be given together (or neither)")
        if self.blocked_tokens is not None:
            blocked = tuple(self.blocked_tokens)
            object.__setattr__(self, "blocked_tokens", blocked)  # a list from a saved config reads as a tuple
            if not all(0 <= token < self.vocab_size for token in blocked):
                raise ValueError(f"blocked_tokens={blocked}: every id must be in [0, {self.vocab_size})")
            if self.eos_token in blocked or len(set(blocked)) >= self.vocab_size - 1:
                raise ValueError(f"blocked_tokens={blocked}: EOS and at least one other id must stay generable")

    @property
    def size(self) -> int | None:
        """Number of sequences in the space (V^T), or None when sequences end at EOS (variable length)."""
        return self.vocab_size**self.seq_len if self.eos_token is None else None

    def all_sequences(self) -> Tensor:
        """Every sequence of a fixed-length space, (V^T, T) long, in lexicographic order (exact figures)."""
        if self.size is None:
            raise ValueError("all_sequences: a space with EOS has sequences of every length up to seq_len")
        grids = torch.cartesian_prod(*[torch.arange(self.vocab_size)] * self.seq_len)
        return grids.reshape(-1, self.seq_len)

    def mask(self, tokens: Tensor) -> Tensor:
        """(B, T) bool: True for scored positions, i.e. every token up to and including the first EOS,
        except targets that are blocked tokens (a model over this space cannot generate them)."""
        if self.eos_token is None:
            return torch.ones_like(tokens, dtype=torch.bool)
        is_eos = tokens == self.eos_token
        eos_before = is_eos.cumsum(dim=1) - is_eos.long()  # EOS tokens strictly before t
        scored = eos_before == 0
        for token in self.blocked_tokens or ():  # one comparison each: no list copied to the device
            scored &= tokens != token
        return scored

    def blocked_bias(self) -> Tensor | None:
        """(V,) added to every logit: BLOCKED_LOGIT at blocked ids, 0 elsewhere; None when nothing is blocked."""
        if not self.blocked_tokens:
            return None
        bias = torch.zeros(self.vocab_size)
        bias[list(self.blocked_tokens)] = BLOCKED_LOGIT
        return bias
