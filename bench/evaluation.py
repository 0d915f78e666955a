"""Measure a generator at one point of training: NLL_test and entropy, then its dataset kind's own figures (DESIGN §4).

One evaluation samples `n_samples` sequences from the model once and reuses them: the sampler
returns the model's own log-probabilities (G's entropy and the G-side of every divergence), and
the model's scores of the held-out test set give NLL_test and the P-side. What else is measured
depends on the dataset's kind: on `synthetic` data the oracle gives NLL_oracle, validation NLL,
the true sequence JSD, its stepwise bound and the prefix JSD curve (bench/synthetic_figures.py);
on `text` the same samples give BLEU, self-BLEU and sacreBLEU (bench/text_figures.py). The
samples and scores are handed on as an `EvaluationContext`, so an algorithm's own figures (CoT's
mediator bound) describe the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from algorithms.base import EvaluationContext
from algorithms.generator import Generator, Samples
from bench.datasets.base import Dataset
from bench.runtime import derived_seed
from bench.schema import EvalConfig
from bench.synthetic_figures import Curves, SyntheticFigures
from bench.text_figures import TextFigures
from metrics.entropy import entropy_from_samples
from metrics.nll import nll_test


@dataclass
class Evaluation:
    figures: dict[str, float]
    samples: Samples
    context: EvaluationContext
    curves: Curves = field(default_factory=dict)
    """Per-evaluation tables, by file stem (e.g. `prefix_jsd`: one row per prefix length)."""


class KindFigures(Protocol):
    """The figures one dataset kind supports."""

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        """Add the scores this kind's figures (and the algorithm's) need."""

    def __call__(self, generator: Generator, context: EvaluationContext, step: int) -> tuple[dict[str, float], Curves]:
        """Figures and curves of one evaluation."""


class TextKindFigures:
    """BLEU, self-BLEU and sacreBLEU of the samples against the test sentences."""

    def __init__(self, dataset: Dataset, device: torch.device) -> None:
        self.text = TextFigures(dataset.vocabulary, dataset.references)

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        return context

    def __call__(self, generator: Generator, context: EvaluationContext, step: int) -> tuple[dict[str, float], Curves]:
        return self.text(context.samples), {}


FIGURES_BY_KIND: dict[str, type] = {"synthetic": SyntheticFigures, "text": TextKindFigures}


class Evaluator:
    """Computes the figures of one evaluation; its randomness depends only on (seed, step)."""

    def __init__(self, config: EvalConfig, dataset: Dataset, seed: int, device: torch.device) -> None:
        self.config, self.dataset, self.seed, self.device = config, dataset, seed, device
        self.test = dataset.test.to(device)
        self.test_mask = dataset.space.mask(self.test)
        self.kind: KindFigures = FIGURES_BY_KIND[dataset.kind](dataset, device)

    def __call__(self, generator: Generator, step: int) -> Evaluation:
        tau = self.config.temperature
        rng = torch.Generator(device=self.device).manual_seed(derived_seed(self.seed, step))
        samples = generator.sample(self.config.n_samples, rng, tau)
        model_on_test = generator.score(self.test, tau)
        context = EvaluationContext(samples.tokens, samples.token_log_probs, self.test, model_on_test, tau)
        context = self.kind.context(generator, context)
        figures: dict[str, Any] = {"nll_test": nll_test(model_on_test, self.test_mask)}
        mask = self.dataset.space.mask(samples.tokens)
        figures["entropy"], figures["entropy_se"] = entropy_from_samples(samples.token_log_probs, mask)
        kind_figures, curves = self.kind(generator, context, step)
        return Evaluation(figures | kind_figures, samples, context, curves)
