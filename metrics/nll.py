"""Negative log-likelihood in nats per token: NLL_oracle and NLL_test (docs/design.md §4.1).

NLL_oracle is the oracle's NLL of the model's samples (quality; no floor), NLL_test the model's
NLL of held-out real data (coverage). Both are the same reduction over different log-probabilities,
so both are computed here from (N, T) token log-probabilities and the mask of scored positions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mean_token_nll(token_log_probs: Tensor, mask: Tensor | None = None) -> float:
    """Mean of -log p over scored tokens (all tokens when `mask` is None), in nats per token."""
    if mask is None:
        mask = torch.ones_like(token_log_probs, dtype=torch.bool)
    count = int(mask.sum())
    if count == 0:
        raise ValueError("no scored tokens: the NLL of an empty set is undefined")
    total = token_log_probs.double().masked_fill(~mask, 0.0).sum()
    return float(-total / count)


def nll_oracle(oracle_log_probs_of_samples: Tensor, mask: Tensor | None = None) -> float:
    """NLL_oracle: the oracle's per-token NLL of sequences the model generated."""
    return mean_token_nll(oracle_log_probs_of_samples, mask)


def nll_test(model_log_probs_of_test: Tensor, mask: Tensor | None = None) -> float:
    """NLL_test: the model's per-token NLL of the held-out test set."""
    return mean_token_nll(model_log_probs_of_test, mask)
