"""Maximum likelihood by teacher forcing (DESIGN §3, MLE): per-token cross-entropy on real batches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from algorithms.base import Algorithm, EpochBatches, TrainingContext
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


def teacher_forcing_loss(generator: Generator, batch: torch.Tensor) -> torch.Tensor:
    """Mean per-token NLL of `batch` under `generator` (PAD never counts)."""
    mask = generator.space.mask(batch)
    return -(generator.token_log_probs(batch) * mask).sum() / mask.sum()


def clipped_update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float) -> None:
    """Backpropagate `loss` and take one optimiser step, clipping the global norm when clip > 0."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()


class MLE(Algorithm):
    """Teacher forcing on shuffled real batches."""

    config_class = MLEConfig

    def __init__(self, config: MLEConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        self.batches = EpochBatches(context.train_data, config.batch_size, context.rng)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.lr)

    @property
    def default_steps(self) -> int:
        # NLL_test bottoms out after about 5 epochs of the 10k-sequence training set (at lr 0.01 the
        # model then memorises it: DESIGN §5's MLE figures are near that minimum); 1000 steps show it.
        return 1000

    def step(self) -> dict[str, float]:
        loss = teacher_forcing_loss(self.generator, self.batches.next())
        clipped_update(self.optimizer, loss, self.generator.parameters(), self.config.grad_clip)
        return {"g_loss": loss.item()}

    def parts(self) -> dict[str, Any]:
        return {"generator": self.generator, "optimizer": self.optimizer, "batches": self.batches}
