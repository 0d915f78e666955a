"""The training steps' losses, read back from the device in batches rather than one step at a time.

An algorithm's step returns its losses as 0-dim tensors on the run's device. Reading one on the
host (`float(loss)`) makes the host wait until the device has run every queued kernel; once per
step, on a GPU, that wait costs more than a small model's step. So the loop keeps each step's
losses as they came and reads them all at once (`read_losses`: one copy per device and dtype)
every `READ_EVERY` steps and whenever it needs them: at an evaluation, a stop, a checkpoint. The
values read are the same numbers reading each step would give, and the loop adds them up in step
order as before. A tracker gets each step's losses as a `ReadOnAccess` mapping, read only when it
logs (at its own cadence).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor

READ_EVERY = 100
"""Steps between two reads of the pending losses (besides evaluations and stops): one wait for the
device per hundred steps costs nothing measurable, and a diverged run is noticed within a hundred steps."""

StepLosses = Mapping[str, Tensor | float]
"""One step's losses as the algorithm returned them (0-dim tensors on the device, or Python floats)."""


def read_losses(pending: list[tuple[int, StepLosses]]) -> list[tuple[int, dict[str, float]]]:
    """Every pending (step, losses) with its values as Python floats, in order; the tensors are copied
    to the host together, one stacked copy per (device, dtype)."""
    tensors = [value for _, losses in pending for value in losses.values() if isinstance(value, Tensor)]
    read = iter(_to_host(tensors))
    return [
        (step, {name: next(read) if isinstance(value, Tensor) else float(value) for name, value in losses.items()})
        for step, losses in pending
    ]


def _to_host(tensors: list[Tensor]) -> list[float]:
    """The values of 0-dim tensors as Python floats (a float32 value exactly as `.item()` gives it)."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = defaultdict(list)
    for index, tensor in enumerate(tensors):
        groups[(tensor.device, tensor.dtype)].append(index)
    values: list[float] = [0.0] * len(tensors)
    for indices in groups.values():
        stacked = torch.stack([tensors[index].detach().reshape(()) for index in indices])
        for index, value in zip(indices, stacked.cpu().double().tolist(), strict=True):
            values[index] = value
    return values


class ReadOnAccess(Mapping[str, float]):
    """One step's losses as floats, each read from the device only when asked for (a tracker at its cadence)."""

    def __init__(self, losses: StepLosses) -> None:
        self.losses = losses

    def __getitem__(self, name: str) -> float:
        return float(self.losses[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.losses)

    def __len__(self) -> int:
        return len(self.losses)
