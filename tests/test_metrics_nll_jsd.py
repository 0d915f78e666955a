"""NLL, JSD and CoT's stepwise bound against independent computations: hand sums, enumeration, extremes."""

from __future__ import annotations

import math

import pytest
import torch

from bench.config.build import build
from metrics.jsd import (
    LN2,
    jsd_exact,
    jsd_monte_carlo,
    jsd_stepwise_bound_exact,
    jsd_stepwise_bound_monte_carlo,
)
from metrics.nll import mean_token_nll, nll_oracle, nll_test
from models import Generator, GeneratorConfig, SequenceSpace
from tests.conftest import compose_config


def test_mean_token_nll_by_hand() -> None:
    log_probs = torch.log(torch.tensor([[0.5, 0.25, 0.125], [0.5, 1.0, 0.1]]))
    mask = torch.tensor([[True, True, True], [True, False, False]])
    expected = -(math.log(0.5) + math.log(0.25) + math.log(0.125) + math.log(0.5)) / 4
    assert mean_token_nll(log_probs, mask) == pytest.approx(expected, abs=1e-7)
    assert nll_test(log_probs, mask) == pytest.approx(expected, abs=1e-7)
    every_token = -sum(math.log(p) for p in (0.5, 0.25, 0.125, 0.5, 1.0, 0.1)) / 6  # no mask: all six tokens
    assert nll_oracle(log_probs) == pytest.approx(every_token, abs=1e-7)
    with pytest.raises(ValueError, match="no scored tokens"):
        mean_token_nll(log_probs, torch.zeros_like(mask))


def literal_jsd(p: list[float], q: list[float]) -> float:
    """Textbook definition, term by term, in plain Python."""
    total = 0.0
    for pi, qi in zip(p, q, strict=False):
        m = (pi + qi) / 2
        if pi > 0:
            total += 0.5 * pi * math.log(pi / m)
        if qi > 0:
            total += 0.5 * qi * math.log(qi / m)
    return total


def test_exact_jsd_extremes_symmetry_and_literal_value() -> None:
    p = torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64)
    q = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    assert jsd_exact(p.log(), p.log()).value == pytest.approx(0.0, abs=1e-12)
    halves = torch.tensor([0.5, 0.5, 0, 0], dtype=torch.float64)
    disjoint = jsd_exact(halves.log(), halves.flip(0).log())
    assert disjoint.value == pytest.approx(LN2, abs=1e-12)
    assert jsd_exact(p.log(), q.log()).value == pytest.approx(literal_jsd(p.tolist(), q.tolist()), abs=1e-12)
    assert jsd_exact(p.log(), q.log()).value == pytest.approx(jsd_exact(q.log(), p.log()).value, abs=1e-12)


def tiny_models() -> tuple[Generator, Generator, torch.Tensor]:
    space = SequenceSpace(vocab_size=4, seq_len=4)
    torch.manual_seed(0)
    p = Generator(space, GeneratorConfig(8, 8, init_std=1.0))
    g = Generator(space, GeneratorConfig(8, 8, init_std=0.7))
    return p, g, space.all_sequences()


def test_monte_carlo_jsd_agrees_with_enumeration_within_three_standard_errors() -> None:
    p, g, every = tiny_models()
    exact = jsd_exact(p.score(every).sum(1), g.score(every).sum(1)).value
    rng = torch.Generator().manual_seed(0)
    from_p, from_g = p.sample(20_000, rng), g.sample(20_000, rng)
    estimate = jsd_monte_carlo(
        p_on_p=from_p.token_log_probs.sum(1),
        g_on_p=g.score(from_p.tokens).sum(1),
        g_on_g=from_g.token_log_probs.sum(1),
        p_on_g=p.score(from_g.tokens).sum(1),
    )
    assert 0 < exact < LN2
    assert estimate.standard_error > 0
    assert abs(estimate.value - exact) < 3 * estimate.standard_error
    swapped = jsd_monte_carlo(
        p_on_p=from_g.token_log_probs.sum(1),
        g_on_p=p.score(from_g.tokens).sum(1),
        g_on_g=from_p.token_log_probs.sum(1),
        p_on_g=g.score(from_p.tokens).sum(1),
    )
    assert swapped.value == pytest.approx(estimate.value, abs=1e-12)


def test_monte_carlo_jsd_of_identical_and_disjoint_models() -> None:
    log_probs = torch.randn(1000)
    assert jsd_monte_carlo(log_probs, log_probs, log_probs, log_probs).value == pytest.approx(0.0, abs=1e-12)
    minus_inf = torch.full((1000,), -math.inf)
    disjoint = jsd_monte_carlo(log_probs, minus_inf, log_probs, minus_inf)
    assert disjoint.value == pytest.approx(LN2, abs=1e-12)
    assert disjoint.standard_error == pytest.approx(0.0, abs=1e-12)


def test_monte_carlo_jsd_agrees_with_enumeration_on_synthetic_tiny() -> None:
    dataset = build(compose_config("dataset=synthetic_tiny").dataset, "dataset")
    torch.manual_seed(0)
    generator = Generator(dataset.space, GeneratorConfig(16, 16, init_std=0.5))
    every = dataset.space.all_sequences()
    exact = jsd_exact(dataset.oracle.score(every).sum(1), generator.score(every).sum(1)).value
    rng = torch.Generator().manual_seed(1)
    from_p, from_g = dataset.oracle.sample(20_000, rng), generator.sample(20_000, rng)
    estimate = jsd_monte_carlo(
        p_on_p=from_p.token_log_probs.sum(1),
        g_on_p=generator.score(from_p.tokens).sum(1),
        g_on_g=from_g.token_log_probs.sum(1),
        p_on_g=dataset.oracle.score(from_g.tokens).sum(1),
    )
    assert 0.05 < exact < LN2 - 0.05
    assert 0 < estimate.standard_error < 0.01
    assert abs(estimate.value - exact) < 3 * estimate.standard_error


def literal_stepwise_bound(p_tokens: list[list[float]], g_tokens: list[list[float]]) -> float:
    """1/2 KL(P || Q) + 1/2 KL(G || Q), Q(x) = prod_t (p_t + g_t)/2, from per-token probabilities of every x."""
    big_p = [math.prod(row) for row in p_tokens]
    big_g = [math.prod(row) for row in g_tokens]
    big_q = [
        math.prod((a + b) / 2 for a, b in zip(p_row, g_row, strict=True))
        for p_row, g_row in zip(p_tokens, g_tokens, strict=True)
    ]
    assert sum(big_q) == pytest.approx(1.0, abs=1e-6)  # a distribution (up to float32 model scores)
    terms = zip(big_p, big_g, big_q, strict=True)
    return sum(0.5 * p * math.log(p / q) + 0.5 * g * math.log(g / q) for p, g, q in terms)


def test_stepwise_bound_is_the_per_token_mixture_kl_and_bounds_the_true_jsd() -> None:
    p, g, every = tiny_models()
    p_tokens, g_tokens = p.score(every).double(), g.score(every).double()  # (256, 4) per-token log-probs
    bound = jsd_stepwise_bound_exact(p_tokens, g_tokens).value
    expected = literal_stepwise_bound(p_tokens.exp().tolist(), g_tokens.exp().tolist())
    assert bound == pytest.approx(expected, rel=1e-9)
    assert bound == pytest.approx(jsd_stepwise_bound_exact(g_tokens, p_tokens).value, rel=1e-12)
    true_jsd = jsd_exact(p_tokens.sum(1), g_tokens.sum(1)).value
    assert true_jsd < bound < every.shape[1] * LN2
    assert jsd_stepwise_bound_exact(p_tokens, p_tokens).value == pytest.approx(0.0, abs=1e-12)

    rng = torch.Generator().manual_seed(0)
    from_p, from_g = p.sample(20_000, rng), g.sample(20_000, rng)
    estimate = jsd_stepwise_bound_monte_carlo(
        p_on_p=from_p.token_log_probs,
        g_on_p=g.score(from_p.tokens),
        g_on_g=from_g.token_log_probs,
        p_on_g=p.score(from_g.tokens),
    )
    assert abs(estimate.value - bound) < 3 * estimate.standard_error


def test_stepwise_bound_reaches_t_ln2_when_every_token_is_disjoint() -> None:
    own = torch.log(torch.rand(500, 20, generator=torch.Generator().manual_seed(0)))
    minus_inf = torch.full_like(own, -math.inf)
    assert jsd_stepwise_bound_monte_carlo(own, minus_inf, own, minus_inf).value == pytest.approx(20 * LN2, abs=1e-9)
