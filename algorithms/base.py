"""The small interface every training algorithm implements, and what the loop hands it.

The loop knows only this interface: it calls `step()` until the budget is spent and asks for
`state_dict()` when it checkpoints. Everything that makes MLE, SeqGAN or CoT different (extra
networks, optimisers, phases) lives behind it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from models import Generator


@dataclass
class TrainingContext:
    """What an algorithm may use: the generator it trains, the real data, and the run's RNG."""

    generator: Generator
    train_data: Tensor  # (N, T) long, on `device`
    rng: torch.Generator  # the run's one stream for sampling and shuffling, on `device`
    device: torch.device
    capture: bool = False
    """Replay the fixed-shape updates from CUDA graphs (`cuda_graphs`; CUDA only, `models.capture`)."""

    def __post_init__(self) -> None:
        self.generator.capture_graphs = self.capture


@dataclass
class Enumeration:
    """Every sequence of a small space with its per-token log-probabilities: exact figures, no sampling error."""

    sequences: Tensor  # (V^T, T) long, lexicographic order
    oracle: Tensor  # (V^T, T) log p(x_t | x_<t) under the oracle P
    model: Tensor  # (V^T, T) log g(x_t | x_<t) under G at the evaluation temperature


@dataclass
class EvaluationContext:
    """What one evaluation sampled and scored, handed to `Algorithm.evaluation_figures`.

    An algorithm's own figures (CoT's mediator bound, SeqGAN's discriminator accuracy) reuse these
    samples and scores instead of drawing their own, so every figure of a row describes the same
    samples. The oracle fields are set on synthetic data only; `enumeration` on spaces small enough to list.
    """

    samples: Tensor  # (n, T) long: G's samples
    sample_log_probs: Tensor  # (n, T) G's per-token log-probabilities of them (the sampler's own)
    test: Tensor  # (N, T) long: held-out real sequences, a sample of P
    model_on_test: Tensor  # (N, T) G's per-token log-probabilities of the test set
    temperature: float  # G's sampling and scoring temperature
    oracle_on_samples: Tensor | None = None  # (n, T) the oracle's per-token log-probabilities of G's samples
    oracle_on_test: Tensor | None = None  # (N, T) the oracle's per-token log-probabilities of the test set
    enumeration: Enumeration | None = None


class EpochBatches:
    """Shuffled mini-batches, epoch after epoch; its position is part of the resumable state."""

    def __init__(self, data: Tensor, batch_size: int, rng: torch.Generator) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be at least 1")
        if data.shape[0] < batch_size:
            raise ValueError(f"batch_size={batch_size} exceeds the {data.shape[0]} training sequences")
        self.data, self.batch_size, self.rng = data, batch_size, rng
        self.order = torch.empty(0, dtype=torch.long, device=data.device)
        self.cursor = 0
        self.epoch = 0

    def next(self) -> Tensor:
        """The next (batch_size, T) batch; a new permutation starts when the last one is used up."""
        if self.cursor + self.batch_size > self.order.numel():
            n = self.data.shape[0]
            self.order = torch.randperm(n, generator=self.rng, device=self.data.device)
            self.cursor = 0
            self.epoch += 1
        index = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return self.data[index]

    @property
    def batches_per_epoch(self) -> int:
        return self.data.shape[0] // self.batch_size

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order, "cursor": self.cursor, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].to(self.data.device)
        self.cursor, self.epoch = int(state["cursor"]), int(state["epoch"])


class Algorithm(ABC):
    """One update rule. Subclasses set `config_class` (a dataclass validated before any work)."""

    config_class: ClassVar[type]

    def __init__(self, config: Any, context: TrainingContext) -> None:
        self.config = config
        self.context = context
        self.generator = context.generator

    @abstractmethod
    def step(self) -> dict[str, Tensor | float]:
        """Do one unit of training; return the figures to log (losses): 0-dim tensors left on the device
        (the loop reads them at logging time, never per step) or Python floats."""

    def parts(self) -> dict[str, Any]:
        """The objects whose `state_dict()` together make the resumable state (networks, optimisers,
        batch iterators), by name. Subclasses extend this; plain counters go in `extra_state`."""
        return {"generator": self.generator}

    def networks(self) -> dict[str, torch.nn.Module]:
        """Every network this algorithm trains (checked for finite parameters at each evaluation)."""
        return {name: part for name, part in self.parts().items() if isinstance(part, torch.nn.Module)}

    @property
    def default_steps(self) -> int:
        """Budget when neither `train.steps` nor `steps_by_algorithm` gives one: the config's `default_steps`."""
        steps = getattr(self.config, "default_steps", None)
        if not steps:
            raise ValueError("no budget: set train.steps, or give the algorithm's config a default_steps field")
        return int(steps)

    @property
    def finished(self) -> bool:
        """True once an algorithm with a fixed schedule (e.g. SeqGAN's phases) has done all of it."""
        return False

    @property
    def phase(self) -> str:
        """Name of the phase the next step() runs; each history.csv row names the phase of the steps it sums up."""
        return "train"

    @property
    def schedule(self) -> dict[str, int] | None:
        """Steps in each phase, in the order they run, for a phased algorithm (None: one phase).
        Lets the progress bar estimate the time left from each phase's own cost per step."""
        return None

    def evaluation_figures(self, context: EvaluationContext) -> dict[str, float]:
        """Extra figures an algorithm reports at each evaluation (e.g. CoT's mediator bound), from its own samples."""
        return {}

    def extra_state(self) -> dict[str, Any]:
        """Plain values (counters) that belong to the resumable state besides `parts()`."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (nothing to restore by default)
        """Restore what `extra_state` returned."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: each part's state, then the extra values."""
        return {name: part.state_dict() for name, part in self.parts().items()} | self.extra_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        for name, part in self.parts().items():
            part.load_state_dict(state[name])
        self.load_extra_state(state)
