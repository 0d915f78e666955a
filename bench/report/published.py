"""Published figures to print beside ours (docs/design.md §5), each with its citation.

A published row only appears where our runs used the very data it was measured on, and that is
decided from the sha256 of the data files (the oracle's parameter file, the text files) recorded
in each run's metrics.json under "data" — never from a dataset's name: an embedded oracle or a
corpus dropped into `dataset=coco dataset.data_dir=...` is another benchmark.
Figures their authors gave only approximately ("≈ 8.1") are kept approximate in every table.

Each row also says how many samples its figures were computed on (`n_samples`, None when the
publication does not say): self-BLEU, distinct-n and the reverse-LM score move with that count, so
`comparable` tells the report whether one of ours may stand beside it. EMNLP News rows were measured
with models trained on Texygen's full training file (~270k sentences); runs on the suite's 10k
substitute differ in level, which `training_caveat` says and each row's note repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.evaluation.catalogue import SAMPLE_COUNT_FIGURES

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
"""Texygen's EMNLP2017 News test split (data/testdata/test_emnlp.txt): the BLEU references of every
published EMNLP News table, and what identifies the benchmark."""
EMNLP_TRAIN_GIT_BLOB = "538653e5f946b6f76e2b729c5aaa7507152354a3"
"""git blob id of Texygen's full EMNLP News training file (data/emnlp_news.txt, ~270k sentences)."""

SEQGAN_PAPER = "Yu, Zhang, Wang & Yu 2017 (AAAI), Table 1"
SEQGAN_REPO = "Yu, Zhang, Wang & Yu 2017, LantaoYu/SeqGAN reference repository, training log (MLE 120 epochs)"
COT_PAPER = "Lu, Yu, Feng, Zhu, Zhang & Yu 2019 (ICML), synthetic oracle, figures as quoted by its authors"
CACCIA = "Caccia, Caccia, Fedus, Larochelle, Pineau & Charlin 2020 (ICLR), published CSVs, α = 1"
TEXYGEN = "Zhu, Lu, Zheng, Guo, Zhang, Wang & Yu 2018 (SIGIR), Texygen COCO tables (10k samples, all test captions)"
RELGAN = (
    "Nie, Narodytska & Patel 2019 (ICLR), RelGAN, Table 3: EMNLP2017 WMT News, Texygen settings"
    " (BLEU against all 10k test sentences)"
)
CACCIA_NEWS = (
    "Caccia, Caccia, Fedus, Larochelle, Pineau & Charlin 2020 (ICLR) §4, pclucas14/GansFallingShort @e6be915"
    " csv/news/best_{mle,gan,cot}_temp_{lm,rlm}_score.csv at step 100: α = 1 (logits × α, step = 100 α; τ = 1/α)"
)
SUBSTITUTE_CAVEAT = (
    "trained on Texygen's full EMNLP News file (~270k sentences); runs on the suite's 10k substitute are not"
    " comparable in level"
)


@dataclass(frozen=True)
class PublishedRow:
    """One algorithm's figures from one publication; `approximate` names figures quoted as "≈"."""

    source: str
    algorithm: str
    figures: dict[str, float]
    citation: str
    approximate: frozenset[str] = field(default_factory=frozenset)
    note: str = ""
    n_samples: int | None = None
    """Samples the figures were computed on; None when the publication does not say."""

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
    PublishedRow("Texygen", "mle", dict(zip(_BLEU_KEYS, _TEXYGEN_MLE, strict=True)), TEXYGEN, n_samples=10_000),
    PublishedRow("Texygen", "seqgan", dict(zip(_BLEU_KEYS, _TEXYGEN_SEQGAN, strict=True)), TEXYGEN, n_samples=10_000),
)


def _relgan(algorithm: str, bleu: tuple[float, float, float, float], nll_gen: float) -> PublishedRow:
    """A RelGAN Table 3 row. Its NLL_gen is Texygen's: the generator's NLL of real test data averaged over all
    max-length positions, padding included, so it is not our NLL_test (padding never scored) and has its own key."""
    figures = {**dict(zip(_BLEU_KEYS[:4], bleu, strict=True)), "nll_gen": nll_gen}
    return PublishedRow("RelGAN paper", algorithm, figures, RELGAN, note=SUBSTITUTE_CAVEAT)


def _caccia(algorithm: str, lm: float, reverse_lm: float, note: str) -> PublishedRow:
    """A Caccia et al. News row at α = 1. Their LMs: the judge an LSTM trained on the ~270k training sentences,
    the reverse LM a 2 x 512 LSTM trained 30 epochs on the samples, selected on real validation sentences; LM
    scores are means of per-sentence means. `num_samples` defaults to 250,000 in their scripts (the CSVs do not
    record the value used)."""
    figures = {"lm_score": lm, "reverse_lm_score": reverse_lm}
    return PublishedRow(
        "Caccia et al.", algorithm, figures, CACCIA_NEWS, note=f"{note}; {SUBSTITUTE_CAVEAT}", n_samples=250_000
    )


EMNLP_NEWS: tuple[PublishedRow, ...] = (
    _relgan("mle", (0.768, 0.473, 0.240, 0.126), 2.382),
    _relgan("seqgan", (0.777, 0.491, 0.261, 0.138), 2.773),
    _relgan("rankgan", (0.727, 0.435, 0.209, 0.101), 3.345),
    _relgan("leakgan", (0.826, 0.645, 0.437, 0.272), 2.356),
    _caccia("mle", 3.628, 3.991, "MLE, temperature 1"),
    _caccia("seqgan", 3.389, 4.491, "their best language GAN (REINFORCE with a learned baseline), not SeqGAN itself"),
    _caccia("cot", 4.682, 4.390, "their best CoT"),
)
"""EMNLP2017 WMT News, keyed by the test split's sha256. RelGAN's rows quote its Table 3; Caccia et al.'s the
step-100 values of their published curves (their claim is the ordering over temperature: at equal LM score,
MLE's reverse-LM score is the lowest, then the GAN's, then CoT's; docs/text.md reads the CSVs)."""


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
    """Which published benchmark these data files are: "canonical_oracle", "coco", "emnlp_news", or None."""
    hashes = set(sha256s)
    if hashes & CANONICAL_ORACLE_SHA256:
        return "canonical_oracle"
    if COCO_SHA256 <= hashes:
        return "coco"
    if EMNLP_TEST_SHA256 in hashes:
        return "emnlp_news"
    return None


def published_rows(benchmark: str | None) -> tuple[PublishedRow, ...]:
    """The published rows measured on `benchmark` (see `benchmark_of`); none for any other data."""
    return {"canonical_oracle": SYNTHETIC, "coco": COCO, "emnlp_news": EMNLP_NEWS}.get(benchmark or "", ())


def comparable(row: PublishedRow, figure: str, n_samples: int | None) -> bool:
    """Whether our `figure`, computed on `n_samples` samples (a row's `n_samples` figure), may be printed as
    comparable beside `row`'s. A figure that moves with the number of samples (self-BLEU, distinct-n, the
    reverse-LM score: catalogue `SAMPLE_COUNT_FIGURES`) needs the same count, known on both sides; the others
    (BLEU, sacreBLEU, NLL, the LM score: means over samples) compare whatever the counts."""
    if figure not in SAMPLE_COUNT_FIGURES:
        return True
    return row.n_samples is not None and n_samples is not None and int(n_samples) == row.n_samples


def git_blobs_in(provenance: Any) -> set[str]:
    """Every value recorded under a key named `git_blob` anywhere in a run's data provenance."""
    found: set[str] = set()
    if isinstance(provenance, dict):
        for key, value in provenance.items():
            if key == "git_blob" and isinstance(value, str):
                found.add(value.lower())
            else:
                found |= git_blobs_in(value)
    elif isinstance(provenance, list):
        for value in provenance:
            found |= git_blobs_in(value)
    return found


def training_caveat(benchmark: str | None, provenance: Any) -> str | None:
    """What the report must say beside EMNLP News' published rows when a run did not train on the full file
    they were trained on (its git blob id absent from the run's data provenance); None otherwise."""
    if benchmark == "emnlp_news" and EMNLP_TRAIN_GIT_BLOB not in git_blobs_in(provenance):
        return f"Published rows were {SUBSTITUTE_CAVEAT}."
    return None


def family(algorithm: str) -> str:
    """The published algorithm a config choice belongs to: `seqgan_tiny` -> `seqgan`, `cot` -> `cot`
    (`rankgan` and `leakgan` rows of RelGAN's table have no algorithm of ours: they stand alone)."""
    for name in ("mle", "seqgan", "cot"):
        if algorithm == name or algorithm.startswith(name + "_"):
            return name
    return algorithm
