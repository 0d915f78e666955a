"""Training pieces every algorithm shares: chunked backward, teacher-forcing backward, clipped update.

On a CPU the output layer's (B*T, V) logits (V = 5000) dominate a training step: one large
log-softmax and its backward stream tens of megabytes through memory several times. Computing
the loss and its gradient for a few hundred positions at a time keeps each chunk's logits in
cache (about 1.8x faster for the output layer on 2 cores); the gradients with respect to the LSTM
outputs are gathered and sent back through the LSTM once. Value and gradients are those of the
whole loss, up to float rounding (tests compare them). On a GPU one chunk holds every position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from models.generator import Generator

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


def teacher_forcing_loss(generator: Generator, batch: Tensor) -> Tensor:
    """Mean per-token NLL of `batch` under `generator` (PAD never counts), in one piece."""
    mask = generator.space.mask(batch)
    return -(generator.token_log_probs(batch) * mask).sum() / mask.sum()


def teacher_forcing_backward(
    generator: Generator, batch: Tensor, chunk: int | None, token_loss: TokenLoss = cross_entropy_sum
) -> float:
    """Backpropagate the mean over scored positions of `token_loss`, chunk by chunk; return its value.

    With the default `token_loss` this is `teacher_forcing_loss`; a variant (label smoothing, a
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


def clipped_update(
    optimizer: torch.optim.Optimizer, compute: Callable[[], float], params: Iterable[Tensor], clip: float
) -> float:
    """One optimiser step: `compute()` backpropagates a loss and returns its value; the global
    gradient norm is clipped to `clip` first when clip > 0."""
    optimizer.zero_grad(set_to_none=True)
    loss = compute()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    return loss
