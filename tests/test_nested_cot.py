"""Nested CoT: M's KL step and M2's balanced NLL against written-out formulas, M learning the
mixture (P + G)/2 with G fixed (exact, by enumeration), dropout modes, resume, config errors."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.base import EpochBatches, EvaluationContext
from algorithms.cot import CoT
from algorithms.nested_cot import NestedCoT, NestedCoTConfig
from bench.config.build import validated
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation.catalogue import CLOCKS as TIMES
from bench.training.loop import DivergenceError, check_parameters
from bench.training.run import build_run, run
from tests.conftest import compose_config, compose_spec, largest_change


def tiny(*overrides: str, algorithm: str = "nested_cot", seed: int = 0) -> tuple[Dataset, NestedCoT | CoT]:
    """The dataset and algorithm a run on synthetic_tiny builds."""
    cfg = compose_spec(f"algorithm={algorithm}", "dataset=synthetic_tiny", *overrides)
    torch.manual_seed(seed)
    return build_run(cfg, torch.device("cpu"), torch.Generator().manual_seed(seed))


def copy_of(rng: torch.Generator) -> torch.Generator:
    return torch.Generator().set_state(rng.get_state())


def gradients_at_step(optimizer: torch.optim.Optimizer, network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Fill (when the optimiser steps) a dict with `network`'s gradients as the optimiser sees them."""
    seen: dict[str, torch.Tensor] = {}

    def capture(*_: object) -> None:
        seen.update({name: p.grad.clone() for name, p in network.named_parameters()})

    optimizer.register_step_pre_hook(capture)
    return seen


def reference_gradients(network: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    network.zero_grad(set_to_none=True)
    loss.backward()
    gradients = {name: p.grad.clone() for name, p in network.named_parameters()}
    network.zero_grad(set_to_none=True)
    return gradients


def assert_same_gradients(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=1e-5, atol=1e-6, msg=name)


def own_samples_context(algorithm: NestedCoT, n: int) -> EvaluationContext:
    """An evaluation context without an oracle whose test set is G's own samples."""
    drawn = algorithm.generator.sample(n, torch.Generator().manual_seed(3))
    return EvaluationContext(drawn.tokens, drawn.token_log_probs, drawn.tokens, drawn.token_log_probs, 1.0)


def test_mediator_step_is_the_written_out_kl_to_the_frozen_inner_mediator() -> None:
    _, nested = tiny()
    nested.step()  # M2 no longer at its initial values; optimisers hold state
    B = nested.config.batch_size
    tokens = nested.mediator.sample(B, copy_of(nested.context.rng)).tokens  # what the step will draw
    nested.mediator.eval()
    log_m = nested.mediator(tokens).double().log_softmax(-1)  # (B, T, V): plain softmax over full logits
    with torch.no_grad():
        log_m2 = nested.inner(tokens).double().log_softmax(-1)
    expected_loss = (log_m.exp() * (log_m - log_m2)).sum(-1).mean()  # every position of synthetic data counts
    expected = reference_gradients(nested.mediator, expected_loss)

    inner_before = {k: v.clone() for k, v in nested.inner.state_dict().items()}
    nested.inner.zero_grad(set_to_none=True)
    seen = gradients_at_step(nested.m_optimizer, nested.mediator)
    assert B * nested.generator.space.seq_len > nested.chunk  # the chunked path is the one checked
    loss = nested.mediator_step()

    assert loss == pytest.approx(expected_loss.item(), abs=1e-6)
    assert_same_gradients(seen, expected)
    assert all(torch.equal(v, inner_before[k]) for k, v in nested.inner.state_dict().items())
    assert all(p.grad is None for p in nested.inner.parameters())  # M2 frozen: no gradient at all


def test_inner_step_is_the_balanced_nll_of_half_real_half_g_and_as_many_samples_of_m() -> None:
    _, nested = tiny()
    nested.step()
    B, half = nested.config.batch_size, nested.config.batch_size // 2
    rng = copy_of(nested.context.rng)  # replay the step's draws: real batch, then G, then M
    batches = EpochBatches(nested.context.train_data, half, rng)
    batches.load_state_dict(nested.batches.state_dict())
    real = batches.next()
    from_g = nested.generator.sample(half, rng).tokens
    from_m = nested.mediator.sample(B, rng).tokens
    assert real.shape[0] == from_g.shape[0] == half and from_m.shape[0] == B

    expected_batch = torch.cat([real, from_g, from_m])
    nested.inner.train()
    torch.manual_seed(11)  # dropout's stream, replayed by the step below
    log_m2 = nested.inner(expected_batch).double().log_softmax(-1)
    nested.inner.eval()
    per_token = log_m2.gather(2, expected_batch.unsqueeze(2)).squeeze(2)  # (2B, T)
    expected_loss = -per_token.sum() / per_token.numel()
    expected = reference_gradients(nested.inner, expected_loss)

    inputs: list[torch.Tensor] = []
    nested.inner.embedding.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    seen = gradients_at_step(nested.m2_optimizer, nested.inner)
    torch.manual_seed(11)
    loss = nested.inner_step()

    assert len(inputs) == 1 and torch.equal(inputs[0], nested.inner.inputs_for(expected_batch))
    assert loss == pytest.approx(expected_loss.item(), abs=1e-6)
    assert_same_gradients(seen, expected)
    train = {tuple(row) for row in nested.context.train_data.tolist()}
    assert all(tuple(row) in train for row in real.tolist())  # the real quarter: training sequences


def test_dropout_is_on_only_in_each_networks_own_update() -> None:
    _, nested = tiny("algorithm.m_dropout=0.5")
    modes: dict[str, list[bool]] = {"m": [], "m2": []}
    nested.mediator.dropout.register_forward_pre_hook(lambda module, args: modes["m"].append(module.training))
    nested.inner.dropout.register_forward_pre_hook(lambda module, args: modes["m2"].append(module.training))
    nested.generator_step()  # G against M: M frozen
    assert modes == {"m": [False], "m2": []}
    nested.mediator_step()  # M against M2: M2 frozen
    assert modes == {"m": [False, True], "m2": [False]}
    nested.inner_step()
    assert modes == {"m": [False, True], "m2": [False, True]}
    assert not nested.mediator.training and not nested.inner.training
    nested.evaluation_figures(own_samples_context(nested, 40))
    assert not any(modes["m"][2:] + modes["m2"][2:]) and modes["m2"][2:]


def test_each_network_steps_at_its_own_learning_rate() -> None:
    _, nested = tiny("algorithm.g_lr=0.002", "algorithm.m_lr=0.004", "algorithm.m2_lr=0.006")
    assert largest_change(nested.generator, nested.generator_step) == pytest.approx(0.002, rel=1e-3)
    assert largest_change(nested.mediator, nested.mediator_step) == pytest.approx(0.004, rel=1e-3)
    assert largest_change(nested.inner, nested.inner_step) == pytest.approx(0.006, rel=1e-3)


def test_the_inner_mediator_is_m2_width_times_as_wide_orthogonal_inside_and_drawn_like_m() -> None:
    _, nested = tiny("algorithm.m2_width=3", "algorithm.m_init_std=0.05")
    g, m2 = nested.generator, nested.inner
    assert m2.embedding.weight.shape[1] == 3 * g.embedding.weight.shape[1]
    assert m2.lstm.hidden_size == 3 * g.lstm.hidden_size
    for block in m2.lstm.weight_hh_l0.detach().chunk(4):  # one orthogonal block per gate, as CoT's mediator
        assert torch.allclose(block @ block.T, torch.eye(m2.lstm.hidden_size), atol=1e-5)
    drawn = torch.cat([m2.embedding.weight.detach().flatten(), m2.out.weight.detach().flatten()])
    assert drawn.std().item() == pytest.approx(0.05, rel=0.1)


def test_by_default_dropout_is_in_the_inner_mediator_only() -> None:
    """M learns from a KL on its own samples, as CoT's generator does (no dropout); M2 fits the real data."""
    dataset, nested = tiny()
    tokens = dataset.train[:64]
    nested.mediator.train()
    nested.inner.train()
    assert torch.equal(nested.mediator(tokens), nested.mediator(tokens))
    assert not torch.equal(nested.inner(tokens), nested.inner(tokens))


def test_a_non_finite_inner_mediator_trips_the_divergence_guard() -> None:
    _, nested = tiny()
    with torch.no_grad():
        nested.inner.out.bias[0] = float("nan")
    with pytest.raises(DivergenceError, match=r"^step 0: parameter inner_mediator\.out\.bias is not finite"):
        check_parameters(nested, 0)
    losses = nested.step()
    assert math.isnan(losses["m_loss"]) and math.isnan(losses["m2_loss"])  # the loop stops on either


def exact_kls(dataset: Dataset, generator: torch.nn.Module, mediator: torch.nn.Module) -> tuple[float, float]:
    """KL(mix || M) and KL(M || mix) for mix = (P + G)/2, summed over every sequence of the space."""
    every = dataset.space.all_sequences()
    log_p, log_g, log_m = (net.score(every).sum(1).double() for net in (dataset.oracle, generator, mediator))
    log_mix = torch.logaddexp(log_p, log_g) - math.log(2)
    forward = (log_mix.exp() * (log_mix - log_m)).sum().item()
    reverse = (log_m.exp() * (log_m - log_mix)).sum().item()
    return forward, reverse


def test_with_g_fixed_m_learns_the_mixture_as_mle_training_of_m_does() -> None:
    dataset, nested = tiny()
    _, cot = tiny(algorithm="cot")
    assert torch.equal(nested.generator.out.weight, cot.generator.out.weight)  # the same fixed G
    generator = [p.clone() for p in nested.generator.parameters()]
    start = exact_kls(dataset, nested.generator, nested.mediator)
    assert start == pytest.approx(exact_kls(dataset, cot.generator, cot.mediator))  # same initial M
    for _ in range(100):
        nested.mediator_step()
        nested.inner_step()
        cot.mediator_step()  # plain CoT: M by MLE on B real + B samples of G
    by_nesting = exact_kls(dataset, nested.generator, nested.mediator)
    by_mle = exact_kls(dataset, cot.generator, cot.mediator)
    assert all(torch.equal(a, b) for a, b in zip(generator, nested.generator.parameters(), strict=True))
    # From (1.91, 0.66) nats: nesting reaches about (0.33, 0.35), MLE about (0.19, 0.21).
    for after in (by_nesting, by_mle):
        assert after[0] < 0.3 * start[0] and after[1] < 0.7 * start[1]


def test_state_dict_restores_all_three_networks_optimisers_and_counters() -> None:
    _, trained = tiny(seed=0)
    _, fresh = tiny(seed=1)
    for _ in range(3):
        trained.step()
    saved = io.BytesIO()  # through bytes, as a checkpoint goes: nothing shared with `trained`
    torch.save(trained.state_dict(), saved)
    saved.seek(0)
    fresh.load_state_dict(torch.load(saved))
    fresh.context.rng.set_state(trained.context.rng.get_state())
    assert (fresh.iterations, fresh.eval_seed) == (trained.iterations, trained.eval_seed) == (3, trained.eval_seed)
    torch.manual_seed(5)  # dropout's stream
    expected = trained.step()
    torch.manual_seed(5)
    assert fresh.step() == expected
    for name, network in trained.networks().items():
        pairs = zip(network.parameters(), fresh.networks()[name].parameters(), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs), name
    context = own_samples_context(trained, 50)
    assert fresh.evaluation_figures(context) == trained.evaluation_figures(context)


RUN = ("algorithm=nested_cot", "dataset=synthetic_tiny", "eval.every=10", "eval.n_samples=300")
SMALL = ("dataset.vocab_size=4", "dataset.seq_len=4")
"""4^4 = 256 sequences: the evaluations (and the mediator bound) stay exact and take milliseconds."""


def test_runs_through_the_loop_and_resumes_bit_identically(tmp_path: Path) -> None:
    whole = compose_spec(*RUN, *SMALL, "train.steps=30", "progress=false")
    final = run(whole, tmp_path / "whole")
    run(compose_spec(*RUN, *SMALL, "train.steps=20", "progress=false"), tmp_path / "parts")
    resumed = run(whole, tmp_path / "parts")  # continues from the step-20 checkpoint
    assert resumed == final
    history = pd.read_csv(tmp_path / "whole" / "history.csv")
    parts = pd.read_csv(tmp_path / "parts" / "history.csv")
    assert history.drop(columns=list(TIMES)).equals(parts.drop(columns=list(TIMES)))
    assert {"g_loss", "m_loss", "m2_loss", "m_balanced_nll", "m2_balanced_nll", "jsd"} <= set(history.columns)
    assert (history["jsd_mediator_bound"] >= history["jsd"] - 1e-9).all()  # CoT's bound, for M, exact here
    assert history["step"].tolist() == [0, 10, 20, 30]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("algorithm.m2_lr=0", "algorithm.m2_lr=0.0: must be > 0"),
        ("algorithm.m2_steps=0", "algorithm.m2_steps=0: must be at least 1"),
        ("algorithm.m2_width=0", "algorithm.m2_width=0: must be at least 1"),
        ("algorithm.m2_dropout=1.0", "algorithm.m2_dropout=1.0: must be in [0, 1)"),
        ("algorithm.m_dropout=-0.1", "algorithm.m_dropout=-0.1: must be in [0, 1)"),
        (
            "algorithm.batch_size=63",
            "algorithm.batch_size=63: must be even for nested_cot (its target batch is half real sequences, "
            "half samples of G)",
        ),
    ],
)
def test_bad_values_fail_with_one_line(override: str, message: str) -> None:
    with pytest.raises(BenchError) as error:
        validated(compose_config("algorithm=nested_cot", override).algorithm, NestedCoTConfig, "algorithm")
    assert str(error.value) == message


def test_a_batch_larger_than_the_data_fails_with_one_line(tmp_path: Path) -> None:
    cfg = compose_spec(*RUN, "algorithm.batch_size=5000")
    with pytest.raises(BenchError, match=r"^algorithm: batch_size=5000 exceeds the 2000 training sequences$"):
        run(cfg, tmp_path)
    assert not (tmp_path / "history.csv").exists()
