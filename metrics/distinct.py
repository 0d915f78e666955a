"""distinct-n: the share of a sample set's n-grams that are different (Li et al. 2016), beside self-BLEU.

    distinct-n = |{n-grams of all samples}| / (number of n-gram occurrences in all samples)

counted over the whole set (not averaged per sentence): one sentence repeated 1,000 times scores
1/1000 of a set of 1,000 different sentences with no shared n-gram. Like self-BLEU it measures
diversity only, and it falls as the set grows (a larger set repeats more n-grams), so compare it
at equal numbers of samples. A sample shorter than n has no n-gram; a set without any n-gram of
order n scores 0 (there is no diversity to count), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_DISTINCT_ORDERS = (1, 2, 3, 4)


def distinct_n(samples: Sequence[Sequence[str]], orders: Sequence[int] = DEFAULT_DISTINCT_ORDERS) -> dict[int, float]:
    """{n: unique n-grams / total n-grams over every sample} for each n in `orders`."""
    if not orders or min(orders) < 1:
        raise ValueError(f"orders={tuple(orders)}: must be positive n-gram orders")
    figures = {}
    for n in orders:
        unique: set[tuple[str, ...]] = set()
        total = 0
        for sample in samples:
            grams = list(zip(*(sample[k:] for k in range(n)), strict=False))
            unique.update(grams)
            total += len(grams)
        figures[n] = len(unique) / total if total else 0.0
    return figures
