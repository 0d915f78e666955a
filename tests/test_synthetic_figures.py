"""The synthetic dataset's other figures and records: G's entropy rate, the validation sample and its NLL,
the provenance that rebuilds the data, and what each dataset kind must carry."""

from __future__ import annotations

import math

import pytest
import torch

from bench.config.build import build
from bench.config.schema import EvalConfig
from bench.datasets.base import Dataset
from metrics.entropy import entropy_from_samples
from tests.conftest import compose_config, evaluator_for
from tests.enumeration import tiny_dataset, tiny_generator


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_entropy_from_samples_agrees_with_the_exact_entropy_rate(temperature: float) -> None:
    dataset = tiny_dataset()
    generator = tiny_generator(dataset)
    log_g = generator.score(dataset.space.all_sequences(), temperature).sum(1).double()
    exact_rate = float(-(log_g.exp() * log_g).sum()) / dataset.space.seq_len
    evaluation = evaluator_for(dataset, EvalConfig(n_samples=20_000, temperature=temperature))(generator, 0)
    value, error = evaluation.figures["entropy"], evaluation.figures["entropy_se"]
    assert 0 < error < 0.02
    assert abs(value - exact_rate) < 4 * error, (value, error, exact_rate)


def test_entropy_by_hand_and_its_bad_input() -> None:
    log_probs = torch.log(torch.tensor([[0.5, 0.25], [0.5, 1.0], [0.125, 0.5]]))
    value, error = entropy_from_samples(log_probs)
    assert value == pytest.approx(-float(log_probs.double().sum()) / 6, abs=1e-12)
    per_sequence = -log_probs.double().sum(1) / 2  # equal lengths: the plain s.e. of per-sequence means
    assert error == pytest.approx(float(per_sequence.std() / math.sqrt(3)), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        entropy_from_samples(log_probs[:1])


def test_validation_sample_is_fresh_and_scored_at_every_evaluation() -> None:
    dataset = tiny_dataset()
    assert dataset.valid.shape == (dataset.provenance["n_valid"], dataset.space.seq_len)
    seeds = {dataset.provenance[name] for name in ("train_seed", "test_seed", "valid_seed")}
    assert len(seeds) == 3
    assert not torch.equal(dataset.valid[:100], dataset.test[:100])
    assert not torch.equal(dataset.valid[:100], dataset.train[:100])
    generator = tiny_generator(dataset)
    figures = evaluator_for(dataset, EvalConfig(n_samples=100))(generator, 0).figures
    expected = -generator.score(dataset.valid).double().mean().item()
    assert figures["nll_valid"] == pytest.approx(expected, abs=1e-9)
    again = build(compose_config("dataset=synthetic_tiny").dataset, "dataset")
    assert torch.equal(again.valid, dataset.valid)  # deterministic


def test_synthetic_provenance_records_the_seeds_and_sizes_that_rebuild_the_data() -> None:
    seeds = ("dataset.oracle_seed=5", "dataset.train_seed=6", "dataset.test_seed=7")
    dataset = build(compose_config("dataset=synthetic_tiny", *seeds).dataset, "dataset")
    provenance = dataset.provenance
    assert provenance["oracle"] == "embedded"
    assert (provenance["oracle_seed"], provenance["train_seed"], provenance["test_seed"]) == (5, 6, 7)
    assert (provenance["vocab_size"], provenance["seq_len"]) == (dataset.space.vocab_size, dataset.space.seq_len)
    assert provenance["n_test"] == dataset.test.shape[0] and provenance["n_train"] == dataset.train.shape[0]
    again = build(compose_config("dataset=synthetic_tiny", *seeds).dataset, "dataset")
    assert torch.equal(again.train, dataset.train) and torch.equal(again.test, dataset.test)
    other = build(compose_config("dataset=synthetic_tiny", *seeds[1:], "dataset.oracle_seed=8").dataset, "dataset")
    assert not torch.equal(other.oracle.out.weight, dataset.oracle.out.weight)


def test_dataset_kind_says_what_it_must_carry() -> None:
    dataset = tiny_dataset()
    with pytest.raises(ValueError, match="kind synthetic lacks oracle"):
        Dataset("broken", dataset.space, dataset.train, dataset.test, kind="synthetic")
    with pytest.raises(ValueError, match="kind='audio': must be one of synthetic, text"):
        Dataset("broken", dataset.space, dataset.train, dataset.test, oracle=dataset.oracle, kind="audio")
