"""BLEU-n and self-BLEU-n exactly as nltk's `sentence_bleu` scores them, from tables built once (docs/design.md §4.6).

Texygen's convention: each hypothesis is scored by nltk `sentence_bleu` against *all* references with
uniform weights (1/n, ..., 1/n) and `SmoothingFunction().method1`, and the scores are averaged. nltk
recounts every n-gram of every reference for every hypothesis (O(R) work each, ~0.3 s against 10k
references). The clipped counts only need, per n-gram, the largest count in any reference, and the
brevity penalty only the set of reference lengths; both are built once here. Self-BLEU scores each
sample against all *other* samples (leave-one-out), so its table keeps the largest count of each
n-gram, who owns it, and the second-largest count. The last steps (integer precision -> float,
method1's epsilon, `fsum` of weighted logs, brevity penalty) follow nltk.translate.bleu_score line by
line, so the scores are nltk's to the last bit.

Also sacreBLEU's corpus BLEU with every reference sentence a reference of every hypothesis, computed
from the same kind of table and finished by sacreBLEU's own `BLEU.compute_bleu`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache

Ngram = tuple[str, ...]
EPSILON = 0.1
"""`SmoothingFunction().method1`'s epsilon: a precision with no match becomes 0.1 / (number of n-grams)."""
DEFAULT_ORDERS = (2, 3, 4, 5)


def ngram_counts(tokens: Sequence[str], max_order: int) -> Counter[Ngram]:
    """Counts of all n-grams of orders 1..max_order in one Counter (a tuple's length is its order)."""
    counts: Counter[Ngram] = Counter()
    for n in range(1, min(max_order, len(tokens)) + 1):
        counts.update(zip(*(tokens[k:] for k in range(n)), strict=False))
    return counts


def closest_length_finder(lengths: Iterable[int]) -> Callable[[int], int]:
    """nltk's `closest_ref_length` over a multiset of lengths: nearest to the hypothesis, ties to the shorter."""
    candidates = sorted(set(lengths))
    if not candidates:
        raise ValueError("BLEU needs at least one reference")

    @cache
    def closest(hyp_len: int) -> int:
        return min(candidates, key=lambda ref_len: (abs(ref_len - hyp_len), ref_len))

    return closest


def brevity_penalty(closest_ref_len: int, hyp_len: int) -> float:
    """nltk's brevity penalty (an int 1 or 0 there; the products below are the same floats)."""
    if hyp_len > closest_ref_len:
        return 1
    if hyp_len == 0:
        return 0
    return math.exp(1 - closest_ref_len / hyp_len)


def sentence_score(order: int, matches: Sequence[int], hyp_len: int, closest_ref_len: int) -> float:
    """nltk `sentence_bleu` with weights (1/order,)*order and method1, from clipped match counts per order.

    `matches[i]` is the clipped count of (i+1)-grams; nltk's denominator is max(1, number of (i+1)-grams).
    """
    if matches[0] == 0:  # nltk returns 0 when no unigram matches, before any smoothing
        return 0.0
    weight = 1.0 / order
    logs = []
    for i in range(order):
        denominator = max(1, hyp_len - i)
        # nltk: Fraction(m, d) (float(m / d), correctly rounded) or, when m == 0, (0 + epsilon) / d
        precision = (matches[i] + EPSILON) / denominator if matches[i] == 0 else matches[i] / denominator
        logs.append(weight * math.log(precision))
    return brevity_penalty(closest_ref_len, hyp_len) * math.exp(math.fsum(logs))


def _scores(order_list: Sequence[int], matches: Sequence[int], hyp_len: int, ref_len: int) -> list[float]:
    return [sentence_score(order, matches, hyp_len, ref_len) for order in order_list]


class References:
    """All that BLEU needs of a reference set: the largest count of each n-gram, and the lengths."""

    def __init__(self, references: Sequence[Sequence[str]], max_order: int = max(DEFAULT_ORDERS)) -> None:
        self.max_order = max_order
        self.closest_length = closest_length_finder(len(reference) for reference in references)
        table: dict[Ngram, int] = {}
        for reference in references:
            for ngram, count in ngram_counts(reference, max_order).items():
                if count > table.get(ngram, 0):
                    table[ngram] = count
        self.max_counts = table

    def matches(self, counts: Counter[Ngram]) -> list[int]:
        """Clipped match counts per order of one hypothesis (its n-gram `counts`)."""
        matches = [0] * self.max_order
        table = self.max_counts
        for ngram, count in counts.items():
            best = table.get(ngram)
            if best:
                matches[len(ngram) - 1] += count if count < best else best
        return matches


def _check_orders(orders: Sequence[int], max_order: int) -> None:
    if not orders or min(orders) < 1 or max(orders) > max_order:
        raise ValueError(f"orders={tuple(orders)}: must be between 1 and {max_order}")


EVERY = 256
"""`between()` is called after every this many sentences (a caller may raise there to stop early)."""


def _ticker(between: Callable[[], None] | None) -> Callable[[int], None]:
    def tick(index: int) -> None:
        if between is not None and index % EVERY == EVERY - 1:
            between()

    return tick


def sentence_bleus(
    hypotheses: Sequence[Sequence[str]],
    references: References,
    orders: Sequence[int] = DEFAULT_ORDERS,
    between: Callable[[], None] | None = None,
) -> dict[int, list[float]]:
    """BLEU-n of every hypothesis against all references: {n: [score per hypothesis]}."""
    _check_orders(orders, references.max_order)
    rows, tick = [], _ticker(between)
    for index, hypothesis in enumerate(hypotheses):
        tick(index)
        counts = ngram_counts(hypothesis, references.max_order)
        hyp_len = len(hypothesis)
        rows.append(_scores(orders, references.matches(counts), hyp_len, references.closest_length(hyp_len)))
    return {order: [row[k] for row in rows] for k, order in enumerate(orders)}


def self_sentence_bleus(
    samples: Sequence[Sequence[str]], orders: Sequence[int] = DEFAULT_ORDERS, between: Callable[[], None] | None = None
) -> dict[int, list[float]]:
    """Self-BLEU-n of every sample against all the *other* samples (leave-one-out): {n: [score per sample]}."""
    if len(samples) < 2:
        raise ValueError(f"self-BLEU needs at least 2 samples, got {len(samples)}")
    max_order = max(orders)
    _check_orders(orders, max_order)
    tick = _ticker(between)
    all_counts = [ngram_counts(sample, max_order) for sample in samples]
    top: dict[Ngram, list[int]] = {}  # n-gram -> [largest count, its owner, second-largest count]
    for owner, counts in enumerate(all_counts):
        tick(owner)
        for ngram, count in counts.items():
            entry = top.get(ngram)
            if entry is None:
                top[ngram] = [count, owner, 0]
            elif count > entry[0]:
                entry[:] = [count, owner, entry[0]]
            elif count > entry[2]:
                entry[2] = count  # includes a tie with the largest: then both are the largest
    length_counts = Counter(len(sample) for sample in samples)
    everyone = closest_length_finder(length_counts)
    without_own_length = {
        length: closest_length_finder(other for other in length_counts if other != length)
        for length, count in length_counts.items()
        if count == 1
    }
    rows = []
    for index, counts in enumerate(all_counts):
        tick(index)
        matches = [0] * max_order
        for ngram, count in counts.items():
            largest, owner, second = top[ngram]
            best = second if owner == index else largest
            if best:
                matches[len(ngram) - 1] += count if count < best else best
        hyp_len = len(samples[index])
        closest = without_own_length.get(hyp_len, everyone)  # a length shared with another sample stays
        rows.append(_scores(orders, matches, hyp_len, closest(hyp_len)))
    return {order: [row[k] for row in rows] for k, order in enumerate(orders)}


def _means(per_sentence: dict[int, list[float]]) -> dict[int, float]:
    # Texygen averages with sum(scores) / len(scores), in sample order
    return {order: sum(scores) / len(scores) for order, scores in per_sentence.items()}


def bleu(
    hypotheses: Sequence[Sequence[str]],
    references: References,
    orders: Sequence[int] = DEFAULT_ORDERS,
    between: Callable[[], None] | None = None,
) -> dict[int, float]:
    """BLEU-n averaged over hypotheses (Texygen's BLEU against the whole test set): {n: mean score}."""
    if not hypotheses:
        raise ValueError("BLEU of no hypotheses is undefined")
    return _means(sentence_bleus(hypotheses, references, orders, between))


def self_bleu(
    samples: Sequence[Sequence[str]], orders: Sequence[int] = DEFAULT_ORDERS, between: Callable[[], None] | None = None
) -> dict[int, float]:
    """Self-BLEU-n averaged over samples, each against all the others (diversity: lower is more diverse)."""
    return _means(self_sentence_bleus(samples, orders, between))


class SacreBleuReferences:
    """A reference set for sacreBLEU corpus BLEU where every reference sentence refers to every hypothesis.

    sacreBLEU's own pipeline (13a tokeniser, n-grams up to 4, closest reference length, 'exp'
    smoothing, score 0-100), with the per-hypothesis reference statistics merged once: passing the
    same 10k references as 10k reference streams to `sacrebleu.corpus_bleu` gives the same number.
    """

    def __init__(self, references: Sequence[str]) -> None:
        from sacrebleu.metrics.bleu import BLEU
        from sacrebleu.metrics.helpers import extract_all_word_ngrams

        self._metric = BLEU()
        self._extract = extract_all_word_ngrams
        self.max_order = self._metric.max_ngram_order
        table: dict[Ngram, int] = {}
        lengths = []
        for reference in references:
            counts, length = self._extract(self._tokenize(reference), 1, self.max_order)
            lengths.append(length)
            for ngram, count in counts.items():
                if count > table.get(ngram, 0):
                    table[ngram] = count
        self.closest_length = closest_length_finder(lengths)  # sacreBLEU's rule is nltk's: nearest, ties shorter
        self.max_counts = table

    def _tokenize(self, sentence: str) -> str:
        return self._metric.tokenizer(sentence.rstrip())

    def corpus_bleu(self, hypotheses: Sequence[str], between: Callable[[], None] | None = None) -> float:
        """sacreBLEU corpus BLEU (0-100) of detokenised `hypotheses`."""
        correct, total = [0] * self.max_order, [0] * self.max_order
        sys_len = ref_len = 0
        tick = _ticker(between)
        for index, hypothesis in enumerate(hypotheses):
            tick(index)
            counts, length = self._extract(self._tokenize(hypothesis), 1, self.max_order)
            sys_len += length
            ref_len += self.closest_length(length)
            for ngram, count in counts.items():
                total[len(ngram) - 1] += count
                best = self.max_counts.get(ngram)
                if best:
                    correct[len(ngram) - 1] += min(count, best)
        metric = self._metric
        score = metric.compute_bleu(
            correct, total, sys_len, ref_len, smooth_method=metric.smooth_method, max_ngram_order=self.max_order
        )
        return float(score.score)


def sacrebleu_signature(n_references: int) -> str:
    """sacreBLEU's signature for `SacreBleuReferences` over `n_references` sentences, every one a
    reference of every hypothesis (nrefs is that count): the settings and version behind the figure."""
    from sacrebleu.metrics.bleu import BLEU

    metric = BLEU()
    metric.num_refs = n_references
    return metric.get_signature().format()
