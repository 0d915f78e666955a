"""The true sequence-level Jensen-Shannon divergence JSD(P || G), in nats (DESIGN §4).

JSD = 1/2 E_P[log P - log M] + 1/2 E_G[log G - log M], with M = (P + G)/2 on whole sequences, so
log M(x) = logaddexp(log P(x), log G(x)) - ln 2. Each expectation's integrand is
ln 2 - softplus(log Q(x) - log R(x)), where R is the sampling model and Q the other one.
Exact by enumeration on small spaces; Monte Carlo with exact densities otherwise.
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


def _half_terms(log_own: Tensor, log_other: Tensor) -> Tensor:
    """log R(x) - log M(x) for x drawn from R, computed stably: ln 2 - softplus(log Q - log R)."""
    diff = (log_other.double() - log_own.double()).nan_to_num(nan=0.0)
    return LN2 - torch.nn.functional.softplus(diff)


def jsd_monte_carlo(p_on_p: Tensor, g_on_p: Tensor, g_on_g: Tensor, p_on_g: Tensor) -> JSDEstimate:
    """Monte Carlo JSD from whole-sequence log-probabilities.

    p_on_p, g_on_p: log P and log G of sequences drawn from P; g_on_g, p_on_g: log G and log P of
    sequences drawn from G. The standard error combines the two independent sample means.
    """
    a = _half_terms(p_on_p, g_on_p)
    b = _half_terms(g_on_g, p_on_g)
    if a.numel() < 2 or b.numel() < 2:
        raise ValueError("Monte Carlo JSD needs at least 2 samples from each model")
    value = 0.5 * a.mean() + 0.5 * b.mean()
    variance = 0.25 * a.var() / a.numel() + 0.25 * b.var() / b.numel()
    return JSDEstimate(float(value), float(variance.sqrt()))


def jsd_exact(log_p: Tensor, log_g: Tensor) -> JSDEstimate:
    """Exact JSD from the log-probabilities of every sequence in the space under P and G."""
    log_p, log_g = log_p.double(), log_g.double()
    log_m = torch.logaddexp(log_p, log_g) - LN2
    p_part = torch.where(log_p > -math.inf, log_p.exp() * (log_p - log_m), 0.0).sum()
    g_part = torch.where(log_g > -math.inf, log_g.exp() * (log_g - log_m), 0.0).sum()
    return JSDEstimate(float(0.5 * p_part + 0.5 * g_part), 0.0)
