"""Published figures to print beside ours (DESIGN §5), with where each one comes from.

Synthetic figures are for SeqGAN's canonical oracle (T = 20) and only appear beside runs that used
it; an embedded oracle is a different benchmark. "≈" figures are quoted approximately by their
authors and are kept as such in the label.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedRow:
    source: str
    algorithm: str
    figures: dict[str, float]


SYNTHETIC: tuple[PublishedRow, ...] = (
    PublishedRow("SeqGAN paper", "seqgan", {"nll_oracle": 8.736}),
    PublishedRow("SeqGAN repo log (MLE 120 epochs)", "mle", {"nll_oracle": 9.07}),
    PublishedRow("SeqGAN repo log", "seqgan", {"nll_oracle": 8.68}),
    PublishedRow("CoT paper, as quoted by its authors", "mle", {"nll_oracle": 9.43, "nll_test": 7.67}),
    PublishedRow("CoT paper, as quoted (≈; best NLL_test seen 7.54)", "cot", {"nll_oracle": 8.1, "nll_test": 8.1}),
    PublishedRow("Caccia et al. CSVs, α = 1", "mle", {"nll_oracle": 9.40, "nll_test": 7.61}),
    PublishedRow("Caccia et al. CSVs, α = 1", "cot", {"nll_oracle": 9.50, "nll_test": 7.57}),
    PublishedRow("Caccia et al. CSVs, α = 1", "seqgan", {"nll_oracle": 9.62, "nll_test": 9.22}),
)

_TEXYGEN_MLE = (0.731, 0.497, 0.305, 0.189, 0.916, 0.769, 0.583, 0.408)
_TEXYGEN_SEQGAN = (0.745, 0.498, 0.294, 0.180, 0.950, 0.840, 0.670, 0.489)
_BLEU_KEYS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5")

COCO: tuple[PublishedRow, ...] = (
    PublishedRow("Texygen (10k samples, all test captions)", "mle", dict(zip(_BLEU_KEYS, _TEXYGEN_MLE, strict=True))),
    PublishedRow(
        "Texygen (10k samples, all test captions)", "seqgan", dict(zip(_BLEU_KEYS, _TEXYGEN_SEQGAN, strict=True))
    ),
)


def published_rows(dataset: str, canonical_oracle: bool) -> tuple[PublishedRow, ...]:
    """The published rows comparable with runs on `dataset` (synthetic ones need the canonical oracle)."""
    if dataset == "synthetic":
        return SYNTHETIC if canonical_oracle else ()
    if dataset == "coco":
        return COCO
    return ()
