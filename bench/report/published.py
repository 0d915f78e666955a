"""Published figures to print beside ours (docs/design.md §5), each with its citation.

A published row only appears where our runs used the very data it was measured on, and that is
decided from the sha256 of the data files (the oracle's parameter file, the text files) recorded
in each run's metrics.json under "data" — never from a dataset's name: an embedded oracle or a
corpus dropped into `dataset=coco dataset.data_dir=...` is another benchmark.
Figures their authors gave only approximately ("≈ 8.1") are kept approximate in every table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CANONICAL_ORACLE_SHA256 = frozenset(
    {
        "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a",  # target_params_py3.pkl
        "6a0b3b967aa03a952b353709493e2b430fc261d15f9dd658823019b4eaab6c1c",  # target_params.pkl (same arrays)
    }
)
"""SeqGAN's oracle parameter files (LantaoYu/SeqGAN save/), the python-3 and the python-2 pickle."""
COCO_SHA256 = frozenset(
    {
        "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5",  # image_coco.txt (training)
        "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae",  # test_coco.txt (BLEU references)
    }
)
"""Texygen's MS-COCO caption files (geek-ai/Texygen data/): both must have been used."""
EMNLP_TEST_SHA256 = "03c646d08f766f4140443db4419b1f0ee292bc0db514208873e9f2e166b95bd2"
"""Texygen's EMNLP2017 News test split (data/testdata/test_emnlp.txt); no published row uses it yet,
because the published training split is not the one our runs train on."""

SEQGAN_PAPER = "Yu, Zhang, Wang & Yu 2017 (AAAI), Table 1"
SEQGAN_REPO = "Yu, Zhang, Wang & Yu 2017, LantaoYu/SeqGAN reference repository, training log (MLE 120 epochs)"
COT_PAPER = "Lu, Yu, Feng, Zhu, Zhang & Yu 2019 (ICML), synthetic oracle, figures as quoted by its authors"
CACCIA = "Caccia, Caccia, Fedus, Larochelle, Pineau & Charlin 2020 (ICLR), published CSVs, α = 1"
TEXYGEN = "Zhu, Lu, Zheng, Guo, Zhang, Wang & Yu 2018 (SIGIR), Texygen COCO tables (10k samples, all test captions)"


@dataclass(frozen=True)
class PublishedRow:
    """One algorithm's figures from one publication; `approximate` names figures quoted as "≈"."""

    source: str
    algorithm: str
    figures: dict[str, float]
    citation: str
    approximate: frozenset[str] = field(default_factory=frozenset)
    note: str = ""

    def cell(self, figure: str) -> str:
        """The figure as its authors gave it: "≈ 8.1" stays approximate, never "8.100"."""
        if figure not in self.figures:
            return ""
        value = f"{self.figures[figure]:g}"
        return f"≈ {value}" if figure in self.approximate else value


SYNTHETIC: tuple[PublishedRow, ...] = (
    PublishedRow("SeqGAN paper", "seqgan", {"nll_oracle": 8.736}, SEQGAN_PAPER),
    PublishedRow("SeqGAN repo log", "mle", {"nll_oracle": 9.07}, SEQGAN_REPO),
    PublishedRow("SeqGAN repo log", "seqgan", {"nll_oracle": 8.68}, SEQGAN_REPO),
    PublishedRow("CoT paper", "mle", {"nll_oracle": 9.43, "nll_test": 7.67}, COT_PAPER),
    PublishedRow(
        "CoT paper",
        "cot",
        {"nll_oracle": 8.1, "nll_test": 8.1},
        COT_PAPER,
        frozenset({"nll_oracle", "nll_test"}),
        "best NLL_test seen 7.54",
    ),
    PublishedRow("Caccia et al.", "mle", {"nll_oracle": 9.40, "nll_test": 7.61}, CACCIA),
    PublishedRow("Caccia et al.", "cot", {"nll_oracle": 9.50, "nll_test": 7.57}, CACCIA),
    PublishedRow("Caccia et al.", "seqgan", {"nll_oracle": 9.62, "nll_test": 9.22}, CACCIA),
)

_BLEU_KEYS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5")
_TEXYGEN_MLE = (0.731, 0.497, 0.305, 0.189, 0.916, 0.769, 0.583, 0.408)
_TEXYGEN_SEQGAN = (0.745, 0.498, 0.294, 0.180, 0.950, 0.840, 0.670, 0.489)
COCO: tuple[PublishedRow, ...] = (
    PublishedRow("Texygen", "mle", dict(zip(_BLEU_KEYS, _TEXYGEN_MLE, strict=True)), TEXYGEN),
    PublishedRow("Texygen", "seqgan", dict(zip(_BLEU_KEYS, _TEXYGEN_SEQGAN, strict=True)), TEXYGEN),
)


def sha256s_in(provenance: Any) -> set[str]:
    """Every value recorded under a key named `sha256` or `<file>_sha256` anywhere in a run's data provenance."""
    found: set[str] = set()
    if isinstance(provenance, dict):
        for key, value in provenance.items():
            if str(key).endswith("sha256") and isinstance(value, str):
                found.add(value.lower())
            else:
                found |= sha256s_in(value)
    elif isinstance(provenance, list):
        for value in provenance:
            found |= sha256s_in(value)
    return found


def benchmark_of(sha256s: Iterable[str]) -> str | None:
    """Which published benchmark these data files are: "canonical_oracle", "coco", or None."""
    hashes = set(sha256s)
    if hashes & CANONICAL_ORACLE_SHA256:
        return "canonical_oracle"
    if COCO_SHA256 <= hashes:
        return "coco"
    return None


def published_rows(benchmark: str | None) -> tuple[PublishedRow, ...]:
    """The published rows measured on `benchmark` (see `benchmark_of`); none for any other data."""
    return {"canonical_oracle": SYNTHETIC, "coco": COCO}.get(benchmark or "", ())


def family(algorithm: str) -> str:
    """The published algorithm a config choice belongs to: `seqgan_tiny` -> `seqgan`, `cot` -> `cot`."""
    for name in ("mle", "seqgan", "cot"):
        if algorithm == name or algorithm.startswith(name + "_"):
            return name
    return algorithm
