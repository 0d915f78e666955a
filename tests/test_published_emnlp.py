"""EMNLP News' published rows: the quoted figures, keyed by the test split's sha256, Caccia et al.'s values
read back from their CSVs at α = 1, the training-size caveat, and which figures compare at which sample count."""

from __future__ import annotations

import csv

import pytest

from bench.evaluation.catalogue import SAMPLE_COUNT_FIGURES
from bench.report.published import (
    COCO,
    EMNLP_NEWS,
    EMNLP_TEST_SHA256,
    EMNLP_TRAIN_GIT_BLOB,
    SUBSTITUTE_CAVEAT,
    PublishedRow,
    benchmark_of,
    comparable,
    published_rows,
    training_caveat,
)
from tests.conftest import shared_file


def _row(source: str, algorithm: str) -> PublishedRow:
    [row] = [r for r in EMNLP_NEWS if r.source == source and r.algorithm == algorithm]
    return row


def test_relgan_table_3_as_published() -> None:
    expected = {
        "mle": (0.768, 0.473, 0.240, 0.126, 2.382),
        "seqgan": (0.777, 0.491, 0.261, 0.138, 2.773),
        "rankgan": (0.727, 0.435, 0.209, 0.101, 3.345),
        "leakgan": (0.826, 0.645, 0.437, 0.272, 2.356),
    }
    for algorithm, values in expected.items():
        row = _row("RelGAN paper", algorithm)
        keys = ("bleu2", "bleu3", "bleu4", "bleu5", "nll_gen")
        assert tuple(row.figures[key] for key in keys) == values and set(row.figures) == set(keys)
        assert "nll_test" not in row.figures  # Texygen's NLL averages padding in: not our NLL_test
        assert "Table 3" in row.citation and SUBSTITUTE_CAVEAT in row.note


def caccia_at_alpha_one(name: str) -> float:
    """The value at step 100 (α = 1: their sampler multiplies the logits by α, logged at step int(100 α))."""
    with shared_file("published", "gansfallingshort", f"news_best_{name}.csv").open() as stream:
        [value] = [float(row["Value"]) for row in csv.DictReader(stream) if row["Step"] == "100"]
    return value


@pytest.mark.parametrize(("algorithm", "model"), [("mle", "mle"), ("seqgan", "gan"), ("cot", "cot")])
def test_caccia_rows_are_their_csvs_at_alpha_one(algorithm: str, model: str) -> None:
    row = _row("Caccia et al.", algorithm)
    assert row.figures["lm_score"] == round(caccia_at_alpha_one(f"{model}_temp_lm_score"), 3)
    assert row.figures["reverse_lm_score"] == round(caccia_at_alpha_one(f"{model}_temp_rlm_score"), 3)
    assert row.n_samples == 250_000 and "α = 1" in row.citation


def test_the_caccia_lm_scores_at_alpha_one_are_the_published_ones() -> None:
    lm = {a: _row("Caccia et al.", a).figures["lm_score"] for a in ("mle", "seqgan", "cot")}
    reverse = {a: _row("Caccia et al.", a).figures["reverse_lm_score"] for a in ("mle", "seqgan", "cot")}
    assert lm == {"mle": 3.628, "seqgan": 3.389, "cot": 4.682}
    assert reverse == {"mle": 3.991, "seqgan": 4.491, "cot": 4.390}


def test_emnlp_rows_are_keyed_by_the_test_splits_sha256_with_the_training_caveat() -> None:
    assert benchmark_of({EMNLP_TEST_SHA256}) == "emnlp_news" and published_rows("emnlp_news") == EMNLP_NEWS
    assert benchmark_of({"0" * 64}) is None
    substitute = {"train": {"sha256": "e66a6f", "git_blob": "b4a75a5893fc7a080ea660800ee5a0b4e12a7e39"}}
    assert training_caveat("emnlp_news", substitute) == f"Published rows were {SUBSTITUTE_CAVEAT}."
    full = {"train": {"sha256": "whatever", "git_blob": EMNLP_TRAIN_GIT_BLOB}}
    assert training_caveat("emnlp_news", full) is None and training_caveat("coco", substitute) is None


def test_self_bleu_beside_a_published_figure_needs_the_same_number_of_samples() -> None:
    texygen_mle = COCO[0]
    assert texygen_mle.n_samples == 10_000
    assert comparable(texygen_mle, "self_bleu5", 10_000)
    assert not comparable(texygen_mle, "self_bleu5", 2_000)  # self-BLEU grows with n: 0.276 at 2,000 vs 0.409
    assert not comparable(texygen_mle, "self_bleu5", None)
    assert comparable(texygen_mle, "bleu5", 2_000)  # a mean over samples: any count
    relgan = _row("RelGAN paper", "mle")
    assert (
        relgan.n_samples is None and comparable(relgan, "bleu2", 2_000) and not comparable(relgan, "distinct2", 2_000)
    )
    caccia = _row("Caccia et al.", "cot")
    assert comparable(caccia, "lm_score", 2_000) and not comparable(caccia, "reverse_lm_score", 2_000)
    assert SAMPLE_COUNT_FIGURES == {
        *(f"self_bleu{n}" for n in (2, 3, 4, 5)),
        *(f"distinct{n}" for n in (1, 2, 3, 4)),
        "reverse_lm_score",
    }
