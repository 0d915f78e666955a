"""Nested CoT: CoT whose mediator is itself trained by CoT, as the CoT authors propose (docs/design.md §3.4).

CoT fits a model Q to a target T with a helper R: R learns (T + Q)/2 by MLE on B samples of T and
B samples of Q; Q minimises the mean per-step KL(pi_Q || pi_R) on its own samples. Plain CoT is
Q = G, T = P, R = M. Nested CoT keeps G's step unchanged (against M) and trains M by CoT with the
target T = (P + G)/2:

- Inner mediator step (M2): MLE, dropout on, on B target samples (B/2 real sequences + B/2 fresh
  samples of G) and B fresh samples of M: the balanced NLL, so M2 tends to (T + M)/2.
- Mediator step (M): the mean over batch and time of the whole-vocabulary KL(pi_M || pi_M2) on B
  fresh samples of M, M2 frozen (eval mode, no gradient), so M tends to T = (P + G)/2 and G sees
  the same kind of mediator as in CoT.

One iteration: one G step, then `m_steps` times (one M step, then `m2_steps` M2 steps).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from algorithms.base import EpochBatches, EvaluationContext, TrainingContext
from algorithms.cot import CoT, CoTConfig, generator_backward, mediator_config
from algorithms.updates import Adam, mean_in_float64, optimizer_step, teacher_forcing_backward
from metrics.nll import mean_token_nll
from models import Generator
from models.checks import check_at_least, check_positive


@dataclass
class NestedCoTConfig(CoTConfig):
    """CoT's fields (same defaults, except M's dropout) plus the inner mediator M2's.

    `batch_size` B must be even: M2's target half is exactly B/2 real sequences and B/2 samples
    of G, so that it is an unbiased sample of (P + G)/2 at every step (an odd B would tilt it).
    """

    m_dropout: float = 0.0
    """Dropout on M's LSTM outputs during its own (KL) update. 0: M now learns like CoT's generator,
    from a KL on its own samples (CoT's G has no dropout), and with dropout the pi_M of the loss would
    not be the model that draws those samples. M never sees real data; M2 carries the regularisation."""
    m2_lr: float = 3e-3
    """M2's Adam learning rate: CoT's mediator rate, since M2 is trained exactly as CoT's mediator
    and must track (T + M)/2 as fast as CoT's M tracks (P + G)/2."""
    m2_steps: int = 1
    """M2 steps after each M step: CoT's one mediator step per generator step, for the inner pair."""
    m2_width: int = 2
    """M2's embedding and hidden sizes, as multiples of the generator's (2: the same as M). M2 models
    (T + M)/2, which tends to M's own target, so it needs M's capacity; wider costs more per step."""
    m2_dropout: float = 0.5
    """Dropout on M2's LSTM outputs during its own update: CoT's mediator value, since M2 is the
    network that fits the finite real data by MLE."""

    def __post_init__(self) -> None:
        super().__post_init__()  # CoT's checks, NaN and infinity refused in every field included
        check_positive(self, "algorithm", "m2_lr")
        check_at_least(self, "algorithm", 1, "m2_steps", "m2_width")
        if not 0.0 <= self.m2_dropout < 1.0:
            raise ValueError(f"algorithm.m2_dropout={self.m2_dropout}: must be in [0, 1)")
        if self.batch_size % 2:
            raise ValueError(
                f"algorithm.batch_size={self.batch_size}: must be even for nested_cot "
                "(its target batch is half real sequences, half samples of G)"
            )


def inner_mediator(generator: Generator, config: NestedCoTConfig) -> Generator:
    """M2: built like CoT's mediator (same initialisation), with its own width and dropout."""
    shape = mediator_config(generator, config)
    g = generator.config
    return Generator(
        generator.space,
        dataclasses.replace(
            shape,
            emb_dim=g.emb_dim * config.m2_width,
            hidden_dim=g.hidden_dim * config.m2_width,
            output_dropout=config.m2_dropout,
        ),
    )


class NestedCoT(CoT):
    """CoT (G's step, M's construction, evaluation figures inherited) with M trained by CoT against M2."""

    config_class = NestedCoTConfig

    def __init__(self, config: NestedCoTConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        # Real sequences now only feed M2's target half: B/2 per step (replaces CoT's B-row batches;
        # building an EpochBatches draws nothing, so the run's stream is untouched).
        self.batches = EpochBatches(context.train_data, config.batch_size // 2, context.rng)
        self.inner = inner_mediator(self.generator, config).to(context.device)
        self.inner.eval()  # dropout is switched on only inside `inner_step`
        self.inner.capture_graphs = context.capture
        self.m2_optimizer = Adam(self.inner.parameters(), context.device, lr=config.m2_lr, betas=tuple(config.betas))
        # M's samples for M2's evaluation figure come from their own stream, so that evaluating
        # never moves the training stream; seeded once from the run's stream, then by iteration.
        self.eval_seed = int(torch.randint(0, 2**62, (1,), generator=context.rng, device=context.rng.device))
        self.iterations = 0

    def step(self) -> dict[str, Tensor]:
        losses = {"g_loss": self.generator_step()}
        m_losses, m2_losses = [], []
        for _ in range(self.config.m_steps):
            m_losses.append(self.mediator_step())
            m2_losses.extend(self.inner_step() for _ in range(self.config.m2_steps))
        self.iterations += 1
        losses["m_loss"] = mean_in_float64(m_losses)
        losses["m2_loss"] = mean_in_float64(m2_losses)
        return losses

    def mediator_step(self) -> Tensor:
        """M's CoT step: lower the per-step KL(pi_M || pi_M2) on B fresh samples of M (M2 frozen).

        Replaces CoT's MLE step for M; it is CoT's generator step with (M, M2) in place of (G, M).
        """
        tokens = self.mediator.sample(self.config.batch_size, self.context.rng).tokens  # (B, T)
        compute = lambda: generator_backward(self.mediator, self.inner, tokens, self.chunk)  # noqa: E731
        return optimizer_step(self.m_optimizer, compute, train=self.mediator)

    def inner_step(self) -> Tensor:
        """M2's MLE step: balanced per-token NLL of B target samples (B/2 real + B/2 of G) and B of M."""
        half = self.config.batch_size // 2
        real = self.batches.next()  # (B/2, T)
        from_g = self.generator.sample(half, self.context.rng).tokens  # (B/2, T)
        from_m = self.mediator.sample(self.config.batch_size, self.context.rng).tokens  # (B, T)
        batch = torch.cat([real, from_g, from_m])
        compute = lambda: teacher_forcing_backward(self.inner, batch, self.chunk)  # noqa: E731
        return optimizer_step(self.m2_optimizer, compute, train=self.inner)

    def evaluation_figures(self, context: EvaluationContext) -> dict[str, float]:
        """CoT's figures for M (`m_balanced_nll`, `jsd_mediator_bound`), plus `m2_balanced_nll`: M2's
        per-token NLL (dropout off) with the weights of its own loss: 1/4 the test set, 1/4 G's samples
        (together the target (P + G)/2), 1/2 as many fresh samples of M (from their own stream)."""
        figures = super().evaluation_figures(context)
        rng = torch.Generator(device=self.context.rng.device).manual_seed(self.eval_seed + self.iterations)
        from_m = self.mediator.sample(context.samples.shape[0], rng).tokens

        def nll(tokens: Tensor) -> float:
            return mean_token_nll(self.inner.score(tokens), self.inner.space.mask(tokens))

        target = 0.5 * (nll(context.test) + nll(context.samples))
        figures["m2_balanced_nll"] = 0.5 * (target + nll(from_m))
        return figures

    def extra_state(self) -> dict[str, Any]:
        return {"eval_seed": self.eval_seed, "iterations": self.iterations}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.eval_seed, self.iterations = int(state["eval_seed"]), int(state["iterations"])

    def parts(self) -> dict[str, Any]:
        return super().parts() | {"inner_mediator": self.inner, "m2_optimizer": self.m2_optimizer}
