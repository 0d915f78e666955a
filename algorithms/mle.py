"""Maximum likelihood by teacher forcing (DESIGN §3, MLE): per-token cross-entropy on real batches."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from algorithms.base import Algorithm, EpochBatches, TrainingContext
from algorithms.chunked import backward_by_chunks, chunk_size_for
from algorithms.generator import Generator


@dataclass
class MLEConfig:
    """SeqGAN reference values: Adam lr 0.01, gradient clip 5.0, batch 64."""

    _target_: str = "algorithms.mle.MLE"
    lr: float = 0.01
    """Adam learning rate."""
    batch_size: int = 64
    """Real sequences per step."""
    grad_clip: float = 5.0
    """Maximum global gradient norm; 0 turns clipping off."""

    def __post_init__(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"algorithm.lr={self.lr}: must be a finite number > 0")
        if self.batch_size < 1:
            raise ValueError(f"algorithm.batch_size={self.batch_size}: must be at least 1")
        if not (self.grad_clip >= 0 and math.isfinite(self.grad_clip)):
            raise ValueError(f"algorithm.grad_clip={self.grad_clip}: must be >= 0 (0 disables clipping)")


IGNORED = -100  # cross_entropy's ignore_index: a target that is never scored


def teacher_forcing_loss(generator: Generator, batch: torch.Tensor) -> torch.Tensor:
    """Mean per-token NLL of `batch` under `generator` (PAD never counts)."""
    mask = generator.space.mask(batch)
    return -(generator.token_log_probs(batch) * mask).sum() / mask.sum()


def teacher_forcing_backward(generator: Generator, batch: torch.Tensor, chunk: int | None) -> float:
    """Backpropagate `teacher_forcing_loss(generator, batch)` chunk by chunk; return its value."""
    mask = generator.space.mask(batch)
    targets = batch.masked_fill(~mask, IGNORED).reshape(-1)  # PAD positions drop out of the sum
    count = int(mask.sum())

    def position_loss(rows: torch.Tensor, part: slice) -> torch.Tensor:
        logits = generator.out(rows)
        return F.cross_entropy(logits, targets[part], ignore_index=IGNORED, reduction="sum") / count

    return backward_by_chunks(generator.hidden(batch), position_loss, chunk)


def backward(loss: torch.Tensor) -> float:
    """Backpropagate a loss computed in one piece; return its value."""
    loss.backward()
    return loss.item()


def clipped_update(optimizer: torch.optim.Optimizer, compute: Callable[[], float], params, clip: float) -> float:
    """One optimiser step: `compute()` backpropagates a loss and returns its value; the global
    gradient norm is clipped to `clip` first when clip > 0."""
    optimizer.zero_grad(set_to_none=True)
    loss = compute()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    return loss


class MLE(Algorithm):
    """Teacher forcing on shuffled real batches."""

    config_class = MLEConfig

    def __init__(self, config: MLEConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        self.batches = EpochBatches(context.train_data, config.batch_size, context.rng)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.lr)
        self.chunk = chunk_size_for(context.device)

    @property
    def default_steps(self) -> int:
        # NLL_test bottoms out after about 5 epochs of the 10k-sequence training set (at lr 0.01 the
        # model then memorises it: DESIGN §5's MLE figures are near that minimum); 1000 steps show it.
        return 1000

    def step(self) -> dict[str, float]:
        batch = self.batches.next()
        compute = lambda: teacher_forcing_backward(self.generator, batch, self.chunk)  # noqa: E731
        return {"g_loss": clipped_update(self.optimizer, compute, self.generator.parameters(), self.config.grad_clip)}

    def parts(self) -> dict[str, Any]:
        return {"generator": self.generator, "optimizer": self.optimizer, "batches": self.batches}
