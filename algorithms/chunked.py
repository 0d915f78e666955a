"""Backpropagate a per-position loss through the output layer in cache-sized chunks of positions.

On a CPU the output layer's (B*T, V) logits (V = 5000) dominate a training step: one large
log-softmax and its backward stream tens of megabytes through memory several times. Computing
the loss and its gradient for a few hundred positions at a time keeps each chunk's logits in
cache (about 1.8x faster for the output layer on 2 cores); the gradients with respect to the LSTM
outputs are gathered and sent back through the LSTM once. Value and gradients are those of the
whole loss, up to float rounding (tests compare them). On a GPU one chunk holds every position.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

CPU_CHUNK = 256
"""Positions per chunk on a CPU: (256, 5000) float32 logits are 5 MB."""


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
