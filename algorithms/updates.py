"""What every update shares: one optimiser step, and losses computed in chunks.

Each algorithm file states its loss as a formula first (MLE's `mle_loss`, CoT's
`generator_loss`, SeqGAN's `policy_gradient_loss`); the functions named `*_backward` compute the
same value, and its gradient, in chunks of positions, and tests compare the two.

On a CPU the output layer's (B*T, V) logits (V = 5000) dominate a training step: one large
log-softmax and its backward stream tens of megabytes through memory several times. Computing
the loss and its gradient for a few hundred positions at a time keeps each chunk's logits in
cache (about 1.8x faster for the output layer on 2 cores); the gradients with respect to the LSTM
outputs are gathered and sent back through the LSTM once. Value and gradients are those of the
whole loss, up to float rounding (tests compare them). On a GPU one chunk holds every position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import Generator

T = TypeVar("T")

CPU_CHUNK = 256
"""Positions per chunk on a CPU: (256, 5000) float32 logits are 5 MB."""

IGNORED = -100
"""cross_entropy's ignore_index: the target of a position that is never scored (PAD)."""

TokenLoss = Callable[[Tensor, Tensor], Tensor]
"""(logits (n, V), targets (n,) with IGNORED at unscored positions) -> the SUM of their losses."""


def chunk_size_for(device: torch.device) -> int | None:
    """Chunk by positions on a CPU; None (everything at once) on an accelerator."""
    return CPU_CHUNK if device.type == "cpu" else None


def backward_by_chunks(hidden: Tensor, position_loss: Callable[[Tensor, slice], Tensor], chunk: int | None) -> float:
    """Backpropagate sum_chunks position_loss(hidden rows, their slice) and return its value.

    hidden: (B, T, H) outputs of the recurrent part, with their graph; `position_loss(rows, part)`
    gets the flattened rows `part` of it, (n, H), and returns that chunk's share of the loss (a
    scalar, already scaled: the chunks' losses add up to the whole loss).
    """
    flat = hidden.reshape(-1, hidden.shape[-1])  # (B * T, H)
    if chunk is None or chunk >= flat.shape[0]:
        loss = position_loss(flat, slice(None))
        loss.backward()
        return loss.item()
    rows = flat.detach().requires_grad_()
    total = 0.0
    for start in range(0, flat.shape[0], chunk):
        part = slice(start, start + chunk)
        loss = position_loss(rows[part], part)
        loss.backward()  # into the output layer's parameters and rows.grad[part]
        total += loss.item()
    flat.backward(rows.grad)
    return total


def cross_entropy_sum(logits: Tensor, targets: Tensor) -> Tensor:
    """The default `TokenLoss`: summed negative log-likelihood of the targets (IGNORED ones skipped)."""
    return F.cross_entropy(logits, targets, ignore_index=IGNORED, reduction="sum")


def teacher_forcing_backward(
    generator: Generator, batch: Tensor, chunk: int | None, token_loss: TokenLoss = cross_entropy_sum
) -> float:
    """Backpropagate the mean over scored positions of `token_loss`, chunk by chunk; return its value.

    With the default `token_loss` this is `algorithms.mle.mle_loss`, the same value computed in
    chunks (tests compare them); a variant (label smoothing, a
    weighted loss) passes its own per-position loss and keeps the chunking and the PAD handling.
    """
    mask = generator.space.mask(batch)
    targets = batch.masked_fill(~mask, IGNORED).reshape(-1)  # PAD positions drop out of the sum
    count = int(mask.sum())

    def position_loss(rows: Tensor, part: slice) -> Tensor:
        return token_loss(generator.out(rows), targets[part]) / count

    return backward_by_chunks(generator.hidden(batch), position_loss, chunk)


def backward(loss: Tensor) -> float:
    """Backpropagate a loss computed in one piece; return its value."""
    loss.backward()
    return loss.item()


def optimizer_step(
    optimizer: torch.optim.Optimizer, compute: Callable[[], T], clip: float = 0.0, train: nn.Module | None = None
) -> T:
    """One update: zero the gradients, `compute()` backpropagates a loss and returns what to log,
    the global gradient norm of the optimiser's parameters is clipped to `clip` (0: no clipping),
    then the optimiser steps. With `train`, that network runs the update in training mode (its
    dropout on) and is back in eval mode afterwards, whatever happens."""
    if train is not None:
        train.train()
    try:
        optimizer.zero_grad(set_to_none=True)
        logged = compute()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(parameters_of(optimizer), clip)
        optimizer.step()
    finally:
        if train is not None:
            train.eval()
    return logged


def parameters_of(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    """The parameters an optimiser updates, in its order."""
    return [parameter for group in optimizer.param_groups for parameter in group["params"]]
