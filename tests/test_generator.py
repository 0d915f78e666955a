"""The shared LSTM generator: exact sampling, log-probabilities, determinism, text conventions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from models import Generator, GeneratorConfig, SequenceSpace, draw_tokens
from tests.conftest import SMALL_SPACE as TINY
from tests.conftest import TEXT_SPACE as TEXT
from tests.conftest import make_generator


def chi_square_p_value(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson chi-square goodness of fit, p-value via the Wilson-Hilferty normal approximation."""
    n = counts.sum().item()
    expected = probs.double() * n
    statistic = ((counts.double() - expected) ** 2 / expected).sum().item()
    k = counts.numel() - 1
    z = ((statistic / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draw_tokens_matches_softmax(temperature: float) -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0, 1.5, -3.0, 0.3, 1.0]])
    n = 200_000
    uniforms = torch.rand(n, generator=torch.Generator().manual_seed(123))
    tokens, log_probs = draw_tokens(logits.expand(n, -1).contiguous(), uniforms, temperature)
    probs = (logits[0] / temperature).softmax(0)
    counts = torch.bincount(tokens, minlength=8)
    assert chi_square_p_value(counts, probs) > 1e-3
    assert torch.allclose(log_probs, probs.log()[tokens], atol=1e-5)


def test_draw_tokens_never_picks_zero_probability() -> None:
    logits = torch.tensor([[-math.inf, 0.0, -math.inf, 0.0]]).expand(10_000, -1).contiguous()
    tokens, _ = draw_tokens(logits, torch.rand(10_000, generator=torch.Generator().manual_seed(0)))
    assert set(tokens.tolist()) == {1, 3}


def test_sampled_sequences_follow_the_model_distribution() -> None:
    """Whole sequences drawn by the fast sampler have the frequencies the model assigns them."""
    space = SequenceSpace(vocab_size=3, seq_len=3)
    model = make_generator(space, seed=1)
    every = torch.cartesian_prod(*[torch.arange(3)] * 3)  # (27, 3)
    probs = model.sequence_log_probs(every).exp().detach()
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    samples = model.sample(100_000, torch.Generator().manual_seed(7)).tokens
    index = (samples * torch.tensor([9, 3, 1])).sum(1)
    counts = torch.bincount(index, minlength=27)
    assert chi_square_p_value(counts, probs / probs.sum()) > 1e-3


def test_sample_log_probs_equal_teacher_forced_scores() -> None:
    model = make_generator()
    samples = model.sample(256, torch.Generator().manual_seed(3), temperature=0.7)
    scored = model.score(samples.tokens, temperature=0.7)
    assert torch.allclose(samples.token_log_probs, scored, atol=1e-5)


def test_token_log_probs_agree_with_step_by_step_lstm_cell() -> None:
    model = make_generator()
    cell = nn.LSTMCell(8, 8)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(model.lstm, f"{name}_l0"))
    tokens = torch.randint(0, 6, (5, 4), generator=torch.Generator().manual_seed(0))
    h = c = torch.zeros(5, 8)
    previous = torch.zeros(5, dtype=torch.long)  # start token 0
    expected = []
    for t in range(4):
        h, c = cell(model.embedding(previous), (h, c))
        log_softmax = torch.log_softmax(model.out(h), dim=1)
        expected.append(log_softmax.gather(1, tokens[:, t : t + 1]).squeeze(1))
        previous = tokens[:, t]
    expected = torch.stack(expected, dim=1)
    assert torch.allclose(model.token_log_probs(tokens), expected, atol=1e-6)
    assert torch.allclose(model.sequence_log_probs(tokens), expected.sum(1), atol=1e-5)


def test_same_seed_same_samples_and_different_seed_different_samples() -> None:
    model = make_generator()
    first = model.sample(500, torch.Generator().manual_seed(11)).tokens
    again = model.sample(500, torch.Generator().manual_seed(11)).tokens
    other = model.sample(500, torch.Generator().manual_seed(12)).tokens
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_chunking_does_not_change_samples() -> None:
    model = make_generator()
    whole = model.sample(300, torch.Generator().manual_seed(5), batch_size=300).tokens
    assert whole.shape == (300, 4)
    chunked = model.sample(300, torch.Generator().manual_seed(5), batch_size=7).tokens
    assert torch.equal(whole, chunked)


def test_prefix_is_kept_and_rest_is_sampled() -> None:
    model = make_generator()
    prefix = torch.tensor([[3, 1], [5, 5], [0, 2]])
    out = model.sample(3, torch.Generator().manual_seed(0), prefix=prefix)
    assert out.tokens.shape == (3, 4)
    assert torch.equal(out.tokens[:, :2], prefix)
    assert torch.all(out.token_log_probs[:, :2] == 0)
    scored = model.score(out.tokens)
    assert torch.allclose(out.token_log_probs[:, 2:], scored[:, 2:], atol=1e-5)


def test_temperature_must_be_positive() -> None:
    with pytest.raises(ValueError, match="temperature=0"):
        make_generator().sample(2, torch.Generator(), temperature=0)


def test_text_space_mask_counts_through_first_eos() -> None:
    tokens = torch.tensor([[4, 5, 2, 0, 0, 0], [4, 2, 2, 0, 0, 0], [3, 3, 3, 3, 3, 3]])
    mask = TEXT.mask(tokens)
    assert mask.tolist() == [
        [True, True, True, False, False, False],
        [True, True, False, False, False, False],
        [True] * 6,
    ]


def test_text_sampling_pads_after_eos_and_scores_match() -> None:
    model = make_generator(TEXT, seed=4)
    with torch.no_grad():
        model.out.bias[2] += 3.0  # make EOS likely so that most rows end early
    out = model.sample(400, torch.Generator().manual_seed(0))
    ended = (out.tokens == 2).any(1)
    assert ended.float().mean() > 0.5
    for row, lp in zip(out.tokens.tolist(), out.token_log_probs.tolist(), strict=False):
        if 2 in row:
            end = row.index(2)
            assert all(t == 0 for t in row[end + 1 :])
            assert all(v == 0 for v in lp[end + 1 :])
    assert torch.allclose(out.token_log_probs, model.score(out.tokens), atol=1e-5)


def test_bad_spaces_and_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="start_token=9"):
        SequenceSpace(vocab_size=5, seq_len=3, start_token=9)
    with pytest.raises(ValueError, match="together"):
        SequenceSpace(vocab_size=5, seq_len=3, eos_token=2)
    with pytest.raises(ValueError, match="output_dropout"):
        GeneratorConfig(output_dropout=1.0)


def test_initialisation_is_normal_with_the_given_std() -> None:
    torch.manual_seed(0)
    model = Generator(SequenceSpace(5000, 20), GeneratorConfig(32, 32, init_std=0.1))
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert weights.mean().item() == pytest.approx(0.0, abs=2e-3)
    assert weights.std().item() == pytest.approx(0.1, rel=0.01)


def test_orthogonal_recurrent_blocks() -> None:
    torch.manual_seed(0)
    model = Generator(TINY, GeneratorConfig(8, 8, recurrent_init="orthogonal"))
    for block in model.lstm.weight_hh_l0.detach().chunk(4, dim=0):
        assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)
