"""CoT: the generator loss by hand, a frozen mediator in the G step, dropout only in M's update, each
network at its own learning rate, the mediator as configured, resuming, learning, bad values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.base import EvaluationContext
from algorithms.cot import CoT, CoTConfig, generator_loss
from bench.config.build import validated
from bench.errors import BenchError
from bench.training.run import build_run, run
from tests.conftest import TEXT_SPACE as TEXT
from tests.conftest import compose_config, compose_spec, largest_change, make_generator


def tiny_cot(*overrides: str, seed: int = 0) -> CoT:
    """CoT on synthetic_tiny, built the way a run builds it."""
    cfg = compose_spec("algorithm=cot", "dataset=synthetic_tiny", *overrides)
    torch.manual_seed(seed)
    _, algorithm = build_run(cfg, torch.device("cpu"), torch.Generator().manual_seed(seed))
    return algorithm


def literal_kl(g_logits: list[float], m_logits: list[float]) -> float:
    """sum_x pi_g(x) (log pi_g(x) - log pi_m(x)), softmaxes written out in plain Python."""
    g_norm = math.log(sum(math.exp(v) for v in g_logits))
    m_norm = math.log(sum(math.exp(v) for v in m_logits))
    total = 0.0
    for g, m in zip(g_logits, m_logits, strict=True):
        log_g, log_m = g - g_norm, m - m_norm
        total += math.exp(log_g) * (log_g - log_m)
    return total


def test_generator_loss_is_the_mean_whole_vocabulary_kl_over_scored_steps() -> None:
    generator, mediator = make_generator(TEXT, seed=1), make_generator(TEXT, seed=2)
    tokens = torch.tensor([[4, 5, 2, 0, 0, 0], [3, 6, 3, 3, 3, 2]])  # row 0 ends at EOS (2), then PAD
    g_logits, m_logits = generator(tokens).detach(), mediator(tokens).detach()
    scored = [(0, 0), (0, 1), (0, 2)] + [(1, t) for t in range(6)]
    expected = sum(literal_kl(g_logits[b, t].tolist(), m_logits[b, t].tolist()) for b, t in scored) / len(scored)
    loss = generator_loss(g_logits, m_logits, TEXT.mask(tokens))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert generator_loss(g_logits, g_logits, TEXT.mask(tokens)).item() == pytest.approx(0.0, abs=1e-6)


def test_generator_step_leaves_the_mediator_untouched_and_moves_the_generator() -> None:
    cot = tiny_cot()
    cot.step()  # optimisers now hold state; M's gradients are cleared below
    cot.mediator.zero_grad(set_to_none=True)
    mediator_before = {k: v.clone() for k, v in cot.mediator.state_dict().items()}
    generator_before = {k: v.clone() for k, v in cot.generator.state_dict().items()}
    cot.generator_step()
    assert all(torch.equal(v, mediator_before[k]) for k, v in cot.mediator.state_dict().items())
    assert all(p.grad is None for p in cot.mediator.parameters())
    assert any(not torch.equal(v, generator_before[k]) for k, v in cot.generator.state_dict().items())
    assert all(p.grad is not None for p in cot.generator.parameters())


def test_mediator_dropout_is_on_only_during_its_own_update() -> None:
    cot = tiny_cot()
    modes: list[bool] = []
    # the dropout layer runs in every pass through M, whichever method makes it
    cot.mediator.dropout.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    cot.generator_step()
    assert modes == [False]
    cot.mediator_step()
    assert modes == [False, True]
    assert not cot.mediator.training
    drawn = cot.generator.sample(50, torch.Generator().manual_seed(3))
    samples = drawn.tokens
    cot.evaluation_figures(EvaluationContext(samples, drawn.token_log_probs, samples, drawn.token_log_probs, 1.0))
    assert modes[2:] and not any(modes[2:])

    # The dropout is real: train mode changes the outputs, eval mode gives the same ones twice.
    assert torch.equal(cot.mediator(samples), cot.mediator(samples))
    cot.mediator.train()
    assert not torch.equal(cot.mediator(samples), cot.mediator(samples))


def test_each_network_steps_at_its_own_learning_rate_with_the_configured_betas() -> None:
    cot = tiny_cot("algorithm.g_lr=0.002", "algorithm.m_lr=0.007", "algorithm.betas=[0.5,0.6]")
    assert largest_change(cot.generator, cot.generator_step) == pytest.approx(0.002, rel=1e-3)
    assert largest_change(cot.mediator, cot.mediator_step) == pytest.approx(0.007, rel=1e-3)
    assert [o.param_groups[0]["betas"] for o in (cot.g_optimizer, cot.m_optimizer)] == [(0.5, 0.6)] * 2


def test_the_mediator_is_m_width_times_as_wide_orthogonal_inside_and_drawn_at_m_init_std() -> None:
    cot = tiny_cot("algorithm.m_width=3", "algorithm.m_init_std=0.05")
    g, m = cot.generator, cot.mediator
    assert m.embedding.weight.shape[1] == 3 * g.embedding.weight.shape[1]
    assert m.lstm.hidden_size == 3 * g.lstm.hidden_size
    for block in m.lstm.weight_hh_l0.detach().chunk(4):  # one orthogonal block per gate
        assert torch.allclose(block @ block.T, torch.eye(m.lstm.hidden_size), atol=1e-5)
    drawn = torch.cat([m.embedding.weight.detach().flatten(), m.out.weight.detach().flatten()])
    assert drawn.std().item() == pytest.approx(0.05, rel=0.1)


def test_state_dict_restores_both_networks_optimisers_and_batch_position() -> None:
    trained, fresh = tiny_cot(seed=0), tiny_cot(seed=1)
    for _ in range(3):
        trained.step()
    fresh.load_state_dict(trained.state_dict())
    fresh.context.rng.set_state(trained.context.rng.get_state())
    torch.manual_seed(5)  # dropout's stream
    expected = trained.step()
    torch.manual_seed(5)
    assert fresh.step() == expected
    assert fresh.batches.cursor == trained.batches.cursor


def test_cot_from_scratch_lowers_the_exact_jsd_on_the_tiny_oracle(tmp_path: Path) -> None:
    overrides = ("algorithm=cot", "dataset=synthetic_tiny", "train.steps=200", "eval.every=100", "eval.n_samples=500")
    run(compose_spec(*overrides, "progress=false"), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["jsd"].iloc[-1] < 0.35 * history["jsd"].iloc[0]
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0] - 0.5
    assert history["m_balanced_nll"].iloc[-1] < history["m_balanced_nll"].iloc[0]
    assert (history["jsd_stepwise_bound"] >= history["jsd"]).all()
    assert {"g_loss", "m_loss"} <= set(history.columns)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("algorithm.g_lr=0", "algorithm.g_lr=0.0: must be > 0"),
        ("algorithm.m_lr=-1", "algorithm.m_lr=-1.0: must be > 0"),
        ("algorithm.betas=[0.9,1.0]", "algorithm.betas=[0.9, 1.0]: must be two numbers in [0, 1)"),
        ("algorithm.m_steps=0", "algorithm.m_steps=0: must be at least 1"),
        ("algorithm.m_width=0", "algorithm.m_width=0: must be at least 1"),
        ("algorithm.m_dropout=1.0", "algorithm.m_dropout=1.0: must be in [0, 1)"),
    ],
)
def test_bad_cot_values_fail_with_one_line(override: str, message: str) -> None:
    cfg = compose_config("algorithm=cot", override)
    with pytest.raises(BenchError) as error:
        validated(cfg.algorithm, CoTConfig, "algorithm")
    assert str(error.value) == message
