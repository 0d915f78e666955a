"""CoT's mediator bound 1/2 KL(P || M) + 1/2 KL(G || M): exact on synthetic_tiny, equal to the JSD when M is
the mixture, its Monte Carlo estimate, and how an evaluation computes it."""

from __future__ import annotations

import math

import pytest
import torch

from algorithms.base import EvaluationContext
from bench.config.schema import EvalConfig
from bench.training.run import build_run
from metrics.jsd import jsd_exact, jsd_mediator_bound_exact, jsd_mediator_bound_monte_carlo
from tests.conftest import compose_spec, evaluator_for
from tests.enumeration import CPU, every_log_prob, tiny_dataset, tiny_generator


def tiny_cot(steps: int):
    cfg = compose_spec("algorithm=cot", "dataset=synthetic_tiny")
    torch.manual_seed(0)
    dataset, cot = build_run(cfg, CPU, torch.Generator().manual_seed(0))
    for _ in range(steps):
        cot.step()
    return dataset, cot


def test_mediator_bound_is_exact_on_synthetic_tiny_and_at_least_the_jsd() -> None:
    dataset, cot = tiny_cot(steps=30)
    evaluation = evaluator_for(dataset, EvalConfig(n_samples=500))(cot.generator, step=30)
    figures = cot.evaluation_figures(evaluation.context)
    log_p, log_g = (lp.sum(1).double() for lp in every_log_prob(dataset, cot.generator))
    log_m = cot.mediator.score(dataset.space.all_sequences()).sum(1).double()  # dropout off in score()
    p, g, m = log_p.exp(), log_g.exp(), log_m.exp()
    literal = 0.5 * (p * (p / m).log()).sum() + 0.5 * (g * (g / m).log()).sum()
    assert figures["jsd_mediator_bound"] == pytest.approx(float(literal), abs=1e-9)
    assert figures["jsd_mediator_bound_se"] == 0
    assert figures["jsd_mediator_bound"] > evaluation.figures["jsd"] > 0
    assert "m_balanced_nll" in figures


def test_mediator_bound_equals_the_jsd_when_the_mediator_is_the_mixture() -> None:
    dataset = tiny_dataset()
    log_p, log_g = (lp.sum(1) for lp in every_log_prob(dataset, tiny_generator(dataset)))
    mixture = torch.logaddexp(log_p.double(), log_g.double()) - math.log(2)
    assert jsd_mediator_bound_exact(log_p, log_g, mixture).value == pytest.approx(jsd_exact(log_p, log_g).value, 1e-10)
    other = mixture + 0.1 * torch.randn(mixture.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    other = other - other.logsumexp(0)  # another distribution over the same space
    assert jsd_mediator_bound_exact(log_p, log_g, other).value > jsd_exact(log_p, log_g).value + 1e-4


def test_mediator_bound_monte_carlo_agrees_with_the_exact_value() -> None:
    dataset, cot = tiny_cot(steps=10)
    every = dataset.space.all_sequences()
    log_m_all = cot.mediator.score(every).sum(1)
    log_p, log_g = (lp.sum(1) for lp in every_log_prob(dataset, cot.generator))
    exact = jsd_mediator_bound_exact(log_p, log_g, log_m_all).value
    rng = torch.Generator().manual_seed(3)
    from_p, from_g = dataset.oracle.sample(20_000, rng), cot.generator.sample(20_000, rng)
    estimate = jsd_mediator_bound_monte_carlo(
        p_on_p=from_p.token_log_probs.sum(1),
        m_on_p=cot.mediator.score(from_p.tokens).sum(1),
        g_on_g=from_g.token_log_probs.sum(1),
        m_on_g=cot.mediator.score(from_g.tokens).sum(1),
    )
    assert 0 < estimate.standard_error and abs(estimate.value - exact) < 4 * estimate.standard_error


def test_mediator_bound_is_monte_carlo_from_the_evaluation_samples_when_not_enumerable() -> None:
    dataset, cot = tiny_cot(steps=5)
    drawn = cot.generator.sample(300, torch.Generator().manual_seed(4))
    context = EvaluationContext(
        drawn.tokens,
        drawn.token_log_probs,
        dataset.test,
        cot.generator.score(dataset.test),
        1.0,
        oracle_on_samples=dataset.oracle.score(drawn.tokens),
        oracle_on_test=dataset.oracle.score(dataset.test),
    )
    figures = cot.evaluation_figures(context)
    expected = jsd_mediator_bound_monte_carlo(
        dataset.oracle.score(dataset.test).sum(1),
        cot.mediator.score(dataset.test).sum(1),
        drawn.token_log_probs.sum(1),
        cot.mediator.score(drawn.tokens).sum(1),
    )
    assert (figures["jsd_mediator_bound"], figures["jsd_mediator_bound_se"]) == pytest.approx(tuple(expected), 1e-12)
    no_oracle = EvaluationContext(drawn.tokens, drawn.token_log_probs, dataset.test, context.model_on_test, 1.0)
    assert set(cot.evaluation_figures(no_oracle)) == {"m_balanced_nll"}
