"""SeqGAN's Monte-Carlo rewards (docs/design.md §3.2): complete every prefix 16 times, ask D how real it looks.

For a batch of B sequences of length T, the prefixes s_1..t for t = 1..T-1 are each completed
`n_rollouts` times by the rollout policy in ONE batched sampling call of (T-1) * R * B rows, the
completions are scored by D in chunks, and the reward of prefix t is the mean of D's "real"
probability over its R completions. At t = T the reward is D(s) itself.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from algorithms.seqgan.discriminator import Discriminator
from models import Generator


class RolloutPolicy:
    """The policy that completes prefixes: the current generator, or a delayed copy of it.

    With `update_rate` = 0 the rollouts read the generator itself (the reference's actual
    behaviour). With 0 < rate <= 1 a separate copy is kept and, after every generator update,
    moved towards it: theta_rollout <- rate * theta_rollout + (1 - rate) * theta_generator
    (rate 1 freezes the copy at the generator it started from).
    """

    def __init__(self, generator: Generator, update_rate: float) -> None:
        self.generator, self.update_rate = generator, update_rate
        self.copy: Generator | None = None
        if update_rate > 0:
            self.copy = copy.deepcopy(generator).requires_grad_(False)

    @property
    def model(self) -> Generator:
        return self.generator if self.copy is None else self.copy

    def restart(self) -> None:
        """Make the delayed copy equal to the generator again (at the start of adversarial training)."""
        if self.copy is not None:
            self.copy.load_state_dict(self.generator.state_dict())

    @torch.no_grad()
    def update(self) -> None:
        """Move the delayed copy towards the generator by (1 - update_rate); no-op without a copy."""
        if self.copy is None:
            return
        for delayed, current in zip(self.copy.parameters(), self.generator.parameters(), strict=True):
            delayed.mul_(self.update_rate).add_(current, alpha=1.0 - self.update_rate)

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.copy is None else self.copy.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.copy is not None and state is not None:
            self.copy.load_state_dict(state)


def complete_prefixes(
    policy: Generator, sequences: Tensor, n_rollouts: int, rng: torch.Generator, batch_size: int = 1024
) -> Tensor:
    """(T-1, R, B, T) completions: [t-1, r, b] keeps sequences[b, :t] and samples the rest from `policy`."""
    batch, length = sequences.shape
    shape = (length - 1, n_rollouts, batch)
    prefix = sequences.expand(*shape[:2], batch, length).reshape(-1, length)  # ((T-1) * R * B, T)
    lengths = torch.arange(1, length).view(-1, 1, 1).expand(shape).reshape(-1)  # on the host: a schedule
    samples = policy.sample(len(prefix), rng, 1.0, prefix=prefix, batch_size=batch_size, prefix_lengths=lengths)
    return samples.tokens.view(*shape, length)


def rollout_rewards(
    discriminator: Discriminator, sequences: Tensor, completions: Tensor, batch_size: int = 1024
) -> Tensor:
    """(B, T) rewards: Q[b, t-1] = mean_r D(completions[t-1, r, b]) for t < T, Q[b, T-1] = D(sequences[b])."""
    steps, n_rollouts, batch, length = completions.shape
    scores = discriminator.prob_real(completions.reshape(-1, length), batch_size)  # ((T-1) * R * B,)
    per_prefix = scores.view(steps, n_rollouts, batch).mean(dim=1).t()  # (B, T-1)
    final = discriminator.prob_real(sequences, batch_size).unsqueeze(1)  # (B, 1)
    return torch.cat([per_prefix, final], dim=1)
