"""G's per-token entropy, in nats per token, estimated from its own samples.

H = E_G[-log g(x_t | x_<t)] averaged over scored tokens: the mean of -log g over the tokens the
sampler drew, with the log-probabilities it drew them with, so it costs nothing beyond the samples
every evaluation already takes. A model that buys NLL_oracle by collapsing shows a falling entropy.
"""

from __future__ import annotations

import torch
from torch import Tensor


def entropy_from_samples(token_log_probs: Tensor, mask: Tensor | None = None) -> tuple[float, float]:
    """(value, standard error): mean of -log g over scored tokens of G's own samples.

    Tokens of one sequence are dependent, so the error treats sequences as the independent draws:
    the ratio estimator sum(-log g) / count, linearised per sequence.
    """
    if mask is None:
        mask = torch.ones_like(token_log_probs, dtype=torch.bool)
    neg = -token_log_probs.double().masked_fill(~mask, 0.0)
    per_sequence, counts = neg.sum(1), mask.sum(1).double()  # (N,) each
    n, total = per_sequence.numel(), counts.sum()
    if n < 2 or total == 0:
        raise ValueError("the entropy estimate needs at least 2 sampled sequences with scored tokens")
    value = per_sequence.sum() / total
    residual = per_sequence - value * counts  # linearised ratio estimator: one term per sequence
    error = residual.std() * n**0.5 / total
    return float(value), float(error)
