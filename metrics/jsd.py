"""The true sequence-level Jensen-Shannon divergence JSD(P || G), in nats (docs/design.md §4.2).

JSD = 1/2 E_P[log P - log M] + 1/2 E_G[log G - log M], with M = (P + G)/2 on whole sequences, so
log M(x) = logaddexp(log P(x), log G(x)) - ln 2. Each expectation's integrand is
ln 2 - softplus(log Q(x) - log R(x)), where R is the sampling model and Q the other one.
Exact by enumeration on small spaces; Monte Carlo with exact densities otherwise.

Also the figure CoT's reference code logs as "jsd", under the name it deserves: it mixes the two
models per token, Q(x) = prod_t (p(x_t | x_<t) + g(x_t | x_<t)) / 2, and reports
1/2 KL(P || Q) + 1/2 KL(G || Q) in nats per sequence. Q is a proper autoregressive distribution and
M = (P + G)/2 minimises 1/2 KL(P || R) + 1/2 KL(G || R) over all R, so this is an upper bound on the
true JSD; every token adds at most ln 2, so it can reach T ln 2 (13.9 nats at T = 20).

And CoT's mediator bound: 1/2 KL(P || R) + 1/2 KL(G || R) >= JSD(P, G) for any distribution R, with
equality iff R = (P + G)/2. With R = the mediator's own whole-sequence density, its gap to the
true JSD measures how well the mediator tracks the mixture it is trained to fit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

LN2 = math.log(2.0)


class JSDEstimate(NamedTuple):
    value: float  # nats
    standard_error: float  # 0 for an exact value


def half_terms(log_own: Tensor, log_other: Tensor) -> Tensor:
    """log R(x) - log M(x) for x drawn from R, computed stably: ln 2 - softplus(log Q - log R)."""
    diff = (log_other.double() - log_own.double()).nan_to_num(nan=0.0)
    return LN2 - torch.nn.functional.softplus(diff)


def jsd_monte_carlo(p_on_p: Tensor, g_on_p: Tensor, g_on_g: Tensor, p_on_g: Tensor) -> JSDEstimate:
    """Monte Carlo JSD from whole-sequence log-probabilities.

    p_on_p, g_on_p: log P and log G of sequences drawn from P; g_on_g, p_on_g: log G and log P of
    sequences drawn from G. The standard error combines the two independent sample means.
    """
    return half_means(half_terms(p_on_p, g_on_p), half_terms(g_on_g, p_on_g))


def half_means(a: Tensor, b: Tensor) -> JSDEstimate:
    """1/2 mean(a) + 1/2 mean(b) for independent samples a (drawn from P) and b (from G), with its standard error."""
    if a.numel() < 2 or b.numel() < 2:
        raise ValueError("Monte Carlo JSD needs at least 2 samples from each model")
    value = 0.5 * a.mean() + 0.5 * b.mean()
    variance = 0.25 * a.var() / a.numel() + 0.25 * b.var() / b.numel()
    return JSDEstimate(float(value), float(variance.sqrt()))


def jsd_exact(log_p: Tensor, log_g: Tensor) -> JSDEstimate:
    """Exact JSD from the log-probabilities of every sequence in the space under P and G."""
    return JSDEstimate(float(jsd_terms_sum(log_p, log_g)), 0.0)


def jsd_terms_sum(log_p: Tensor, log_g: Tensor) -> Tensor:
    """sum over the given x of 1/2 P log(P/M) + 1/2 G log(G/M): the JSD when they are the whole space."""
    log_p, log_g = log_p.double(), log_g.double()
    log_m = torch.logaddexp(log_p, log_g) - LN2
    p_part = torch.where(log_p > -math.inf, log_p.exp() * (log_p - log_m), 0.0).sum()
    g_part = torch.where(log_g > -math.inf, log_g.exp() * (log_g - log_m), 0.0).sum()
    return 0.5 * p_part + 0.5 * g_part


def _token_half_sums(log_own: Tensor, log_other: Tensor) -> Tensor:
    """(N,) sum over t of log r_t - log q_t for sequences drawn from R, q_t = (r_t + o_t)/2 per token.

    Inputs are (N, T) per-token log-probabilities; unscored (PAD) positions carry 0 under both
    models and so add ln 2 - softplus(0) = 0.
    """
    return half_terms(log_own, log_other).sum(dim=1)


def jsd_stepwise_bound_monte_carlo(p_on_p: Tensor, g_on_p: Tensor, g_on_g: Tensor, p_on_g: Tensor) -> JSDEstimate:
    """CoT's per-token-mixture bound, nats per sequence, from (N, T) per-token log-probabilities.

    Same arguments as `jsd_monte_carlo`, one column per step instead of whole-sequence sums.
    """
    return half_means(_token_half_sums(p_on_p, g_on_p), _token_half_sums(g_on_g, p_on_g))


def jsd_stepwise_bound_exact(log_p: Tensor, log_g: Tensor) -> JSDEstimate:
    """CoT's per-token-mixture bound from (N, T) per-token log-probabilities of every sequence of the space."""
    log_p, log_g = log_p.double(), log_g.double()

    def expectation(log_own: Tensor, log_other: Tensor) -> Tensor:
        weight = log_own.sum(1).exp()  # (N,) probability of each sequence under the sampling model
        return torch.where(weight > 0, weight * _token_half_sums(log_own, log_other), 0.0).sum()

    return JSDEstimate(float(0.5 * expectation(log_p, log_g) + 0.5 * expectation(log_g, log_p)), 0.0)


def jsd_mediator_bound_monte_carlo(p_on_p: Tensor, m_on_p: Tensor, g_on_g: Tensor, m_on_g: Tensor) -> JSDEstimate:
    """1/2 KL(P || R) + 1/2 KL(G || R) in nats from whole-sequence log-probabilities.

    p_on_p, m_on_p: log P and log R of sequences drawn from P; g_on_g, m_on_g: log G and log R of
    sequences drawn from G. Unbounded above (R may miss where P or G put mass).
    """
    return half_means(p_on_p.double() - m_on_p.double(), g_on_g.double() - m_on_g.double())


def jsd_mediator_bound_exact(log_p: Tensor, log_g: Tensor, log_m: Tensor) -> JSDEstimate:
    """The same from the whole-sequence log-probabilities of every sequence of the space under P, G and R."""
    log_p, log_g, log_m = log_p.double(), log_g.double(), log_m.double()
    p_part = torch.where(log_p > -math.inf, log_p.exp() * (log_p - log_m), 0.0).sum()
    g_part = torch.where(log_g > -math.inf, log_g.exp() * (log_g - log_m), 0.0).sum()
    return JSDEstimate(float(0.5 * p_part + 0.5 * g_part), 0.0)
