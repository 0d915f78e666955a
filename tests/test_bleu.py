"""BLEU and self-BLEU from tables equal nltk's sentence_bleu to 1e-12; sacreBLEU's corpus BLEU likewise."""

from __future__ import annotations

import math
import random

import pytest
import sacrebleu
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from bench.datasets.tokenizers import tokenize
from metrics.bleu import References, SacreBleuReferences, bleu, self_bleu, self_sentence_bleus, sentence_bleus
from tests.conftest import shared_file

ORDERS = (2, 3, 4, 5)
WEIGHTS = [tuple(1.0 / n for _ in range(n)) for n in ORDERS]  # Texygen's weights
SMOOTHING = SmoothingFunction().method1


def nltk_scores(references: list[list[str]], hypothesis: list[str]) -> list[float]:
    """nltk's BLEU-2..5 of one hypothesis (one call computes all four from the same precisions)."""
    return [float(s) for s in sentence_bleu(references, hypothesis, WEIGHTS, smoothing_function=SMOOTHING)]


def random_corpus(rng: random.Random, n: int, words: list[str], max_len: int = 12) -> list[list[str]]:
    return [[rng.choice(words) for _ in range(rng.randint(1, max_len))] for _ in range(n)]


def tricky_hypotheses(rng: random.Random, references: list[list[str]], n: int) -> list[list[str]]:
    """Copies, edits, recombinations, hypotheses shorter than 5 (also empty) and ones with no matching unigram."""
    words = sorted({w for r in references for w in r})
    hypotheses: list[list[str]] = [[], ["zzz-unknown"], ["qq1", "qq2", "qq3"], ["qq"] * 7]
    while len(hypotheses) < n:
        kind = len(hypotheses) % 6
        source = list(rng.choice(references))
        if kind == 0:
            hypotheses.append(source)  # a reference itself: BLEU 1
        elif kind == 1:
            hypotheses.append(source[: rng.randint(0, 4)])  # shorter than some n
        elif kind == 2:
            hypotheses.append([w if rng.random() < 0.7 else "oov-" + w for w in source])
        elif kind == 3:
            hypotheses.append(rng.sample(source, len(source)))  # same words, other order
        elif kind == 4:
            hypotheses.append([rng.choice(words) for _ in range(rng.randint(1, 25))])
        else:
            hypotheses.append(source + list(rng.choice(references)))  # longer than every reference
    return hypotheses


def assert_all_equal(ours: dict[int, list[float]], expected: list[list[float]]) -> None:
    for k, order in enumerate(ORDERS):
        for index, row in enumerate(expected):
            assert ours[order][index] == pytest.approx(row[k], abs=1e-12, rel=0), (order, index)


def test_bleu_equals_nltk_on_a_small_self_made_corpus() -> None:
    rng = random.Random(1)
    references = random_corpus(rng, 120, [f"w{i}" for i in range(12)])
    hypotheses = tricky_hypotheses(rng, references, 300)
    ours = sentence_bleus(hypotheses, References(references), ORDERS)
    expected = [nltk_scores(references, h) for h in hypotheses]
    assert_all_equal(ours, expected)
    assert len({round(row[3], 9) for row in expected}) > 50  # a varied test, not 300 zeros
    means = bleu(hypotheses, References(references), ORDERS)
    assert means[4] == pytest.approx(sum(row[2] for row in expected) / len(expected), abs=1e-15)


@pytest.mark.slow
def test_bleu_equals_nltk_on_300_hypotheses_against_the_full_coco_test_set() -> None:
    test_lines = shared_file("coco", "test_coco.txt").read_text().splitlines()
    train_lines = shared_file("coco", "image_coco.txt").read_text().splitlines()
    references = [tokenize(line, "treebank") for line in test_lines if line.strip()]
    assert len(references) == 10_000
    rng = random.Random(5)
    hypotheses = tricky_hypotheses(rng, references, 200)
    hypotheses += [tokenize(line, "treebank") for line in rng.sample(train_lines, 100)]
    ours = sentence_bleus(hypotheses, References(references), ORDERS)
    assert_all_equal(ours, [nltk_scores(references, h) for h in hypotheses])


def test_corner_cases_match_nltk() -> None:
    references = [["a", "b", "c", "d", "e", "f"], ["a", "b", "x", "y", "z", "w", "v", "u"]]
    cases = {
        "no unigram match": ["q", "r", "s"],
        "empty": [],
        "one word": ["a"],
        "shorter than 3": ["a", "b"],
        "unigrams only (epsilon on higher orders)": ["f", "e", "d", "c"],
        "7 words: references of 6 and 8 tie, the shorter wins (no penalty)": ["a", "b", "c", "d", "e", "f", "a"],
        "repeated word, clipped": ["a"] * 9,
        "exact copy": list(references[0]),
    }
    table = References(references)
    for name, hypothesis in cases.items():
        ours = sentence_bleus([hypothesis], table, ORDERS)
        expected = nltk_scores(references, hypothesis)
        assert [ours[n][0] for n in ORDERS] == pytest.approx(expected, abs=1e-12, rel=0), name
    assert sentence_bleus([["q"]], table, (2,))[2] == [0.0]
    assert sentence_bleus([list(references[0])], table, (5,))[5] == [1.0]
    # one matching word of one: precisions 1 and 0.1/1 -> sqrt(0.1), brevity exp(1 - 6/1)
    assert sentence_bleus([["a"]], table, (2,))[2][0] == pytest.approx(math.exp(1 - 6) * math.sqrt(0.1), rel=1e-15)
    tie = sentence_bleus([["a", "b", "c", "d", "e", "f", "a"]], table, (2,))[2][0]
    assert tie == pytest.approx(math.sqrt(6 / 7 * 5 / 6), rel=1e-15)  # brevity 1: closest length is 6, not 8


def literal_self_bleu(samples: list[list[str]]) -> list[list[float]]:
    return [nltk_scores(samples[:i] + samples[i + 1 :], s) for i, s in enumerate(samples)]


def test_self_bleu_equals_literal_leave_one_out_nltk_with_duplicates() -> None:
    rng = random.Random(3)
    samples = random_corpus(rng, 230, [f"w{i}" for i in range(10)], max_len=9)
    long = ["w1", "w2", "w3", "w4", "w5", "w6"]
    samples += [list(samples[0]), list(samples[0]), list(samples[1]), long, list(long), ["w1"] * 25, [], ["w2"]]
    samples += [["solo", "w1", "w2"] * 5]  # a length of its own: leave-one-out must not see it
    rng.shuffle(samples)
    ours = self_sentence_bleus(samples, ORDERS)
    expected = literal_self_bleu(samples)
    assert_all_equal(ours, expected)
    assert self_bleu(samples, ORDERS)[3] == pytest.approx(sum(r[1] for r in expected) / len(expected), abs=1e-15)
    # including each sample among its own references would score every duplicate-free sample 1.0
    assert max(ours[5]) == pytest.approx(1.0) and min(ours[5]) < 0.5


def test_self_bleu_equals_literal_nltk_on_coco_sentences() -> None:
    lines = shared_file("coco", "image_coco.txt").read_text().splitlines()[:300]
    samples = [tokenize(line, "treebank") for line in lines]
    samples += samples[:5]  # duplicates
    assert_all_equal(self_sentence_bleus(samples, ORDERS), literal_self_bleu(samples))


def test_self_bleu_needs_two_samples_and_orders_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 2 samples"):
        self_bleu([["a"]])
    with pytest.raises(ValueError, match="orders"):
        sentence_bleus([["a"]], References([["a"]], max_order=4), (5,))


def test_sacrebleu_against_every_test_sentence_equals_sacrebleu_itself() -> None:
    rng = random.Random(7)
    words = ["the", "cat", "sat", "on", "mat", "a", "dog", ".", ",", "don't", '"hi"']
    references = [" ".join(s) for s in random_corpus(rng, 25, words, max_len=10)]
    hypotheses = [" ".join(s) for s in random_corpus(rng, 40, words, max_len=14)] + ["", "zzz"]
    ours = SacreBleuReferences(references).corpus_bleu(hypotheses)
    streams = [[reference] * len(hypotheses) for reference in references]  # each reference refers to all
    expected = sacrebleu.corpus_bleu(hypotheses, streams).score
    assert ours == pytest.approx(expected, abs=1e-12) and 0 < ours < 100
    assert SacreBleuReferences(references).corpus_bleu(references) == pytest.approx(100.0)
