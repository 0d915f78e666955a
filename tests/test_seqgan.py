"""SeqGAN: rollouts, rewards, the policy-gradient loss, the discriminator, the schedule, resuming."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from algorithms.base import TrainingContext
from algorithms.seqgan.algorithm import SeqGAN, SeqGANConfig, discriminator_config, policy_gradient_loss
from algorithms.seqgan.discriminator import Discriminator, DiscriminatorConfig, train_discriminator
from algorithms.seqgan.rollout import complete_prefixes, rollout_rewards
from algorithms.updates import backward, optimizer_step
from bench.config.build import validated
from bench.datasets.synthetic import SyntheticConfig, build_synthetic
from bench.errors import BenchError
from bench.training.run import run
from models import SequenceSpace
from tests.conftest import compose_config, compose_spec, make_generator

SPACE = SequenceSpace(vocab_size=6, seq_len=5)
TINY_D = {"d_emb_dim": 8, "d_filter_sizes": [1, 2, 3], "d_num_filters": [4, 4, 4]}


def small_discriminator(seed: int = 0) -> Discriminator:
    torch.manual_seed(seed)
    sizes = {"emb_dim": 8, "filter_sizes": (1, 2, 3, 9), "num_filters": (4, 4, 4, 4), "dropout_keep": 0.75, "l2": 0.2}
    return Discriminator(DiscriminatorConfig(6, 5, **sizes))


def make_seqgan(seed: int = 0, **fields) -> SeqGAN:
    """A SeqGAN on 256 random training sequences of SPACE with a tiny schedule (8 + 2 + 3 steps)."""
    generator = make_generator(SPACE, seed=seed)
    data = torch.randint(0, 6, (256, 5), generator=torch.Generator().manual_seed(5))
    context = TrainingContext(generator, data, torch.Generator().manual_seed(seed), torch.device("cpu"))
    schedule = {"pretrain_g_epochs": 2, "pretrain_d_rounds": 2, "adversarial_rounds": 3, "d_negatives": 64}
    config = SeqGANConfig(g_batch_size=64, d_epochs=1, d_rounds_per_adversarial=1, n_rollouts=4)
    for name, value in {**schedule, **TINY_D, **fields}.items():
        setattr(config, name, value)
    return SeqGAN(config, context)


def test_completions_keep_each_prefix_and_sample_the_rest() -> None:
    policy = make_generator(SPACE, seed=1)
    sequences = torch.randint(0, 6, (3, 5), generator=torch.Generator().manual_seed(0))
    completions = complete_prefixes(policy, sequences, n_rollouts=7, rng=torch.Generator().manual_seed(1))
    assert completions.shape == (4, 7, 3, 5) and completions.dtype == torch.long
    for t in range(1, 5):
        kept = completions[t - 1, :, :, :t]  # (R, B, t)
        assert torch.equal(kept, sequences[:, :t].expand(7, 3, t))
    # the tails are sampled: the 7 rollouts of a 1-token prefix are not all the same sequence
    assert any(len(set(map(tuple, completions[0, :, b].tolist()))) > 1 for b in range(3))


def test_per_row_prefix_lengths_score_only_the_sampled_tail() -> None:
    model = make_generator(SPACE, seed=2)
    prefix = torch.randint(0, 6, (6, 5), generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([0, 1, 2, 3, 4, 5])
    out = model.sample(6, torch.Generator().manual_seed(4), prefix=prefix, prefix_lengths=lengths)
    scores = model.score(out.tokens)
    for row, length in enumerate(lengths.tolist()):
        assert torch.equal(out.tokens[row, :length], prefix[row, :length])
        assert torch.all(out.token_log_probs[row, :length] == 0)
        assert torch.allclose(out.token_log_probs[row, length:], scores[row, length:], atol=1e-5)
    with pytest.raises(ValueError, match="prefix_lengths must lie in"):
        model.sample(6, torch.Generator(), prefix=prefix, prefix_lengths=lengths + 1)


def test_rewards_average_d_over_rollouts_and_end_with_d_of_the_sequence() -> None:
    discriminator = small_discriminator()
    sequences = torch.randint(0, 6, (3, 5), generator=torch.Generator().manual_seed(0))
    completions = complete_prefixes(make_generator(SPACE), sequences, 4, torch.Generator().manual_seed(1))
    discriminator.train()  # rewards must switch dropout off by themselves
    rewards = rollout_rewards(discriminator, sequences, completions, batch_size=5)
    assert rewards.shape == (3, 5)
    discriminator.eval()
    with torch.no_grad():
        prob = lambda x: discriminator(x.unsqueeze(0)).softmax(1)[0, 1].item()  # noqa: E731
        for b in range(3):
            assert rewards[b, 4].item() == pytest.approx(prob(sequences[b]), abs=1e-6)
            for t in range(1, 5):
                literal = sum(prob(completions[t - 1, r, b]) for r in range(4)) / 4
                assert rewards[b, t - 1].item() == pytest.approx(literal, abs=1e-6)


def test_policy_gradient_loss_is_the_literal_reinforce_objective() -> None:
    model = make_generator(SPACE, seed=3)
    sequences = torch.randint(0, 6, (2, 5), generator=torch.Generator().manual_seed(1))
    rewards = torch.rand(2, 5, generator=torch.Generator().manual_seed(2))
    log_probs = model(sequences).log_softmax(-1)
    literal = -sum(log_probs[b, t, sequences[b, t]] * rewards[b, t] for b in range(2) for t in range(5)) / 10
    assert policy_gradient_loss(model, sequences, rewards).item() == pytest.approx(literal.item(), abs=1e-6)


def test_a_policy_gradient_step_favours_the_sequence_with_the_higher_reward() -> None:
    model = make_generator(SPACE, seed=4, init_std=0.1)
    sequences = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    rewards = torch.tensor([[0.9] * 5, [0.1] * 5])
    before = model.sequence_log_probs(sequences).detach()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    optimizer_step(optimizer, lambda: backward(policy_gradient_loss(model, sequences, rewards)), clip=5.0)
    after = model.sequence_log_probs(sequences).detach()
    assert after[0] > before[0]
    assert after[0] - after[1] > before[0] - before[1]


def test_unfolded_convolutions_equal_conv1d_and_wide_filters_are_left_out() -> None:
    discriminator = small_discriminator().eval()
    assert [conv.kernel_size[0] for conv in discriminator.convs] == [1, 2, 3]  # 9 > T = 5 is dropped
    tokens = torch.randint(0, 6, (4, 5), generator=torch.Generator().manual_seed(0))
    embedded = discriminator.embedding(tokens).transpose(1, 2)
    pooled = torch.cat([F.relu(conv(embedded)).amax(2) for conv in discriminator.convs], 1)
    expected = discriminator.out(discriminator.highway(pooled))
    assert torch.allclose(discriminator(tokens), expected, atol=1e-5)  # with a graph: unfold + linear
    with torch.no_grad():  # scoring: Conv1d itself
        assert torch.allclose(discriminator(tokens), expected, atol=1e-5)


def test_highway_starts_glorot_uniform_as_the_reference() -> None:
    """TensorFlow's default initialiser: U(-b, b), b = sqrt(6 / (n + n)) for weights and (1-D) biases."""
    torch.manual_seed(0)
    highway = Discriminator(discriminator_config(SeqGANConfig(), SequenceSpace(50, 20))).highway  # reference sizes
    n = 1720  # 100 + 4 * 200 + 5 * 100 + 2 * 160 features
    bound = (6 / (n + n)) ** 0.5
    assert bound == pytest.approx(0.0418, abs=1e-4)
    for layer in (highway.transform, highway.gate):
        assert layer.weight.shape == (n, n)
        weights, bias = layer.weight.abs(), layer.bias.abs()
        assert weights.max() <= bound and weights.max() > 0.999 * bound  # 3M draws reach the bound
        assert bias.max() <= bound and bias.max() > 0.99 * bound
        assert weights.mean().item() == pytest.approx(bound / 2, rel=0.01)  # |U(-b, b)| has mean b / 2


def test_discriminator_separates_oracle_sequences_from_uniform_noise() -> None:
    dataset = build_synthetic(validated(compose_config("dataset=synthetic_tiny").dataset, SyntheticConfig, "dataset"))
    space = dataset.space
    noise = torch.Generator().manual_seed(0)
    uniform = lambda n: torch.randint(0, space.vocab_size, (n, space.seq_len), generator=noise)  # noqa: E731
    torch.manual_seed(0)
    discriminator = Discriminator(discriminator_config(SeqGANConfig(), space))  # reference sizes, T = 5
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-4)
    figures = train_discriminator(
        discriminator, optimizer, dataset.train[:1000], uniform(1000), 3, 64, torch.Generator().manual_seed(1)
    )
    real_right = (discriminator.prob_real(dataset.test[:1000]) > 0.5).float().mean().item()
    noise_right = (discriminator.prob_real(uniform(1000)) <= 0.5).float().mean().item()
    assert 0.5 * (real_right + noise_right) > 0.85, (real_right, noise_right, figures)
    assert figures["d_acc"] > 0.7


def test_schedule_phases_and_default_steps() -> None:
    seqgan = make_seqgan()
    phases = []
    while not seqgan.finished:
        phases.append(seqgan.phase)
        figures = seqgan.step()
        expected = {"pretrain_g": {"g_loss"}, "pretrain_d": {"d_loss", "d_acc"}}.get(
            phases[-1], {"g_loss", "mean_reward", "d_loss", "d_acc"}
        )
        assert set(figures) == expected
    # 2 epochs of 256 sequences in batches of 64, 2 discriminator rounds, 3 adversarial rounds
    assert phases == ["pretrain_g"] * 8 + ["pretrain_d"] * 2 + ["adversarial"] * 3
    assert seqgan.default_steps == len(phases)  # the budget without train.steps is the schedule's length
    assert 0 <= figures["mean_reward"] <= 1


def test_delayed_rollout_copy_really_moves_at_its_rate() -> None:
    current = make_seqgan(pretrain_g_epochs=0, pretrain_d_rounds=0)
    assert current.rollout.model is current.generator
    delayed = make_seqgan(pretrain_g_epochs=0, pretrain_d_rounds=0, rollout_update_rate=0.75)
    before = [p.detach().clone() for p in delayed.generator.parameters()]
    delayed.step()  # the copy starts equal to the generator, then moves a quarter of the way to it
    after = list(delayed.generator.parameters())
    for old, new, delayed_copy in zip(before, after, delayed.rollout.model.parameters(), strict=True):
        assert torch.allclose(delayed_copy, 0.75 * old + 0.25 * new, atol=1e-7)
    assert any(not torch.equal(old, new) for old, new in zip(before, after, strict=True))


def test_resumed_state_continues_exactly() -> None:
    first = make_seqgan(seed=0, rollout_update_rate=0.5)
    for _ in range(11):  # into the adversarial phase
        first.step()
    state, rng_state = copy.deepcopy(first.state_dict()), first.context.rng.get_state()  # as a checkpoint file
    torch.manual_seed(7)
    expected = first.step()
    second = make_seqgan(seed=1, rollout_update_rate=0.5)
    second.load_state_dict(state)
    second.context.rng.set_state(rng_state)
    torch.manual_seed(7)
    assert second.step() == expected
    assert second.counters == first.counters and second.phase == "adversarial"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("adversarial_rounds", -1, "algorithm.adversarial_rounds=-1: must be >= 0"),
        ("n_rollouts", 0, "algorithm.n_rollouts=0: must be at least 1"),
        ("rollout_update_rate", 1.5, "algorithm.rollout_update_rate=1.5: must be in [0, 1]"),
        ("d_dropout_keep", 0.0, "algorithm.d_dropout_keep=0.0: must be in (0, 1]"),
        ("d_lr", 0.0, "algorithm.d_lr=0.0: must be > 0"),
        ("d_num_filters", [100, 200], "algorithm.d_num_filters=[100, 200]: needs one count per filter size"),
    ],
)
def test_bad_config_values_are_one_line_errors(field: str, value: object, message: str) -> None:
    node = OmegaConf.create({"_target_": "algorithms.seqgan.SeqGAN", field: value})
    with pytest.raises(BenchError) as error:
        validated(node, SeqGANConfig, "algorithm")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_tiny_run_goes_through_every_phase(tmp_path: Path) -> None:
    cfg = compose_spec("algorithm=seqgan_tiny", "dataset=synthetic_tiny", "eval.n_samples=300", "progress=false")
    final = run(cfg, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert final["step"] == 31 + 3 + 6  # the algorithm's own schedule, then the loop stops
    assert history["phase"].tolist() == ["pretrain_g", "pretrain_g", "pretrain_d", "adversarial"]
    adversarial = history.iloc[-1]
    assert 0 < adversarial["mean_reward"] < 1 and 0 <= adversarial["d_test_acc"] <= 1
    assert pd.isna(history["d_loss"].iloc[1]) and pd.notna(history["d_loss"].iloc[2])
    assert history["nll_test"].iloc[1] < history["nll_test"].iloc[0]
