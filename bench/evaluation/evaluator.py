"""Measure a generator at one point of training: NLL_test, entropy, then its dataset kind's figures (docs/design.md §4).

One evaluation samples `n_samples` sequences from the model once and reuses them: the sampler
returns the model's own log-probabilities (G's entropy and the G-side of every divergence), and
the model's scores of the held-out test set give NLL_test and the P-side. What else is measured
depends on the figures the dataset config names (`dataset.figures._target_`): on synthetic data
the oracle gives NLL_oracle, validation NLL, the true sequence JSD, its stepwise bound and the
prefix JSD curve (bench/evaluation/synthetic.py); on text the same samples give BLEU, self-BLEU and
sacreBLEU (bench/evaluation/text.py). The
samples and scores are handed on as an `EvaluationContext`, so an algorithm's own figures (CoT's
mediator bound) describe the same samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from omegaconf import DictConfig

from algorithms.base import EvaluationContext
from bench.config.build import build
from bench.config.schema import EvalConfig
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation.synthetic import Curves
from bench.seeds import derived_seed
from metrics.entropy import entropy_from_samples
from metrics.nll import nll_test
from models import Generator, Samples


@dataclass
class Evaluation:
    figures: dict[str, float]
    samples: Samples
    context: EvaluationContext
    curves: Curves = field(default_factory=dict)
    """Per-evaluation tables, by file stem (e.g. `prefix_jsd`: one row per prefix length)."""


class KindFigures(Protocol):
    """The figures one dataset kind supports, chosen by the dataset config's `figures._target_`."""

    kind: str
    """`synthetic` or `text`: which figure catalogue applies (bench/evaluation/catalogue.py)."""

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        """Add the scores this kind's figures (and the algorithm's) need."""

    def __call__(
        self, generator: Generator, context: EvaluationContext, step: int, between_chunks: Callable[[], None] | None
    ) -> tuple[dict[str, float], Curves]:
        """Figures and curves of one evaluation (`between_chunks()` between chunks of long work)."""


class Evaluator:
    """Computes the figures of one evaluation; its randomness depends only on (seed, step)."""

    def __init__(
        self, config: EvalConfig, dataset: Dataset, seed: int, device: torch.device, figures: KindFigures
    ) -> None:
        self.config, self.dataset, self.seed, self.device = config, dataset, seed, device
        self.test = dataset.test.to(device)
        self.test_mask = dataset.space.mask(self.test)
        self.kind = figures
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
        context = EvaluationContext(samples.tokens, samples.token_log_probs, self.test, model_on_test, tau)
        context = self.kind.context(generator, context)
        figures: dict[str, Any] = {"nll_test": nll_test(model_on_test, self.test_mask)}
        mask = self.dataset.space.mask(samples.tokens)
        figures["entropy"], figures["entropy_se"] = entropy_from_samples(samples.token_log_probs, mask)
        kind_figures, curves = self.kind(generator, context, step, between_chunks)
        return Evaluation(figures | kind_figures, samples, context, curves)


def saved_evaluation_parts(dataset_node: DictConfig, device: torch.device) -> tuple[Dataset, KindFigures]:
    """A saved run's dataset and its figures, rebuilt from its config's `dataset` node.

    The caller has checked the node's targets (`bench.config.build.check_saved_targets`): a saved
    config is data, and only what the suite ships (or the user trusts) is built from it.
    """
    dataset: Dataset = build(dataset_node, "dataset")
    figures_node = dataset_node.get("figures")
    if not isinstance(figures_node, DictConfig):
        raise BenchError("dataset.figures: missing from the saved config (a run of an older cotbench)")
    return dataset, build(figures_node, "dataset.figures", dataset, device)
