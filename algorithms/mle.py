"""Maximum likelihood by teacher forcing (docs/design.md §3.1): per-token cross-entropy on real batches.

    L(θ) = -(1 / |S|) Σ_{(b,t) ∈ S} log G_θ(x_{b,t} | x_{b,<t}),   S = the scored positions (never PAD)

`mle_loss` is that formula; a step computes the same value, and its gradient, in chunks of
positions (`teacher_forcing_backward`), which is faster on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from algorithms.base import Algorithm, EpochBatches, TrainingContext
from algorithms.updates import Adam, chunk_size_for, graphed, optimizer_step, teacher_forcing_backward
from models import Generator
from models.checks import check_at_least, check_finite, check_positive


def mle_loss(generator: Generator, batch: Tensor) -> Tensor:
    """Mean per-token NLL of `batch` (B, T) under `generator`, PAD never counted, in one piece."""
    mask = generator.space.mask(batch)  # (B, T) scored positions
    return -(generator.token_log_probs(batch) * mask).sum() / mask.sum()


@dataclass
class MLEConfig:
    """SeqGAN reference values: Adam lr 0.01, gradient clip 5.0, batch 64."""

    lr: float = 0.01
    """Adam learning rate."""
    batch_size: int = 64
    """Real sequences per step."""
    grad_clip: float = 5.0
    """Maximum global gradient norm; 0 turns clipping off."""
    default_steps: int = 1000
    """Budget without `train.steps`: NLL_test bottoms out after about 5 epochs of the 10k-sequence
    training set (at lr 0.01 the model then memorises it), so 1,000 batches show the whole story."""

    def __post_init__(self) -> None:
        check_finite(self, "algorithm")
        check_positive(self, "algorithm", "lr")
        check_at_least(self, "algorithm", 1, "batch_size", "default_steps")
        check_at_least(self, "algorithm", 0, "grad_clip", allowed="must be >= 0 (0 disables clipping)")


class MLE(Algorithm):
    """Teacher forcing on shuffled real batches."""

    config_class = MLEConfig

    def __init__(self, config: MLEConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        self.batches = EpochBatches(context.train_data, config.batch_size, context.rng)
        self.optimizer = Adam(self.generator.parameters(), context.device, lr=config.lr)
        self.chunk = chunk_size_for(context.device)
        self.update = graphed(self._update, context.capture)

    def step(self) -> dict[str, Tensor]:
        (loss,) = self.update(self.batches.next())
        return {"g_loss": loss}

    def _update(self, batch: Tensor) -> tuple[Tensor]:
        """One Adam step on `mle_loss` of `batch`, computed in chunks (the part a CUDA graph can replay)."""
        compute = lambda: teacher_forcing_backward(self.generator, batch, self.chunk)  # noqa: E731
        return (optimizer_step(self.optimizer, compute, clip=self.config.grad_clip),)

    def parts(self) -> dict[str, Any]:
        return {"generator": self.generator, "optimizer": self.optimizer, "batches": self.batches}
