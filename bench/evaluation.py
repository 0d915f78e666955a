"""Measure a generator at one point of training: NLL_oracle, NLL_test and the true JSD, or BLEU on text (DESIGN §4).

One evaluation samples `n_samples` sequences from the model once and reuses them: the sampler
returns the model's own log-probabilities, the oracle scores the same samples (NLL_oracle and
the G-side of the JSD), and the model's scores of the held-out test set give NLL_test and the
P-side of the JSD (the test set is a fresh sample of P, independent of training). The same
per-token log-probabilities give CoT's per-token-mixture bound (`jsd_stepwise_bound`), at no cost.
On text datasets (a vocabulary and references, no oracle) the same samples give BLEU, self-BLEU
and sacreBLEU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from algorithms.generator import Generator, Samples
from bench.datasets.base import Dataset
from bench.datasets.synthetic import all_sequences
from bench.runtime import derived_seed
from bench.schema import EvalConfig
from bench.text_figures import TextFigures
from metrics.jsd import jsd_exact, jsd_monte_carlo, jsd_stepwise_bound_exact, jsd_stepwise_bound_monte_carlo
from metrics.nll import nll_oracle, nll_test


@dataclass
class Evaluation:
    figures: dict[str, float]
    samples: Samples


class Evaluator:
    """Computes the figures of one evaluation; its randomness depends only on (seed, step)."""

    def __init__(self, config: EvalConfig, dataset: Dataset, seed: int, device: torch.device) -> None:
        self.config, self.dataset, self.seed, self.device = config, dataset, seed, device
        self.test = dataset.test.to(device)
        self.test_mask = dataset.space.mask(self.test)
        self.oracle = dataset.oracle.to(device) if dataset.oracle is not None else None
        if self.oracle is not None:  # the oracle never changes: score the test set once
            self.oracle_on_test = self.oracle.score(self.test)  # (N, T) per token
        self.every_sequence = all_sequences(dataset.space).to(device) if dataset.enumerable else None
        if self.every_sequence is not None:  # exact JSD: P over the whole space, also fixed
            self.oracle_on_everything = self.oracle.score(self.every_sequence)  # (V^T, T)
        is_text = dataset.oracle is None and dataset.vocabulary is not None and dataset.references is not None
        self.text = TextFigures.of(dataset) if is_text else None
        # sampling chunks of about 8,192 positions on text, so a stop is seen within a second or so
        # whatever max_len is (the samples do not depend on the chunk size); synthetic: the default
        self.sample_rows = 1024 if dataset.space.eos_token is None else max(1, 8192 // dataset.space.seq_len)

    def __call__(self, generator: Generator, step: int, between_chunks: Callable[[], None] | None = None) -> Evaluation:
        """The figures at `step`. `between_chunks()` is called between chunks of sampling, scoring and
        text figures, so a pending stop (SIGTERM) can end an evaluation within seconds by raising there."""
        tau = self.config.temperature
        rng = torch.Generator(device=self.device).manual_seed(derived_seed(self.seed, step))
        samples = generator.sample(
            self.config.n_samples, rng, tau, batch_size=self.sample_rows, between_chunks=between_chunks
        )
        model_on_test = generator.score(self.test, tau, between_chunks=between_chunks)
        figures = {"nll_test": nll_test(model_on_test, self.test_mask)}
        if self.oracle is not None:
            figures.update(self._oracle_figures(generator, samples, model_on_test))
        if self.text is not None:
            figures.update(self.text(samples.tokens, between_chunks))
        return Evaluation(figures, samples)

    def _oracle_figures(self, generator: Generator, samples: Samples, model_on_test: Tensor) -> dict[str, float]:
        tau = self.config.temperature
        oracle_on_samples = self.oracle.score(samples.tokens)
        mask = self.dataset.space.mask(samples.tokens)
        figures = {"nll_oracle": nll_oracle(oracle_on_samples, mask)}
        if self.every_sequence is not None:
            log_g = generator.score(self.every_sequence, tau)  # (V^T, T)
            estimate = jsd_exact(self.oracle_on_everything.sum(1), log_g.sum(1))
            bound = jsd_stepwise_bound_exact(self.oracle_on_everything, log_g)
        else:
            per_token = {
                "p_on_p": self.oracle_on_test,
                "g_on_p": model_on_test,
                "g_on_g": samples.token_log_probs,
                "p_on_g": oracle_on_samples,
            }
            estimate = jsd_monte_carlo(**{name: lp.sum(1) for name, lp in per_token.items()})
            bound = jsd_stepwise_bound_monte_carlo(**per_token)
        figures["jsd"], figures["jsd_se"] = estimate
        figures["jsd_stepwise_bound"], figures["jsd_stepwise_bound_se"] = bound
        return figures
