"""Figures an oracle makes possible: NLL_oracle, NLL_valid, sequence JSD, its bounds, prefix JSD (docs/design.md §4).

Everything reuses the evaluation's one sample of G and the fixed test set (a sample of P): the
oracle scores G's samples, and its scores of the test set are computed once. On spaces small
enough to list, every divergence is exact by enumeration. Otherwise they are Monte Carlo with
exact densities, except the prefix JSD at t = 1 (over V first tokens) and t = 2 (over V^2 pairs,
listed in chunks so memory stays bounded) when V^2 <= `exact_pairs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from algorithms.base import Enumeration, EvaluationContext
from bench.datasets.base import Dataset
from metrics.jsd import jsd_exact, jsd_monte_carlo, jsd_stepwise_bound_exact, jsd_stepwise_bound_monte_carlo
from metrics.nll import nll_oracle, nll_test
from metrics.prefix_jsd import PrefixJSD, jsd_exact_in_chunks, prefix_jsd_exact, prefix_jsd_monte_carlo
from models import Generator, evaluating

PAIRS_PER_CHUNK = 2**20
"""Pair probabilities held at once while listing them: rows of V per chunk times V."""

Curves = dict[str, list[dict[str, Any]]]


@torch.no_grad()
def next_token_log_probs(model: Generator, prefixes: Tensor, temperature: float = 1.0) -> Tensor:
    """(n, V) log-probabilities of the token after each of n prefixes (n, t), t >= 0, dropout off."""
    padded = torch.cat([prefixes, prefixes.new_zeros(prefixes.shape[0], 1)], dim=1)  # last token is never read
    with evaluating(model):
        logits = model.out(model.hidden(padded)[:, -1])
    return (logits / temperature).log_softmax(dim=-1)


def first_pair_log_probs(model: Generator, temperature: float, rows: int) -> Iterator[Tensor]:
    """log-probabilities of every pair (x_1, x_2), `rows` first tokens at a time: (rows, V) chunks in order of x_1."""
    device = model.out.weight.device
    first = next_token_log_probs(model, torch.empty(1, 0, dtype=torch.long, device=device), temperature)[0]
    for chunk in torch.arange(model.space.vocab_size, device=device).split(rows):
        yield first[chunk].unsqueeze(1) + next_token_log_probs(model, chunk.unsqueeze(1), temperature)


@dataclass
class SyntheticFiguresConfig:
    """What an evaluation measures on a dataset with an oracle (conf/dataset: `figures`)."""

    exact_pairs: int = 10**8
    """J_2 is computed exactly over every pair of first tokens up to this many pairs (V^2), else by Monte Carlo."""

    def __post_init__(self) -> None:
        if self.exact_pairs < 0:
            raise ValueError(f"dataset.figures.exact_pairs={self.exact_pairs}: must be >= 0")


class SyntheticFigures:
    """Computes the oracle figures of one evaluation; holds what never changes (oracle scores of fixed sets)."""

    config_class = SyntheticFiguresConfig
    kind = "synthetic"

    def __init__(self, config: SyntheticFiguresConfig, dataset: Dataset, device: torch.device) -> None:
        if dataset.oracle is None:
            raise ValueError(f"dataset {dataset.name!r} has no oracle: its figures cannot be the synthetic ones")
        self.space = dataset.space
        self.oracle = dataset.oracle.to(device)
        self.test = dataset.test.to(device)
        self.oracle_on_test = self.oracle.score(self.test)  # (N, T) per token, fixed
        self.valid = dataset.valid.to(device) if dataset.valid is not None else None
        self.every_sequence = self.space.all_sequences().to(device) if dataset.enumerable else None
        if self.every_sequence is not None:
            self.oracle_on_everything = self.oracle.score(self.every_sequence)  # (V^T, T), fixed
        self.exact_pairs = self.space.seq_len >= 2 and self.space.vocab_size**2 <= config.exact_pairs

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        """The evaluation's context with the oracle's scores (and the whole space's, when enumerable) added."""
        enumeration = None
        if self.every_sequence is not None:
            model = generator.score(self.every_sequence, context.temperature)
            enumeration = Enumeration(self.every_sequence, self.oracle_on_everything, model)
        return dataclasses.replace(
            context,
            oracle_on_samples=self.oracle.score(context.samples),
            oracle_on_test=self.oracle_on_test,
            enumeration=enumeration,
        )

    def __call__(
        self,
        generator: Generator,
        context: EvaluationContext,
        step: int,
        between_chunks: Callable[[], None] | None = None,
    ) -> tuple[dict[str, float], Curves]:
        """nll_oracle, nll_valid, jsd, jsd_stepwise_bound, jsd_prefix_mean (each JSD with its s.e.); the J_t curve."""
        figures = {"nll_oracle": nll_oracle(context.oracle_on_samples, self.space.mask(context.samples))}
        if self.valid is not None:
            on_valid = generator.score(self.valid, context.temperature, between_chunks=between_chunks)
            figures["nll_valid"] = nll_test(on_valid, self.space.mask(self.valid))
        if context.enumeration is not None:
            every = context.enumeration
            estimate = jsd_exact(every.oracle.double().sum(1), every.model.double().sum(1))
            bound = jsd_stepwise_bound_exact(every.oracle, every.model)
            prefix = prefix_jsd_exact(every.oracle, every.model)
        else:
            per_token = {
                "p_on_p": context.oracle_on_test,
                "g_on_p": context.model_on_test,
                "g_on_g": context.sample_log_probs,
                "p_on_g": context.oracle_on_samples,
            }
            estimate = jsd_monte_carlo(**{name: lp.double().sum(1) for name, lp in per_token.items()})
            bound = jsd_stepwise_bound_monte_carlo(**per_token)
            prefix = prefix_jsd_monte_carlo(**per_token, exact=self.exact_prefix_points(generator, context.temperature))
        figures["jsd"], figures["jsd_se"] = estimate
        figures["jsd_stepwise_bound"], figures["jsd_stepwise_bound_se"] = bound
        figures["jsd_prefix_mean"], figures["jsd_prefix_mean_se"] = prefix.mean, prefix.mean_standard_error
        return figures, {"prefix_jsd": curve_rows(prefix, step)}

    def exact_prefix_points(self, generator: Generator, temperature: float) -> dict[int, float]:
        """Exact J_1 over the V first tokens, and J_2 over the V^2 first pairs when there are at most `exact_pairs`."""
        device = self.oracle.out.weight.device
        start = torch.empty(1, 0, dtype=torch.long, device=device)
        log_p = next_token_log_probs(self.oracle, start)[0]
        log_g = next_token_log_probs(generator, start, temperature)[0]
        points = {1: jsd_exact(log_p, log_g).value}
        if self.exact_pairs:
            rows = max(1, PAIRS_PER_CHUNK // self.space.vocab_size)
            oracle_pairs = first_pair_log_probs(self.oracle, 1.0, rows)
            pairs = zip(oracle_pairs, first_pair_log_probs(generator, temperature, rows), strict=True)
            points[2] = jsd_exact_in_chunks(pairs).value
        return points


def curve_rows(prefix: PrefixJSD, step: int) -> list[dict[str, Any]]:
    """One prefix_jsd.csv row per prefix length: step, t, jsd, se, exact."""
    return [
        {"step": step, "t": t + 1, "jsd": float(value), "se": float(error), "exact": bool(exact)}
        for t, (value, error, exact) in enumerate(
            zip(prefix.values.tolist(), prefix.standard_errors.tolist(), prefix.exact.tolist(), strict=True)
        )
    ]
