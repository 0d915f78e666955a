"""Prefix JSD J_t = JSD(P_{1:t} || G_{1:t}) against enumeration over prefixes on synthetic_tiny, its Monte
Carlo estimate and standard error, the exact first points at full scale, and the curve a run records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import Tensor

from bench.config.schema import EvalConfig
from bench.datasets.base import Dataset
from bench.datasets.synthetic import SyntheticConfig, build_synthetic
from bench.evaluation.synthetic import SyntheticFigures, SyntheticFiguresConfig
from bench.training.run import run
from metrics.jsd import LN2, jsd_exact, jsd_monte_carlo
from metrics.prefix_jsd import prefix_jsd_exact, prefix_jsd_monte_carlo
from models import Generator, GeneratorConfig
from tests.conftest import compose_spec, evaluator_for
from tests.enumeration import CPU, every_log_prob, literal_jsd, prefix_marginals, tiny_dataset, tiny_generator


def test_every_exact_prefix_jsd_equals_enumeration_over_prefixes() -> None:
    dataset = tiny_dataset()
    log_p, log_g = every_log_prob(dataset, tiny_generator(dataset))
    curve = prefix_jsd_exact(log_p, log_g)
    vocab, length = dataset.space.vocab_size, dataset.space.seq_len
    expected = [
        literal_jsd(prefix_marginals(log_p, vocab, t), prefix_marginals(log_g, vocab, t)) for t in range(1, length + 1)
    ]
    assert curve.values.tolist() == pytest.approx(expected, abs=1e-10)
    assert bool(curve.exact.all()) and curve.standard_errors.abs().max() == 0
    assert curve.mean == pytest.approx(sum(expected) / length, abs=1e-10)
    assert all(b >= a - 1e-12 for a, b in zip(expected, expected[1:], strict=False))  # non-decreasing in t
    assert curve.values[-1] == pytest.approx(
        jsd_exact(log_p.double().sum(1), log_g.double().sum(1)).value, abs=1e-12
    )  # J_T = jsd
    assert 0 < expected[0] < expected[-1] < LN2


def test_evaluator_curve_on_synthetic_tiny_is_the_enumerated_one() -> None:
    dataset = tiny_dataset()
    generator = tiny_generator(dataset)
    evaluation = evaluator_for(dataset, EvalConfig(n_samples=500))(generator, step=7)
    log_p, log_g = every_log_prob(dataset, generator)
    rows = evaluation.curves["prefix_jsd"]
    assert [row["t"] for row in rows] == list(range(1, dataset.space.seq_len + 1))
    assert all(row["step"] == 7 and row["exact"] and row["se"] == 0 for row in rows)
    for row in rows:
        t = row["t"]
        marginal = [prefix_marginals(lp, dataset.space.vocab_size, t) for lp in (log_p, log_g)]
        assert row["jsd"] == pytest.approx(literal_jsd(*marginal), abs=1e-10)
    figures = evaluation.figures
    whole = literal_jsd(log_p.double().sum(1), log_g.double().sum(1))
    assert figures["jsd"] == pytest.approx(whole, abs=1e-10) and rows[-1]["jsd"] == pytest.approx(whole, abs=1e-10)
    literal_mean = sum(row["jsd"] for row in rows) / len(rows)  # each row checked against enumeration above
    assert figures["jsd_prefix_mean"] == pytest.approx(literal_mean, abs=1e-12)
    assert figures["jsd_prefix_mean_se"] == 0


def monte_carlo_inputs(dataset: Dataset, generator: Generator, n: int, seed: int) -> dict[str, Tensor]:
    rng = torch.Generator().manual_seed(seed)
    from_p, from_g = dataset.oracle.sample(n, rng), generator.sample(n, rng)
    return {
        "p_on_p": from_p.token_log_probs,
        "g_on_p": generator.score(from_p.tokens),
        "g_on_g": from_g.token_log_probs,
        "p_on_g": dataset.oracle.score(from_g.tokens),
    }


def test_monte_carlo_prefix_jsd_agrees_with_enumeration_and_its_last_point_is_the_jsd() -> None:
    dataset = tiny_dataset()
    generator = tiny_generator(dataset)
    exact = prefix_jsd_exact(*every_log_prob(dataset, generator))
    inputs = monte_carlo_inputs(dataset, generator, 20_000, seed=1)
    curve = prefix_jsd_monte_carlo(**inputs)
    assert not bool(curve.exact.any()) and bool((curve.standard_errors > 0).all())
    assert ((curve.values - exact.values).abs() < 4 * curve.standard_errors).all(), (curve.values, exact.values)
    assert abs(curve.mean - exact.mean) < 4 * curve.mean_standard_error
    sequence = jsd_monte_carlo(**{name: lp.double().sum(1) for name, lp in inputs.items()})
    assert float(curve.values[-1]) == pytest.approx(sequence.value, abs=1e-12)
    assert float(curve.standard_errors[-1]) == pytest.approx(sequence.standard_error, rel=1e-9)


def test_exact_first_and_second_points_equal_enumeration_and_replace_monte_carlo() -> None:
    dataset = tiny_dataset()
    generator = tiny_generator(dataset)
    exact = prefix_jsd_exact(*every_log_prob(dataset, generator))
    points = SyntheticFigures(SyntheticFiguresConfig(), dataset, CPU).exact_prefix_points(generator, temperature=1.0)
    # two float32 routes to the same probabilities (one-step log-softmax vs whole-sequence scores)
    assert points[1] == pytest.approx(float(exact.values[0]), abs=1e-6)
    assert points[2] == pytest.approx(float(exact.values[1]), abs=1e-6)
    curve = prefix_jsd_monte_carlo(**monte_carlo_inputs(dataset, generator, 2000, seed=2), exact=points)
    assert curve.exact.tolist() == [True, True, False, False, False]
    assert curve.values[:2].tolist() == [points[1], points[2]] and curve.standard_errors[:2].tolist() == [0, 0]
    mixed = [points[1], points[2], *curve.values[2:].tolist()]  # the two exact points, three estimates
    assert curve.mean == pytest.approx(sum(mixed) / 5, abs=1e-12)


def test_prefix_mean_standard_error_matches_the_spread_of_repeated_estimates() -> None:
    """J_t share samples: J_bar's s.e. must come from per-sample means (summing s.e.'s would overstate it 1.5-2x)."""
    dataset = tiny_dataset()
    generator = tiny_generator(dataset)
    estimates, errors = [], []
    for seed in range(40):
        curve = prefix_jsd_monte_carlo(**monte_carlo_inputs(dataset, generator, 1000, seed=100 + seed))
        estimates.append(curve.mean)
        errors.append(curve.mean_standard_error)
    spread = torch.tensor(estimates).std().item()
    reported = sum(errors) / len(errors)
    # the std of 40 estimates is itself uncertain by about 11 %: 0.7..1.4 is a 3-sigma band
    assert 0.7 < reported / spread < 1.4, (reported, spread)


@pytest.mark.slow
def test_full_scale_monte_carlo_first_points_agree_with_the_exact_ones() -> None:
    """Canonical-size embedded oracle (V = 5000, T = 20), an untrained generator, 10,000 samples per side."""
    dataset = build_synthetic(SyntheticConfig(n_train=2, n_test=10_000, n_valid=2))
    generator = Generator(dataset.space, GeneratorConfig(32, 32, init_std=0.1))
    figures = SyntheticFigures(SyntheticFiguresConfig(), dataset, CPU)
    points = figures.exact_prefix_points(generator, temperature=1.0)
    samples = generator.sample(10_000, torch.Generator().manual_seed(5))
    curve = prefix_jsd_monte_carlo(
        p_on_p=figures.oracle_on_test,
        g_on_p=generator.score(dataset.test),
        g_on_g=samples.token_log_probs,
        p_on_g=dataset.oracle.score(samples.tokens),
    )
    for t in (1, 2):
        value, error = float(curve.values[t - 1]), float(curve.standard_errors[t - 1])
        assert abs(value - points[t]) < 4 * error, (t, value, error, points[t])
    assert 0.05 < points[1] < points[2] < LN2


RUN = (
    "algorithm=cot",
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "eval.every=2",
    "eval.n_samples=300",
    "progress=false",
)


def test_a_run_records_every_figure_and_the_prefix_curve_and_resume_never_duplicates_it(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    run(compose_spec(*RUN, "train.steps=6"), straight)
    history = pd.read_csv(straight / "history.csv")
    new = {"jsd_prefix_mean", "jsd_prefix_mean_se", "entropy", "nll_valid", "jsd_mediator_bound", "m_balanced_nll"}
    assert new <= set(history.columns)
    assert new <= json.loads((straight / "metrics.json").read_text())["final"].keys()
    curve = pd.read_csv(straight / "prefix_jsd.csv")
    assert list(curve.columns) == ["step", "t", "jsd", "se", "exact"]
    assert curve["step"].tolist() == [step for step in (0, 2, 4, 6) for _ in range(4)]  # J_1 .. J_4
    last = curve[curve["step"] == 6]
    assert last["jsd"].iloc[-1] == pytest.approx(history["jsd"].iloc[-1], abs=1e-12)
    assert last["jsd"].mean() == pytest.approx(history["jsd_prefix_mean"].iloc[-1], abs=1e-12)

    resumed = tmp_path / "resumed"
    run(compose_spec(*RUN, "train.steps=4"), resumed)
    metrics = json.loads((resumed / "metrics.json").read_text())  # killed after writing rows it never saved
    (resumed / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    with (resumed / "prefix_jsd.csv").open("a") as stream:  # rows the checkpoint does not know of
        stream.write("4,1,0.5,0.0,True\n")
    run(compose_spec(*RUN, "train.steps=6"), resumed)
    pd.testing.assert_frame_equal(pd.read_csv(resumed / "prefix_jsd.csv"), curve)
