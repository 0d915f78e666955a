"""The text figures of one evaluation (docs/design.md §4.6, docs/text.md): BLEU-2..5 against the test set,
self-BLEU-2..5, sacreBLEU, distinct-1..4, the share of samples without EOS, and where asked the LM and
reverse-LM scores.

The reference tables are built once per run; each evaluation decodes its samples (words through the
first EOS) and scores every one of them, so the figures are those of the published tables, which
used 10,000 samples against all 10,000 test sentences. sacreBLEU reads plain text on both sides,
the same way for every dataset: the test file's lines as they are spelled there, and the samples
as `plain_text` writes them (it applies its own 13a tokeniser to both). Feeding it the references
through a tokenise-detokenise round trip would change them (Treebank turns EMNLP's `" We ' re` into
`"We' re`: 36.80 instead of 39.80 for the same sentences).
`test_unk_share` (the share of the test split's tokens that read as <unk> and that `nll_test`
therefore leaves out) is repeated in every row, beside `nll_test`; `n_samples` (how many samples
the row's figures describe) too, since self-BLEU, distinct-n and the reverse-LM score depend on it.
`no_eos_share` is the share of samples that never emitted EOS and were cut at the maximum length:
their BLEU and self-BLEU describe truncated sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from algorithms.base import EvaluationContext
from bench.config.folders import data_root
from bench.datasets.base import Dataset
from bench.datasets.tokenizers import plain_text
from bench.datasets.vocabulary import Vocabulary
from bench.evaluation.judge_cache import Judge, load_or_train_judge
from bench.evaluation.language_model import LMRecipe, lm_score, reverse_lm_score
from metrics.bleu import DEFAULT_ORDERS, References, SacreBleuReferences, bleu, self_bleu
from metrics.distinct import DEFAULT_DISTINCT_ORDERS, distinct_n
from models import Generator


def no_eos_share(samples: Tensor, eos_id: int) -> float:
    """Share of (n, T) sampled sequences with no EOS anywhere: cut at the maximum length."""
    unfinished = int((samples == eos_id).any(dim=1).logical_not().sum())
    return unfinished / samples.shape[0] if samples.shape[0] else 0.0


class TextScorer:
    """Scores generated sentences (as tokens) against a text dataset's test sentences."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        references: Sequence[Sequence[str]],
        orders: Sequence[int] = DEFAULT_ORDERS,
        reference_lines: Sequence[str] | None = None,
        test_unk_share: float | None = None,
        distinct_orders: Sequence[int] = DEFAULT_DISTINCT_ORDERS,
    ) -> None:
        self.vocabulary, self.orders, self.distinct_orders = vocabulary, tuple(orders), tuple(distinct_orders)
        self.references = References(references, max(self.orders))
        if reference_lines is None:  # no file lines at hand: the references' own words as plain text
            reference_lines = [plain_text(r) for r in references]
        self.sacre_references = SacreBleuReferences(reference_lines)
        self.test_unk_share = test_unk_share

    @classmethod
    def of(
        cls,
        dataset: Dataset,
        orders: Sequence[int] = DEFAULT_ORDERS,
        distinct_orders: Sequence[int] = DEFAULT_DISTINCT_ORDERS,
    ) -> TextScorer:
        """The figures of a text dataset: its references, its raw test lines, its test UNK share."""
        test = dataset.provenance.get("test", {})
        return cls(
            dataset.vocabulary,
            dataset.references,
            orders,
            reference_lines=dataset.reference_lines,
            test_unk_share=test.get("unk_share") if isinstance(test, dict) else None,
            distinct_orders=distinct_orders,
        )

    def __call__(self, samples: Tensor, between: Callable[[], None] | None = None) -> dict[str, float]:
        """The figures of (n, T) generated ids: `score_words` of their words, `no_eos_share`, `test_unk_share`."""
        figures = {} if self.test_unk_share is None else {"test_unk_share": self.test_unk_share}
        figures["no_eos_share"] = no_eos_share(samples, self.vocabulary.eos_id)
        return figures | self.score_words(self.vocabulary.decode(samples.cpu()), between)

    def score_words(self, hypotheses: Sequence[Sequence[str]], between: Callable[[], None] | None = None) -> dict:
        """n_samples, bleuN and self_bleuN (N in orders), sacrebleu (0-100), distinctN of tokenised sentences.

        `between()` is called every 256 sentences of each figure (a caller may raise there to stop).
        """
        figures: dict[str, Any] = {"n_samples": len(hypotheses)}
        figures |= {f"bleu{n}": score for n, score in bleu(hypotheses, self.references, self.orders, between).items()}
        figures |= {f"self_bleu{n}": score for n, score in self_bleu(hypotheses, self.orders, between).items()}
        plain = [plain_text(words) for words in hypotheses]
        figures["sacrebleu"] = self.sacre_references.corpus_bleu(plain, between)
        figures |= {f"distinct{n}": score for n, score in distinct_n(hypotheses, self.distinct_orders).items()}
        return figures


@dataclass
class TextFiguresConfig:
    """What an evaluation measures on a text dataset (conf/dataset: `figures`; set from the command line
    with a `+`, e.g. `+dataset.figures.lm_scores=true`)."""

    orders: list[int] = field(default_factory=lambda: list(DEFAULT_ORDERS))
    """BLEU and self-BLEU n-gram orders (2..5, as the published tables)."""
    distinct_orders: list[int] = field(default_factory=lambda: list(DEFAULT_DISTINCT_ORDERS))
    """distinct-n orders (1..4)."""
    lm_scores: bool = False
    """Record the LM score and the reverse-LM score at every evaluation. Off by default: each
    evaluation then trains an LM on its samples (about a minute on a CPU for 2,000 EMNLP samples),
    and the first one trains (or reads) the judge."""
    lm_at_step_zero: bool = False
    """Also at step 0, where the model is its untrained initialisation: a minute of LM training for
    figures known in advance (near-uniform text), so off unless asked. Evaluations outside training
    (the temperature curves, the API) always record them."""
    lm_recipe: LMRecipe = field(default_factory=LMRecipe)
    """How the judge and the reverse LM are trained (bench/evaluation/language_model.py)."""
    judge_dir: str | None = None
    """Folder of cached judges; null: `judges/` under the data root."""

    def __post_init__(self) -> None:
        for name in ("orders", "distinct_orders"):
            orders = getattr(self, name)
            if not orders or min(orders) < 1:
                raise ValueError(f"dataset.figures.{name}={list(orders)}: must be positive n-gram orders")


class TextFigures:
    """The figures of a text dataset's evaluation: BLEU, self-BLEU, sacreBLEU, distinct-n of the samples,
    their no-EOS share, test_unk_share, and with `lm_scores` the LM and reverse-LM scores."""

    config_class = TextFiguresConfig
    kind = "text"

    def __init__(self, config: TextFiguresConfig, dataset: Dataset, device: torch.device) -> None:
        if dataset.vocabulary is None or dataset.references is None:
            raise ValueError(
                f"dataset {dataset.name!r} has no vocabulary or references: its figures cannot be text ones"
            )
        self.config, self.dataset, self.device = config, dataset, device
        self.scorer = TextScorer.of(dataset, config.orders, config.distinct_orders)
        self._judge: Judge | None = None

    @property
    def judge_folder(self) -> Path:
        return Path(self.config.judge_dir).expanduser() if self.config.judge_dir else data_root() / "judges"

    def judge(self, between: Callable[[], None] | None = None) -> Judge:
        """The dataset's judge LM, read from its cache or trained on first use."""
        if self._judge is None:
            recipe = self.config.lm_recipe
            self._judge = load_or_train_judge(self.dataset, recipe, self.judge_folder, self.device, between)
        return self._judge

    def lm_figures(self, samples: Tensor, between: Callable[[], None] | None = None) -> dict[str, float]:
        """lm_score and reverse_lm_score of (n, T) samples, and the judge's own NLL_test beside them."""
        judge = self.judge(between)
        test = self.dataset.test.to(self.device)
        reverse, _ = reverse_lm_score(self.dataset.space, samples, test, self.config.lm_recipe, self.device, between)
        return {
            "lm_score": lm_score(judge.model, samples, between),
            "reverse_lm_score": reverse,
            "lm_judge_nll_test": judge.record["test_nll"],
        }

    @property
    def provenance(self) -> dict[str, Any]:
        """What the LM figures rest on (the judge's key, recipe and NLLs), once the judge exists."""
        return {"lm_judge": self._judge.record} if self._judge is not None else {}

    def context(self, generator: Generator, context: EvaluationContext) -> EvaluationContext:
        return context

    def __call__(
        self, generator: Generator, context: EvaluationContext, step: int, between_chunks: Callable[[], None] | None
    ) -> tuple[dict[str, float], dict]:
        figures = self.scorer(context.samples, between_chunks)
        if self.config.lm_scores and (step != 0 or self.config.lm_at_step_zero):
            figures |= self.lm_figures(context.samples, between_chunks)
        return figures, {}
