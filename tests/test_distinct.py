"""distinct-n: unique n-grams over all n-gram occurrences of the whole sample set, against counts written out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets.text import TextConfig, build_text
from bench.evaluation.catalogue import BY_NAME, SAMPLE_COUNT_FIGURES, TABLE_FIGURES
from metrics.distinct import distinct_n
from tests.conftest import evaluator_for, make_generator
from tests.test_text_data import write_corpus


def test_distinct_n_against_counts_written_out() -> None:
    samples = [["a", "b", "a", "b"], ["a", "b", "c"], ["x"], []]
    # 1-grams: a b a b | a b c | x          -> 8 occurrences, {a, b, c, x}: 4
    # 2-grams: ab ba ab | ab bc             -> 5 occurrences, {ab, ba, bc}: 3
    # 3-grams: aba bab | abc                -> 3 occurrences, all different: 3
    # 4-grams: abab                         -> 1 occurrence: 1
    assert distinct_n(samples) == {1: 4 / 8, 2: 3 / 5, 3: 3 / 3, 4: 1 / 1}
    assert distinct_n(samples, (2,)) == {2: 0.6}


def test_distinct_n_pools_the_whole_set_so_repeats_lower_it() -> None:
    sentence = ["the", "cat", "sat", "on", "the", "mat"]
    assert distinct_n([sentence])[1] == 5 / 6  # "the" twice
    repeated = distinct_n([sentence] * 100)
    assert repeated == {1: 5 / 600, 2: 5 / 500, 3: 4 / 400, 4: 3 / 300}


def test_a_set_without_ngrams_of_an_order_scores_zero_and_bad_orders_are_refused() -> None:
    assert distinct_n([["a"], ["b", "c"], []]) == {1: 1.0, 2: 1.0, 3: 0.0, 4: 0.0}
    with pytest.raises(ValueError, match=r"orders=\(0, 1\): must be positive"):
        distinct_n([["a"]], (0, 1))


def test_every_evaluation_records_distinct_n_beside_self_bleu(tmp_path: Path) -> None:
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path)), "warn_min_sentences": 0}))
    generator = make_generator(dataset.space)
    evaluation = evaluator_for(dataset)(generator, 0)
    samples = dataset.vocabulary.decode(evaluation.samples.tokens)
    expected = distinct_n(samples)
    assert {f"distinct{n}": value for n, value in expected.items()} == {
        name: evaluation.figures[name] for name in ("distinct1", "distinct2", "distinct3", "distinct4")
    }
    assert evaluation.figures["n_samples"] == 10_000 == len(samples)
    names = TABLE_FIGURES["text"]
    assert names.index("self_bleu5") < names.index("distinct1") and BY_NAME["distinct1"].lower_is_better is False
    assert {"distinct1", "self_bleu5", "reverse_lm_score"} <= SAMPLE_COUNT_FIGURES
