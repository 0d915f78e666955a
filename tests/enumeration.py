"""Exact references on synthetic_tiny (8^5 sequences): every sequence's probability under the oracle
and a generator, prefix marginals, and the JSD written out, sharing no code with metrics/."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.config.build import build
from bench.datasets.base import Dataset
from models import Generator, GeneratorConfig
from tests.conftest import compose_config

CPU = torch.device("cpu")


def tiny_dataset() -> Dataset:
    """synthetic_tiny as its config file builds it."""
    return build(compose_config("dataset=synthetic_tiny").dataset, "dataset")


def tiny_generator(dataset: Dataset, seed: int = 0, init_std: float = 0.5) -> Generator:
    """A 16-unit generator over the dataset's space, initialised from `seed`."""
    torch.manual_seed(seed)
    return Generator(dataset.space, GeneratorConfig(16, 16, init_std=init_std))


def literal_jsd(log_p: Tensor, log_g: Tensor) -> float:
    """sum 1/2 p log(p/m) + 1/2 g log(g/m), m = (p + g)/2, over probabilities (no shared code with metrics/)."""
    p, g = log_p.double().exp(), log_g.double().exp()
    m = (p + g) / 2
    p_part = torch.where(p > 0, p * (p / m).log(), 0.0).sum()
    g_part = torch.where(g > 0, g * (g / m).log(), 0.0).sum()
    return float(0.5 * p_part + 0.5 * g_part)


def prefix_marginals(token_log_probs: Tensor, vocab: int, t: int) -> Tensor:
    """log P(x_{1:t}) for every prefix, by summing the probabilities of all whole sequences that share it.

    Rows are the whole space in lexicographic order, so the V^(T-t) completions of a prefix are consecutive.
    """
    whole = token_log_probs.double().sum(1)  # (V^T,)
    return whole.reshape(vocab**t, -1).logsumexp(dim=1)


def every_log_prob(dataset: Dataset, generator: Generator) -> tuple[Tensor, Tensor]:
    """Per-token log-probabilities of every sequence of the space under the oracle and under `generator`."""
    every = dataset.space.all_sequences()
    return dataset.oracle.score(every), generator.score(every)
