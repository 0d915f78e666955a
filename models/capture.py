"""Fixed-shape GPU work replayed from a CUDA graph: one launch instead of hundreds.

On a GPU the suite's small LSTM is bound by kernel launches, not by arithmetic: a CoT iteration
launches about 1,300 kernels, 1,026 of them in its two 64-row sampling calls, each doing
microseconds of work. A CUDA graph records the kernels of one call once and replays them with a
single launch. A replay runs the same kernels on the same memory as the eager call it stands for,
so it computes the same numbers; only the launching changes.

`GraphedCall(body, enabled)` wraps a function of tensors whose shapes never change between calls.
Its first `WARMUP` calls run `body` eagerly on a side stream (where capture wants lazy
initialisation, such as cuBLAS workspaces and optimiser state, to happen); the next call captures
`body` on static copies of its inputs and replays it; from then on each call copies its inputs into
those static buffers, replays, and returns copies of the outputs (the next replay overwrites them).
A body must therefore keep everything that is not CUDA work outside: Python counters, drawing from
a generator other than the default CUDA one, reading a value back to the host. Off CUDA, or with
`enabled` false, a call is simply `body(*inputs)`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

WARMUP = 2
"""Eager calls on a side stream before the capture."""

Body = Callable[..., tuple[Tensor, ...]]


class GraphedCall:
    """`body(*inputs)`, replayed from a CUDA graph after `WARMUP` eager calls when `enabled` on CUDA."""

    def __init__(self, body: Body, enabled: bool = False) -> None:
        self.body, self.enabled = body, enabled
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_inputs: tuple[Tensor, ...] = ()
        self.static_outputs: tuple[Tensor, ...] = ()

    def __call__(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        if not (self.enabled and inputs and inputs[0].is_cuda):
            return self.body(*inputs)
        self.calls += 1
        if self.graph is None and self.calls <= WARMUP:
            return self._on_side_stream(inputs)
        if self.graph is None:
            self._capture(inputs)
        for static, given in zip(self.static_inputs, inputs, strict=True):
            static.copy_(given)
        self.graph.replay()
        return tuple(output.clone() for output in self.static_outputs)

    def _on_side_stream(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """An eager call on a side stream; its outputs copied back on the current stream."""
        current = torch.cuda.current_stream(inputs[0].device)
        side = torch.cuda.Stream(inputs[0].device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            outputs = self.body(*inputs)
        current.wait_stream(side)
        return tuple(output.clone() for output in outputs)

    def _capture(self, inputs: tuple[Tensor, ...]) -> None:
        """Record `body` on static copies of `inputs` (nothing runs yet: the caller replays it)."""
        self.static_inputs = tuple(given.clone() for given in inputs)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.static_outputs = tuple(self.body(*self.static_inputs))
        except RuntimeError as error:
            name = getattr(self.body, "__qualname__", repr(self.body))
            raise RuntimeError(
                f"cuda_graphs=true: capturing {name} failed ({error}); run with cuda_graphs=false"
            ) from error
        self.graph = graph
