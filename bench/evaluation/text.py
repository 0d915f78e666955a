"""The text figures of one evaluation: BLEU-2..5 against the test set, self-BLEU-2..5, sacreBLEU (docs/design.md §4.6).

The reference tables are built once per run; each evaluation decodes its samples (words through the
first EOS) and scores every one of them, so the figures are those of the published tables, which
used 10,000 samples against all 10,000 test sentences. sacreBLEU reads plain text on both sides,
the same way for every dataset: the test file's lines as they are spelled there, and the samples
as `plain_text` writes them (it applies its own 13a tokeniser to both). Feeding it the references
through a tokenise-detokenise round trip would change them (Treebank turns EMNLP's `" We ' re` into
`"We' re`: 36.80 instead of 39.80 for the same sentences).
`test_unk_share` (the share of the test split's tokens that read as <unk> and that `nll_test`
therefore leaves out) is repeated in every row, beside `nll_test`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from algorithms.base import EvaluationContext
from bench.datasets.base import Dataset
from bench.datasets.tokenizers import plain_text
from bench.datasets.vocabulary import Vocabulary
from metrics.bleu import DEFAULT_ORDERS, References, SacreBleuReferences, bleu, self_bleu
from models import Generator


class TextScorer:
    """Scores generated id sequences against a text dataset's test sentences."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        references: Sequence[Sequence[str]],
        orders: Sequence[int] = DEFAULT_ORDERS,
        reference_lines: Sequence[str] | None = None,
        test_unk_share: float | None = None,
    ) -> None:
        self.vocabulary, self.orders = vocabulary, tuple(orders)
        self.references = References(references, max(self.orders))
        if reference_lines is None:  # no file lines at hand: the references' own words as plain text
            reference_lines = [plain_text(r) for r in references]
        self.sacre_references = SacreBleuReferences(reference_lines)
        self.test_unk_share = test_unk_share

    @classmethod
    def of(cls, dataset: Dataset, orders: Sequence[int] = DEFAULT_ORDERS) -> TextScorer:
        """The figures of a text dataset: its references, its raw test lines, its test UNK share."""
        test = dataset.provenance.get("test", {})
        return cls(
            dataset.vocabulary,
            dataset.references,
            orders,
            reference_lines=dataset.reference_lines,
            test_unk_share=test.get("unk_share") if isinstance(test, dict) else None,
        )

    def __call__(self, samples: Tensor, between: Callable[[], None] | None = None) -> dict[str, float]:
        """bleuN, self_bleuN (N in orders), sacrebleu (0-100) and test_unk_share of (n, T) generated ids.

        `between()` is called every 256 sentences of each figure (a caller may raise there to stop).
        """
        hypotheses = self.vocabulary.decode(samples.cpu())
        figures = {} if self.test_unk_share is None else {"test_unk_share": self.test_unk_share}
        figures |= {f"bleu{n}": score for n, score in bleu(hypotheses, self.references, self.orders, between).items()}
        figures |= {f"self_bleu{n}": score for n, score in self_bleu(hypotheses, self.orders, between).items()}
        plain = [plain_text(words) for words in hypotheses]
        figures["sacrebleu"] = self.sacre_references.corpus_bleu(plain, between)
        return figures


@dataclass
class TextFiguresConfig:
    """What an evaluation measures on a text dataset (conf/dataset: `figures`)."""

    orders: list[int] = field(default_factory=lambda: list(DEFAULT_ORDERS))
    """BLEU and self-BLEU n-gram orders (2..5, as the published tables)."""

    def __post_init__(self) -> None:
        if not self.orders or min(self.orders) < 1:
            raise ValueError(f"dataset.figures.orders={list(self.orders)}: must be positive n-gram orders")


class TextFigures:
    """The figures of a text dataset's evaluation: BLEU, self-BLEU, sacreBLEU of the samples, test_unk_share."""

    config_class = TextFiguresConfig
    kind = "text"

    def __init__(self, config: TextFiguresConfig, dataset: Dataset, device: torch.device) -> None:
        if dataset.vocabulary is None or dataset.references is None:
            raise ValueError(
                f"dataset {dataset.name!r} has no vocabulary or references: its figures cannot be text ones"
            )
        self.scorer = TextScorer.of(dataset, config.orders)

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        return context

    def __call__(
        self, generator: Generator, context: EvaluationContext, step: int, between_chunks: Callable[[], None] | None
    ) -> tuple[dict[str, float], dict]:
        return self.scorer(context.samples, between_chunks), {}
