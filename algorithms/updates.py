"""What every update shares: one optimiser, one optimiser step, and losses computed in chunks.

Each algorithm file states its loss as a formula first (MLE's `mle_loss`, CoT's
`generator_loss`, SeqGAN's `policy_gradient_loss`); the functions named `*_backward` compute the
same value, and its gradient, in chunks of positions, and tests compare the two.

On a CPU the output layer's (B*T, V) logits (V = 5000) dominate a training step: one large
log-softmax and its backward stream tens of megabytes through memory several times. Computing
the loss and its gradient for a few hundred positions at a time keeps each chunk's logits in
cache (about 1.8x faster for the output layer on 2 cores); the gradients with respect to the LSTM
outputs are gathered and sent back through the LSTM once. Value and gradients are those of the
whole loss, up to float rounding (tests compare them). On a GPU one chunk holds every position.

Losses come back as 0-dim tensors on the run's device, never read here: reading a value back to
the host makes it wait for every queued kernel, which on a GPU costs more than the step itself.
The training loop reads them at logging time (bench/training/losses.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import Generator
from models.capture import GraphedCall

T = TypeVar("T")

CPU_CHUNK = 256
"""Positions per chunk on a CPU: (256, 5000) float32 logits are 5 MB."""

IGNORED = -100
"""cross_entropy's ignore_index: the target of a position that is never scored (PAD)."""

TokenLoss = Callable[[Tensor, Tensor], Tensor]
"""(logits (n, V), targets (n,) with IGNORED at unscored positions) -> the SUM of their losses."""

DEVICE_OPTIONS = ("fused", "capturable", "foreach")
"""Adam's options that say how it runs on its device, never what it computes."""


def chunk_size_for(device: torch.device) -> int | None:
    """Chunk by positions on a CPU; None (everything at once) on an accelerator."""
    return CPU_CHUNK if device.type == "cpu" else None


def backward_by_chunks(hidden: Tensor, position_loss: Callable[[Tensor, slice], Tensor], chunk: int | None) -> Tensor:
    """Backpropagate sum_chunks position_loss(hidden rows, their slice) and return its value (0-dim, detached).

    hidden: (B, T, H) outputs of the recurrent part, with their graph; `position_loss(rows, part)`
    gets the flattened rows `part` of it, (n, H), and returns that chunk's share of the loss (a
    scalar, already scaled: the chunks' losses add up to the whole loss). The chunks' values are
    added in float64, in order.
    """
    flat = hidden.reshape(-1, hidden.shape[-1])  # (B * T, H)
    if chunk is None or chunk >= flat.shape[0]:
        loss = position_loss(flat, slice(None))
        loss.backward()
        return loss.detach()
    rows = flat.detach().requires_grad_()
    total = torch.zeros((), dtype=torch.float64, device=flat.device)
    for start in range(0, flat.shape[0], chunk):
        part = slice(start, start + chunk)
        loss = position_loss(rows[part], part)
        loss.backward()  # into the output layer's parameters and rows.grad[part]
        total += loss.detach()
    flat.backward(rows.grad)
    return total


def cross_entropy_sum(logits: Tensor, targets: Tensor) -> Tensor:
    """The default `TokenLoss`: summed negative log-likelihood of the targets (IGNORED ones skipped).

    In deterministic mode on CUDA, where `nll_loss` has no deterministic kernel, the same sum is
    `gathered_cross_entropy_sum`'s."""
    if logits.is_cuda and torch.are_deterministic_algorithms_enabled():
        return gathered_cross_entropy_sum(logits, targets)
    return F.cross_entropy(logits, targets, ignore_index=IGNORED, reduction="sum")


def gathered_cross_entropy_sum(logits: Tensor, targets: Tensor) -> Tensor:
    """`cross_entropy_sum` from log_softmax and gather, whose CUDA backward has a deterministic form."""
    picked = logits.log_softmax(dim=1).gather(1, targets.clamp(min=0).unsqueeze(1)).squeeze(1)
    return -picked.masked_fill(targets == IGNORED, 0.0).sum()


def cross_entropy_mean(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean negative log-likelihood of every target (none ignored): `F.cross_entropy`, deterministic on CUDA."""
    if logits.is_cuda and torch.are_deterministic_algorithms_enabled():
        return gathered_cross_entropy_sum(logits, targets) / targets.shape[0]
    return F.cross_entropy(logits, targets)


def teacher_forcing_backward(
    generator: Generator, batch: Tensor, chunk: int | None, token_loss: TokenLoss = cross_entropy_sum
) -> Tensor:
    """Backpropagate the mean over scored positions of `token_loss`, chunk by chunk; return its value.

    With the default `token_loss` this is `algorithms.mle.mle_loss`, the same value computed in
    chunks (tests compare them); a variant (label smoothing, a
    weighted loss) passes its own per-position loss and keeps the chunking and the PAD handling.
    """
    mask = generator.space.mask(batch)
    targets = batch.masked_fill(~mask, IGNORED).reshape(-1)  # PAD positions drop out of the sum
    count = mask.sum()  # stays on the device

    def position_loss(rows: Tensor, part: slice) -> Tensor:
        return token_loss(generator.out(rows), targets[part]) / count

    return backward_by_chunks(generator.hidden(batch), position_loss, chunk)


def backward(loss: Tensor) -> Tensor:
    """Backpropagate a loss computed in one piece; return its value (0-dim, detached)."""
    loss.backward()
    return loss.detach()


def mean_in_float64(values: Sequence[Tensor]) -> Tensor:
    """The mean of several steps' losses, added in float64 in order (as Python adds floats)."""
    total: Any = 0
    for value in values:
        total = total + value.double()
    return total / len(values)


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


class Adam(torch.optim.Adam):
    """torch's Adam, run as suits its device: on CUDA fused (one kernel per step instead of several per
    parameter) and capturable (its step count lives on the device, so a CUDA graph can replay the step,
    and a run computes the same numbers with `cuda_graphs` on or off); elsewhere as given.

    A state saved on another device carries that device's options; loading it keeps this one's.
    """

    def __init__(self, parameters: Any, device: torch.device, **options: Any) -> None:
        if device.type == "cuda":
            options = {"fused": True, "capturable": True} | options
        super().__init__(parameters, **options)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        kept = [{name: group.get(name) for name in DEVICE_OPTIONS} for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, options in zip(self.param_groups, kept, strict=True):
            group.update(options)
            if group["fused"] or group["capturable"]:  # the step count must live beside the parameters
                for parameter in group["params"]:
                    state = self.state.get(parameter, {})
                    if "step" in state:
                        state["step"] = state["step"].to(parameter.device, torch.float32)


def graphed(body: Callable[..., tuple[Tensor, ...]], capture: bool) -> GraphedCall:
    """`body` (a whole update on fixed-shape inputs) replayed from a CUDA graph when `capture` is set."""
    return GraphedCall(body, enabled=capture)
