"""The one statistical test of every report: Welch's t on per-seed figures, as a confidence interval of
the difference of means.

Each seed's run is one observation; two models are compared by the difference of their means over
seeds, with Welch's interval (unequal variances, Welch–Satterthwaite degrees of freedom) at `LEVEL`.
A model "beats" another only where the interval excludes zero; otherwise, or with fewer than two
seeds on either side, the answer is "cannot tell". A verdict made of several comparisons (a curve
compared at several matched points and figures) holds its whole family at `LEVEL`: each of its k
comparisons is made at 1 - (1 - LEVEL) / k (Bonferroni), so one lucky point cannot decide a verdict.

The Student t distribution is computed here (regularised incomplete beta by its continued fraction,
the quantile by bisection) so that the suite needs no statistics library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LEVEL = 0.95
"""Two-sided confidence level of every interval, and the family-wise level of every verdict."""
TEST = "Welch's t"


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) over seeds, with its Welch interval at `level`."""

    estimate: float
    low: float
    high: float
    level: float
    df: float
    n_a: int
    n_b: int
    p: float
    """Two-sided p-value of "no difference"."""

    @property
    def decided(self) -> bool:
        """Whether the interval excludes zero (the sign of the difference is known at `level`)."""
        return self.low > 0 or self.high < 0


def family_level(level: float, comparisons: int) -> float:
    """The level of each of `comparisons` tests that together hold the family at `level` (Bonferroni)."""
    return 1 - (1 - level) / max(comparisons, 1)


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def welch(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Difference | None:
    """Welch's interval of mean(a) - mean(b) at `level`; None with fewer than two finite values on either side.

    With no spread on either side the interval is the point itself (decided unless the means are equal).
    """
    a, b = _finite(a), _finite(b)
    n_a, n_b = len(a), len(b)
    if n_a < 2 or n_b < 2:
        return None
    mean_a, mean_b = sum(a) / n_a, sum(b) / n_b
    var_a = sum((x - mean_a) ** 2 for x in a) / (n_a - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (n_b - 1)
    estimate = mean_a - mean_b
    share_a, share_b = var_a / n_a, var_b / n_b
    se = math.sqrt(share_a + share_b)
    if se == 0:
        return Difference(estimate, estimate, estimate, level, math.inf, n_a, n_b, 1.0 if estimate == 0 else 0.0)
    df = (share_a + share_b) ** 2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    half = t_quantile(1 - (1 - level) / 2, df) * se
    p = 2 * (1 - t_cdf(abs(estimate) / se, df))
    return Difference(estimate, estimate - half, estimate + half, level, df, n_a, n_b, p)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (any df > 0, not only integers)."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return 1 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q, by bisection on `t_cdf` (monotone), to ~1e-12."""
    if not 0 < q < 1:
        raise ValueError(f"q={q}: must be in (0, 1)")
    if q < 0.5:
        return -t_quantile(1 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        low, high = high, high * 2
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < q:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction (modified Lentz), using the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
    where the fraction converges slowly."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        return 1 - regularized_beta(1 - x, b, a)
    return math.exp(log_front) * _beta_fraction(x, a, b) / a


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
