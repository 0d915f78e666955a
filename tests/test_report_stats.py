"""The report's one test, Welch's interval of a difference of means, against written-out formulas: Student's
t in closed form (1 and 2 degrees of freedom), printed quantiles, and a Welch interval computed by hand."""

from __future__ import annotations

import math

import pytest

from bench.report import stats


@pytest.mark.parametrize("t", [-30.0, -2.5, -0.3, 0.0, 0.7, 2.2, 12.0])
def test_the_t_distribution_matches_its_closed_forms(t: float) -> None:
    cauchy = 0.5 + math.atan(t) / math.pi  # 1 degree of freedom
    two = 0.5 + t / (2 * math.sqrt(2 + t * t))  # 2 degrees of freedom
    assert stats.t_cdf(t, 1) == pytest.approx(cauchy, abs=1e-12)
    assert stats.t_cdf(t, 2) == pytest.approx(two, abs=1e-12)


@pytest.mark.parametrize("q", [0.6, 0.9, 0.975, 0.9975, 0.99999])
def test_the_t_quantile_inverts_the_closed_form_at_two_degrees_of_freedom(q: float) -> None:
    exact = (2 * q - 1) * math.sqrt(2 / (4 * q * (1 - q)))
    assert stats.t_quantile(q, 2) == pytest.approx(exact, rel=1e-9)
    assert stats.t_quantile(1 - q, 2) == pytest.approx(-exact, rel=1e-9)


@pytest.mark.parametrize(
    ("q", "df", "printed"),
    [(0.975, 1, 12.7062), (0.975, 4, 2.7764), (0.995, 10, 3.1693), (0.975, 30, 2.0423), (0.9975, 8, 3.8325)],
)
def test_the_t_quantile_matches_printed_tables(q: float, df: float, printed: float) -> None:
    assert stats.t_quantile(q, df) == pytest.approx(printed, abs=1e-4)


def test_welch_interval_matches_the_formula_written_out() -> None:
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    # means 2 and 5; sample variances 1 and 20/3; squared standard error 1/3 + 5/3 = 2
    df = 2.0**2 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)
    half = stats.t_quantile(0.975, df) * math.sqrt(2.0)
    difference = stats.welch(a, b)
    assert difference is not None and difference.df == pytest.approx(df) and df == pytest.approx(4.0755, abs=1e-4)
    assert (difference.estimate, difference.low, difference.high) == pytest.approx((-3.0, -3.0 - half, -3.0 + half))
    assert not difference.decided  # the interval [-6.90, 0.90] holds zero
    assert difference.p == pytest.approx(2 * (1 - stats.t_cdf(3.0 / math.sqrt(2.0), df)))
    assert (difference.n_a, difference.n_b, difference.level) == (3, 4, stats.LEVEL)


def test_welch_decides_only_beyond_its_interval_and_needs_two_seeds_a_side() -> None:
    apart = stats.welch([1.0, 1.1, 0.9], [3.0, 3.1, 2.9])
    assert apart is not None and apart.decided and apart.high < 0
    assert stats.welch([1.0], [2.0, 3.0]) is None
    assert stats.welch([1.0, math.nan], [2.0, 3.0]) is None  # NaN is no seed
    same = stats.welch([2.0, 2.0], [2.0, 2.0])  # no spread, no difference
    assert same is not None and not same.decided and same.estimate == 0
    constant = stats.welch([1.0, 1.0], [2.0, 2.0])  # no spread, a difference: the interval is the point
    assert constant is not None and constant.decided and (constant.low, constant.high) == (-1.0, -1.0)


def test_a_family_of_tests_shares_its_level_bonferroni() -> None:
    assert stats.family_level(0.95, 10) == pytest.approx(0.995)
    assert stats.family_level(0.95, 1) == 0.95
    wide, narrow = stats.welch([1.0, 1.2, 1.1], [1.5, 1.7, 1.6], 0.995), stats.welch([1.0, 1.2, 1.1], [1.5, 1.7, 1.6])
    assert wide is not None and narrow is not None and wide.high - wide.low > narrow.high - narrow.low


def test_against_scipy_where_it_is_installed() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1.3, 3.7, 12.0):
        for t in (-2.0, 0.4, 3.3):
            assert stats.t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-10)
    a, b = [0.3, 0.9, 0.4, 0.8], [1.1, 1.9, 1.4]
    result = scipy_stats.ttest_ind(a, b, equal_var=False)
    difference = stats.welch(a, b)
    assert difference is not None and difference.p == pytest.approx(result.pvalue, rel=1e-8)
