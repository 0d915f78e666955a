"""Cooperative Training (Lu et al., ICML 2019; docs/design.md §3.3): a generator G and a mediator M.

Each iteration: one generator step, then `m_steps` mediator steps. No MLE pretraining.

- Generator step: sample B sequences s ~ G, teacher-force them through G and through M (M in
  eval mode, no gradient), and minimise the mean over batch and time of the whole-vocabulary KL:

      L_G(θ) = (1 / |S|) Σ_{(b,t) ∈ S} Σ_x π_G(x | s_{b,<t}) [log π_G(x | s_{b,<t}) - log π_M(x | s_{b,<t})]

  (`generator_loss`; `generator_backward` is the same value computed in chunks of positions).
- Mediator step: B real sequences x ~ P + B fresh samples s ~ G; M minimises the balanced NLL

      L_M(φ) = -(1 / |S|) Σ_{(b,t) ∈ S} log π_M(y_{b,t} | y_{b,<t}),   y = the 2B sequences,

  MLE's loss (algorithms/mle.py) on the mixed batch, with dropout on M's LSTM outputs during this
  update only.

At the optimum M = (P + G)/2 on whole sequences, so G is pulled towards the mixture. Known
simplification, kept from the reference: the G loss treats each step's KL separately and ignores
how an earlier token changes the later states (no credit assignment across steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from algorithms.base import Algorithm, EpochBatches, EvaluationContext, TrainingContext
from algorithms.updates import (
    Adam,
    backward_by_chunks,
    chunk_size_for,
    graphed,
    mean_in_float64,
    optimizer_step,
    teacher_forcing_backward,
)
from metrics.jsd import JSDEstimate, jsd_mediator_bound_exact, jsd_mediator_bound_monte_carlo
from metrics.nll import mean_token_nll
from models import Generator, GeneratorConfig, evaluating
from models.checks import check_at_least, check_finite, check_positive


@dataclass
class CoTConfig:
    """Reference values of desire2020/Cooperative-Training (synthetic benchmark)."""

    g_lr: float = 1e-3
    """Generator Adam learning rate."""
    m_lr: float = 3e-3
    """Mediator Adam learning rate."""
    betas: tuple[float, float] = (0.9, 0.95)
    """Adam betas of both optimisers."""
    batch_size: int = 64
    """B: generated sequences per generator step; real and generated sequences (B each) per mediator step."""
    m_steps: int = 1
    """Mediator steps after each generator step."""
    m_width: int = 2
    """Mediator embedding and hidden sizes, as multiples of the generator's (2: 64 and 64 for a 32-unit G)."""
    m_dropout: float = 0.5
    """Dropout on the mediator's LSTM outputs, during its own update only."""
    m_init_std: float = 0.1
    """Mediator embedding, input and output weights start N(0, m_init_std); recurrent weights orthogonal."""
    default_steps: int = 2000
    """Budget without `train.steps`: from scratch CoT needs far more iterations than MLE needs batches
    (the reference runs 200,000); 2,000 show NLL_oracle, NLL_test and the JSD moving well away from
    their initial values in minutes on a laptop."""

    def __post_init__(self) -> None:
        check_finite(self, "algorithm")
        check_positive(self, "algorithm", "g_lr", "m_lr", "m_init_std")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"algorithm.betas={list(self.betas)}: must be two numbers in [0, 1)")
        check_at_least(self, "algorithm", 1, "batch_size", "m_steps", "m_width", "default_steps")
        if not 0.0 <= self.m_dropout < 1.0:
            raise ValueError(f"algorithm.m_dropout={self.m_dropout}: must be in [0, 1)")


def generator_loss(g_logits: Tensor, m_logits: Tensor, mask: Tensor) -> Tensor:
    """Mean over scored (b, t) of KL(pi_g || pi_m) = sum_x pi_g(x) [log pi_g(x) - log pi_m(x)].

    g_logits, m_logits: (B, T, V) teacher-forced logits of G and M on the same sequences;
    mask: (B, T) scored positions. Gradients flow into whatever produced `g_logits` only when
    `m_logits` carries none (the caller computes them without a graph).
    """
    return (stepwise_kl(g_logits, m_logits) * mask).sum() / mask.sum()


def stepwise_kl(g_logits: Tensor, m_logits: Tensor) -> Tensor:
    """KL(pi_g || pi_m) over the whole vocabulary at each position: (..., V) logits -> (...)."""
    log_g = g_logits.log_softmax(dim=-1)
    log_m = m_logits.log_softmax(dim=-1)
    return (log_g.exp() * (log_g - log_m)).sum(dim=-1)


def generator_backward(generator: Generator, mediator: Generator, tokens: Tensor, chunk: int | None) -> Tensor:
    """Backpropagate `generator_loss` of G and M on `tokens` into G only, chunk by chunk of positions.

    M runs without a graph and without dropout; its logits are made chunk by chunk as well, so
    neither model's (B * T, V) logits are ever held whole.
    """
    mask = generator.space.mask(tokens).reshape(-1)  # (B * T,)
    count = mask.sum()
    with torch.no_grad(), evaluating(mediator):
        m_hidden = mediator.hidden(tokens).reshape(-1, mediator.config.hidden_dim)  # (B * T, H_m)

    def position_loss(rows: Tensor, part: slice) -> Tensor:
        with torch.no_grad():
            m_logits = mediator.out(m_hidden[part])
        return (stepwise_kl(generator.out(rows), m_logits) * mask[part]).sum() / count

    return backward_by_chunks(generator.hidden(tokens), position_loss, chunk)


def mediator_config(generator: Generator, config: CoTConfig) -> GeneratorConfig:
    """The mediator's shape: `m_width` times the generator's sizes, CoT's initialisation and dropout."""
    g = generator.config
    return GeneratorConfig(
        emb_dim=g.emb_dim * config.m_width,
        hidden_dim=g.hidden_dim * config.m_width,
        init_std=config.m_init_std,
        recurrent_init="orthogonal",
        output_dropout=config.m_dropout,
    )


class CoT(Algorithm):
    """One iteration = one generator step + `m_steps` mediator steps; M is another `Generator`."""

    config_class = CoTConfig

    def __init__(self, config: CoTConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        self.mediator = Generator(self.generator.space, mediator_config(self.generator, config)).to(context.device)
        self.mediator.eval()  # dropout is switched on only inside `mediator_step`
        self.mediator.capture_graphs = context.capture
        self.batches = EpochBatches(context.train_data, config.batch_size, context.rng)
        betas = tuple(config.betas)
        self.g_optimizer = Adam(self.generator.parameters(), context.device, lr=config.g_lr, betas=betas)
        self.m_optimizer = Adam(self.mediator.parameters(), context.device, lr=config.m_lr, betas=betas)
        self.chunk = chunk_size_for(context.device)
        self.g_update = graphed(self._g_update, context.capture)
        self.m_update = graphed(self._m_update, context.capture)

    def step(self) -> dict[str, Tensor]:
        losses = {"g_loss": self.generator_step()}
        losses["m_loss"] = mean_in_float64([self.mediator_step() for _ in range(self.config.m_steps)])
        return losses

    def generator_step(self) -> Tensor:
        """Lower the per-step KL(pi_g || pi_m) on B fresh samples of G; M is frozen (eval, no grad)."""
        (loss,) = self.g_update(self.generator.draw_uniforms(self.config.batch_size, self.context.rng))
        return loss

    def mediator_step(self) -> Tensor:
        """Lower M's mean per-token NLL of B real + B fresh generated sequences, dropout on."""
        real = self.batches.next()  # (B, T)
        (loss,) = self.m_update(real, self.generator.draw_uniforms(self.config.batch_size, self.context.rng))
        return loss

    def _g_update(self, uniforms: Tensor) -> tuple[Tensor]:
        """The generator step on the samples `uniforms` (B, T) drive (the part a CUDA graph can replay)."""
        tokens = self.generator.sample_from(uniforms).tokens  # (B, T)
        compute = lambda: generator_backward(self.generator, self.mediator, tokens, self.chunk)  # noqa: E731
        return (optimizer_step(self.g_optimizer, compute),)

    def _m_update(self, real: Tensor, uniforms: Tensor) -> tuple[Tensor]:
        """The mediator step on `real` and the samples `uniforms` drive (the part a CUDA graph can replay)."""
        fake = self.generator.sample_from(uniforms).tokens  # (B, T)
        compute = lambda: teacher_forcing_backward(self.mediator, torch.cat([real, fake]), self.chunk)  # noqa: E731
        return (optimizer_step(self.m_optimizer, compute, train=self.mediator),)

    def evaluation_figures(self, context: EvaluationContext) -> dict[str, float]:
        """`m_balanced_nll`, and on synthetic data `jsd_mediator_bound` with its standard error.

        `m_balanced_nll`: M's per-token NLL, halfway between the test set and G's samples (dropout
        off), equal weight to each half whatever their sizes, as in M's own loss. It is not a JSD:
        its minimum is JSD + H(P)/2 + H(G)/2 per sequence (docs/design.md §3.3), so it moves with H(G) too.
        """
        space = self.mediator.space
        m_on_test = self.mediator.score(context.test)  # (N, T), dropout off
        m_on_samples = self.mediator.score(context.samples)
        on_test = mean_token_nll(m_on_test, space.mask(context.test))
        on_samples = mean_token_nll(m_on_samples, space.mask(context.samples))
        figures = {"m_balanced_nll": 0.5 * (on_test + on_samples)}
        bound = self.mediator_bound(context, m_on_test, m_on_samples)
        if bound is not None:
            figures["jsd_mediator_bound"], figures["jsd_mediator_bound_se"] = bound
        return figures

    def mediator_bound(self, context: EvaluationContext, m_on_test: Tensor, m_on_samples: Tensor) -> JSDEstimate | None:
        """1/2 KL(P || M) + 1/2 KL(G || M) on whole sequences, M's own density (docs/design.md §4.4).

        At least the true JSD, equal iff M is exactly the mixture (P + G)/2: its gap to `jsd` says
        how well the mediator tracks what it is trained to fit. Exact when the space is enumerated;
        otherwise Monte Carlo from the test set (P's side) and G's samples. None without an oracle.
        """
        if context.enumeration is not None:
            every = context.enumeration
            log_m = self.mediator.score(every.sequences).sum(1)
            return jsd_mediator_bound_exact(every.oracle.sum(1), every.model.sum(1), log_m)
        if context.oracle_on_test is None:
            return None
        return jsd_mediator_bound_monte_carlo(
            p_on_p=context.oracle_on_test.sum(1),
            m_on_p=m_on_test.sum(1),
            g_on_g=context.sample_log_probs.sum(1),
            m_on_g=m_on_samples.sum(1),
        )

    def parts(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "mediator": self.mediator,
            "g_optimizer": self.g_optimizer,
            "m_optimizer": self.m_optimizer,
            "batches": self.batches,
        }
