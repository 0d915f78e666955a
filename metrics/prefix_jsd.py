"""Prefix JSD: J_t = JSD(P_{1:t} || G_{1:t}) between the distributions of the first t tokens, in nats.

The whole-sequence JSD saturates at ln 2 as soon as per-sequence log-ratios reach tens of nats
(the canonical oracle at T = 20), while the first few tokens still separate models. An
autoregressive model gives exact prefix log-probabilities (cumulative sums of its per-token ones),
so the samples and test set that give the sequence JSD give every J_t by Monte Carlo at no extra
sampling. J_t is non-decreasing in t (marginalising cannot increase a divergence), J_T is the
sequence JSD, and J_bar = mean over t = 1..T of J_t is still a divergence (0 iff P = G, at most ln 2).

Every J_t shares the samples of the others, so the standard error of J_bar is computed from each
sample's mean of its T terms, never by combining the standard errors of the J_t.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from metrics.jsd import JSDEstimate, half_terms


class PrefixJSD(NamedTuple):
    """The curve J_1..J_T with standard errors, which points are exact, and its mean J_bar."""

    values: Tensor  # (T,) float64, nats
    standard_errors: Tensor  # (T,) float64; 0 where exact
    exact: Tensor  # (T,) bool
    mean: float  # J_bar, nats
    mean_standard_error: float


def _prefix_half_terms(log_own: Tensor, log_other: Tensor) -> Tensor:
    """(N, T) log R(x_{1:t}) - log M(x_{1:t}) for sequences drawn from R, from (N, T) per-token log-probabilities."""
    return half_terms(_running_sum(log_own.double()), _running_sum(log_other.double()))


def _running_sum(values: Tensor) -> Tensor:
    """cumsum along dim 1. The float cumsum has no deterministic CUDA kernel (deterministic mode refuses
    it); there the T columns are added one after another, the additions a CPU's cumsum makes."""
    if not (values.is_cuda and torch.are_deterministic_algorithms_enabled()):
        return values.cumsum(dim=1)
    sums = values.clone()
    for t in range(1, values.shape[1]):
        sums[:, t] += sums[:, t - 1]
    return sums


def prefix_jsd_monte_carlo(
    p_on_p: Tensor, g_on_p: Tensor, g_on_g: Tensor, p_on_g: Tensor, exact: dict[int, float] | None = None
) -> PrefixJSD:
    """Every J_t from (N, T) per-token log-probabilities (arguments as in `jsd_monte_carlo`).

    `exact` maps a prefix length t (1-based) to its exact J_t (computed elsewhere, e.g. over V or
    V^2 prefixes); those points replace their Monte Carlo estimates, in the curve and in J_bar,
    and carry no sampling error.
    """
    if p_on_p.shape[0] < 2 or g_on_g.shape[0] < 2:
        raise ValueError("Monte Carlo prefix JSD needs at least 2 samples from each model")
    from_p, from_g = _prefix_half_terms(p_on_p, g_on_p), _prefix_half_terms(g_on_g, p_on_g)  # (N, T) each
    length = from_p.shape[1]
    is_exact = torch.zeros(length, dtype=torch.bool)
    values = 0.5 * from_p.mean(0) + 0.5 * from_g.mean(0)
    errors = (0.25 * from_p.var(0) / from_p.shape[0] + 0.25 * from_g.var(0) / from_g.shape[0]).sqrt()
    for t, value in (exact or {}).items():
        if not 1 <= t <= length:
            raise ValueError(f"exact prefix length t={t}: must lie in [1, {length}]")
        is_exact[t - 1], values[t - 1], errors[t - 1] = True, value, 0.0
    sampled = (~is_exact).to(from_p.device)
    # J_bar's error: each sample's mean over the Monte Carlo points, shared samples accounted for.
    per_p = from_p[:, sampled].sum(1) / length
    per_g = from_g[:, sampled].sum(1) / length
    mean_error = (0.25 * per_p.var() / per_p.numel() + 0.25 * per_g.var() / per_g.numel()).sqrt()
    if not bool(sampled.any()):
        mean_error = torch.zeros((), dtype=torch.float64)
    return PrefixJSD(values.cpu(), errors.cpu(), is_exact, float(values.mean()), float(mean_error))


def prefix_jsd_exact(log_p: Tensor, log_g: Tensor) -> PrefixJSD:
    """Every J_t exactly from (N, T) per-token log-probabilities of every sequence of the space.

    J_t = 1/2 sum_x P(x) [log P(x_{1:t}) - log M(x_{1:t})] + 1/2 sum_x G(x) [...]: the integrand
    depends on the prefix only, so weighting whole sequences sums each prefix's probability.
    """
    log_p, log_g = log_p.double(), log_g.double()

    def expectation(log_own: Tensor, log_other: Tensor) -> Tensor:
        weight = log_own.sum(1).exp().unsqueeze(1)  # (N, 1) probability of each whole sequence
        terms = _prefix_half_terms(log_own, log_other)
        return torch.where(weight > 0, weight * terms, 0.0).sum(0)  # (T,)

    values = (0.5 * expectation(log_p, log_g) + 0.5 * expectation(log_g, log_p)).cpu()
    length = values.numel()
    return PrefixJSD(
        values,
        torch.zeros(length, dtype=torch.float64),
        torch.ones(length, dtype=torch.bool),
        float(values.mean()),
        0.0,
    )


def jsd_exact_in_chunks(chunks: Iterable[tuple[Tensor, Tensor]]) -> JSDEstimate:
    """Exact JSD over a space listed chunk by chunk: each chunk gives (log P, log G) of its members.

    Used for J_2 over V^2 prefixes without holding all of them: memory is one chunk's. Written as
    H(M) - H(P)/2 - H(G)/2 term by term in the inputs' precision (float32: twice as fast as
    `jsd_terms_sum` in float64, which dominated an evaluation's added time), summed in float64;
    at V = 5000 the two agree to 1e-8 nats.
    """
    total = 0.0
    for log_p, log_g in chunks:
        p, g = log_p.exp(), log_g.exp()
        m = 0.5 * (p + g)
        own = torch.where(p > 0, p * log_p, 0.0) + torch.where(g > 0, g * log_g, 0.0)
        total += float((0.5 * own - torch.special.xlogy(m, m)).sum(dtype=torch.float64))
    return JSDEstimate(total, 0.0)
