"""The text figures of one evaluation: BLEU-2..5 against the test set, self-BLEU-2..5, sacreBLEU (DESIGN §4).

The reference tables are built once per run; each evaluation decodes its samples (words through the
first EOS) and scores every one of them, so the figures are those of the published tables, which
used 10,000 samples against all 10,000 test sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from bench.datasets.tokenizers import detokenize
from bench.datasets.vocabulary import Vocabulary
from metrics.bleu import DEFAULT_ORDERS, References, SacreBleuReferences, bleu, self_bleu


class TextFigures:
    """Scores generated id sequences against a text dataset's test sentences."""

    def __init__(
        self, vocabulary: Vocabulary, references: Sequence[Sequence[str]], orders: Sequence[int] = DEFAULT_ORDERS
    ) -> None:
        self.vocabulary, self.orders = vocabulary, tuple(orders)
        self.references = References(references, max(self.orders))
        # sacreBLEU tokenises plain text itself: give it both sides through the same detokeniser
        self.sacre_references = SacreBleuReferences([detokenize(r, vocabulary.tokenizer) for r in references])

    def __call__(self, samples: Tensor) -> dict[str, float]:
        """bleuN, self_bleuN (N in orders) and sacrebleu (0-100) of (n, T) generated ids."""
        hypotheses = self.vocabulary.decode(samples.cpu())
        figures = {f"bleu{n}": score for n, score in bleu(hypotheses, self.references, self.orders).items()}
        figures |= {f"self_bleu{n}": score for n, score in self_bleu(hypotheses, self.orders).items()}
        plain = [detokenize(words, self.vocabulary.tokenizer) for words in hypotheses]
        figures["sacrebleu"] = self.sacre_references.corpus_bleu(plain)
        return figures
