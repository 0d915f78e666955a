"""Fast sampling from the shared LSTM: a hand-written cell and inverse-CDF draws.

Teacher forcing runs through `nn.LSTM`; sampling one token at a time does not need its machinery.
The input projection is folded into a (V, 4H) table (one row per input token), and each token is
drawn by inverse-CDF search on the cumulative softmax: one uniform number per row instead of
`torch.multinomial`'s per-call overhead, and exactly the distribution softmax(logits / tau).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from models.space import SequenceSpace

EOS_CHECK_EVERY = 8
"""Off the CPU, how many steps text sampling runs between checks that every row has ended. A check
reads a value back from the device (the host waits for all queued work); after the last EOS at most
this many steps more are computed, whose tokens are PAD whatever is drawn, so the samples are the
same. On the CPU a check costs nothing and runs every step."""


class Samples(NamedTuple):
    """Sequences drawn from a model, with the per-token log-probabilities they were drawn with."""

    tokens: Tensor  # (n, T) long
    token_log_probs: Tensor  # (n, T) float; 0 at unscored (PAD) positions


class LSTMState(NamedTuple):
    h: Tensor  # (n, H)
    c: Tensor  # (n, H)


class StepTables(NamedTuple):
    """A model's parameters rearranged for fast step-by-step inference."""

    input_gates: Tensor  # (V, 4H): embedding @ W_ih^T + b_ih + b_hh, one row per input token
    recurrent: Tensor  # (H, 4H): W_hh^T
    output: Tensor  # (H, V): W_out^T
    output_bias: Tensor  # (V,), blocked tokens' mask folded in


def draw_tokens(logits: Tensor, uniforms: Tensor, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Draw one token per row from softmax(logits / temperature); also return its log-probability.

    Inverse-CDF sampling: given one uniform u in [0, 1) per row, take the first index whose
    cumulative weight exceeds u * total. Exact (up to float rounding), cheaper than torch.multinomial.
    """
    if temperature != 1.0:
        logits = logits / temperature
    shift = logits.max(dim=1, keepdim=True).values  # (n, 1)
    cdf = cumulative_weights((logits - shift).exp_())  # (n, V) unnormalised cumulative weights
    total = cdf[:, -1:]  # (n, 1)
    threshold = uniforms.view(-1, 1).to(cdf.dtype) * total
    index = torch.searchsorted(cdf, threshold, right=True).clamp_(max=logits.shape[1] - 1)  # (n, 1)
    log_prob = logits.gather(1, index) - shift - total.log().to(logits.dtype)
    return index.squeeze(1), log_prob.squeeze(1)


def cumulative_weights(weights: Tensor) -> Tensor:
    """Running sums of non-negative weights (n, V) along each row (in place on the float path).

    The float `cumsum` has no deterministic CUDA kernel (deterministic mode refuses it): there the
    sums are `fixed_point_cumsum`'s. Everywhere else the float sum runs as it always has.
    """
    if weights.is_cuda and torch.are_deterministic_algorithms_enabled():
        return fixed_point_cumsum(weights)
    return weights.cumsum_(dim=1)


def fixed_point_cumsum(weights: Tensor) -> Tensor:
    """Running sums (float64) of weights in [0, 1] (n, V), the same whatever order the additions run in.

    Each weight is rounded down to a multiple of 2^-k, k as large as keeps a row's total exact in
    the 53 bits of a float64 (k = 39 at V = 5000: finer than float32's own rounding of a running sum
    of weights whose largest is 1), and the integers are added exactly.
    """
    scale = 2.0 ** (52 - math.ceil(math.log2(max(weights.shape[1], 2))))
    fixed = (weights.double() * scale).long()  # truncation is rounding down: the weights are >= 0
    return fixed.cumsum_(dim=1).double().div_(scale)


def output_logits(tables: StepTables, h: Tensor) -> Tensor:
    """(n, V) logits from LSTM outputs (n, H); a bfloat16 output table multiplies in bfloat16, adds in float32."""
    if tables.output.dtype != torch.bfloat16:
        return torch.addmm(tables.output_bias, h, tables.output)
    return torch.mm(h.to(tables.output.dtype), tables.output).float().add_(tables.output_bias)


def advance(tables: StepTables, inputs: Tensor, state: LSTMState) -> LSTMState:
    """The LSTM state update alone: cheap next to the (n, V) logits, which rows keeping a prefix skip."""
    gates = torch.addmm(tables.input_gates[inputs], state.h, tables.recurrent)  # (n, 4H)
    i, f, g, o = gates.chunk(4, dim=1)  # PyTorch gate order
    c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return LSTMState(h, c)


def check_prefix(n: int, prefix: Tensor | None, prefix_lengths: Tensor | None) -> None:
    """A prefix has one row per sample; per-row prefix lengths need a prefix and lie within it."""
    if prefix is not None and prefix.shape[0] != n:
        raise ValueError(f"prefix has {prefix.shape[0]} rows but n={n}")
    if prefix_lengths is None:
        return
    if prefix is None or prefix_lengths.shape != (n,):
        raise ValueError("prefix_lengths needs a prefix and one length per row")
    if prefix_lengths.numel() and not 0 <= int(prefix_lengths.min()) <= int(prefix_lengths.max()) <= prefix.shape[1]:
        raise ValueError(f"prefix_lengths must lie in [0, {prefix.shape[1]}]")


def sample_chunk(
    space: SequenceSpace,
    tables: StepTables,
    initial: LSTMState,
    uniforms: Tensor,
    temperature: float,
    prefix: Tensor | None,
    lengths: Tensor | None,
    eos_check_every: int | None = None,
) -> Samples:
    """One chunk of rows: `uniforms` (n, T) drives the draws; a prefix (n, t) is kept, per row up to `lengths`.

    `lengths` (n,) is a CPU tensor: which rows sample at which step is decided on the host, so the
    device is never asked (no synchronisation per step). With EOS, whether every row has ended is
    checked every `eos_check_every` steps (default: every step on a CPU, `EOS_CHECK_EVERY` elsewhere,
    never while a CUDA graph is being captured); the samples are the same whatever the cadence.
    """
    device, n = uniforms.device, uniforms.shape[0]
    tokens = torch.empty(n, space.seq_len, dtype=torch.long, device=device)
    log_probs = torch.zeros(n, space.seq_len, device=device)
    given = 0 if prefix is None else prefix.shape[1]
    if given:
        tokens[:, :given] = prefix.to(device)
    if lengths is not None:  # rows keep different numbers of tokens: all kept before min, none after max
        keep_all, given = (int(lengths.min()), int(lengths.max())) if n else (0, 0)
    else:
        keep_all = given
    check_every = eos_check_every or (1 if device.type == "cpu" else EOS_CHECK_EVERY)
    if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
        check_every = space.seq_len + 1  # a graph cannot read a value back: never check (the same samples)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    inputs = torch.full((n,), space.start_token, dtype=torch.long, device=device)
    state = initial
    for t in range(space.seq_len):
        state = advance(tables, inputs, state)
        if t < keep_all:  # every row keeps its prefix token: no logits needed
            inputs = tokens[:, t]
        elif t < given:  # only the rows whose prefix has ended sample here
            rows = (lengths <= t).nonzero().squeeze(1).to(device, non_blocking=True)  # a copy, no wait
            logits = output_logits(tables, state.h[rows])  # (rows, V)
            drawn, log_prob = draw_tokens(logits, uniforms[rows, t], temperature)
            tokens[rows, t], log_probs[rows, t] = drawn, log_prob
            inputs = tokens[:, t]
        else:
            logits = output_logits(tables, state.h)  # (n, V)
            inputs, log_probs[:, t] = draw_tokens(logits, uniforms[:, t], temperature)
            tokens[:, t] = inputs
        if space.eos_token is not None:
            tokens[:, t].masked_fill_(finished, space.pad_token)
            log_probs[:, t].masked_fill_(finished, 0.0)
            finished |= tokens[:, t] == space.eos_token
            checked = (t + 1 - given) % check_every == 0
            if t >= given and t + 1 < space.seq_len and checked and bool(finished.all()):
                tokens[:, t + 1 :] = space.pad_token  # every row has ended: the rest is PAD
                break
    return Samples(tokens, log_probs)
