"""Chunked backpropagation through the output layer gives the whole loss's value and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from algorithms.cot import generator_backward, generator_loss
from algorithms.mle import mle_loss as teacher_forcing_loss
from algorithms.updates import IGNORED, teacher_forcing_backward
from models import Generator, GeneratorConfig, SequenceSpace
from tests.conftest import TEXT_SPACE as TEXT
from tests.conftest import make_generator


def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def assert_same_gradients(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys() and first
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("chunk", [1, 5, 7, 12, None])
def test_teacher_forcing_backward_equals_the_whole_loss(chunk: int | None) -> None:
    """On text (PAD positions must not count) and with chunks that split sequences unevenly."""
    model = make_generator(TEXT, seed=3)
    batch = torch.tensor([[4, 5, 2, 0, 0, 0], [3, 3, 3, 3, 3, 2], [6, 2, 0, 0, 0, 0]])
    whole = teacher_forcing_loss(model, batch)
    whole.backward()
    expected = gradients(model)
    model.zero_grad(set_to_none=True)
    value = teacher_forcing_backward(model, batch, chunk)
    assert value == pytest.approx(whole.item(), rel=1e-6)
    assert_same_gradients(gradients(model), expected)


@pytest.mark.parametrize("chunk", [5, None])
def test_teacher_forcing_backward_takes_another_per_position_loss(chunk: int | None) -> None:
    """The hook: label smoothing through `token_loss` equals cross_entropy's own, over scored positions."""
    model = make_generator(TEXT, seed=2)
    batch = torch.tensor([[4, 5, 2, 0, 0, 0], [3, 3, 3, 3, 3, 2]])
    smoothed = lambda logits, targets: F.cross_entropy(  # noqa: E731
        logits, targets, ignore_index=IGNORED, reduction="sum", label_smoothing=0.1
    )
    mask = TEXT.mask(batch)
    logits = model.out(model.hidden(batch))[mask]  # (scored positions, V)
    expected = F.cross_entropy(logits, batch[mask], label_smoothing=0.1)
    expected.backward()
    whole = gradients(model)
    model.zero_grad(set_to_none=True)
    assert teacher_forcing_backward(model, batch, chunk, smoothed) == pytest.approx(expected.item(), rel=1e-6)
    assert_same_gradients(gradients(model), whole)


@pytest.mark.parametrize("chunk", [4, 9, None])
def test_cot_generator_backward_equals_the_whole_loss_and_leaves_the_mediator_alone(chunk: int | None) -> None:
    space = SequenceSpace(vocab_size=11, seq_len=5)
    torch.manual_seed(0)
    generator = Generator(space, GeneratorConfig(6, 6, init_std=0.5))
    mediator = Generator(space, GeneratorConfig(12, 12, init_std=0.5, output_dropout=0.5))
    tokens = torch.randint(11, (7, 5))
    with torch.no_grad():
        m_logits = mediator.eval()(tokens)
    whole = generator_loss(generator(tokens), m_logits, space.mask(tokens))
    whole.backward()
    expected = gradients(generator)
    generator.zero_grad(set_to_none=True)
    mediator.train()  # generator_backward must switch its dropout off by itself
    value = generator_backward(generator, mediator, tokens, chunk)
    assert value == pytest.approx(whole.item(), rel=1e-5)
    assert_same_gradients(gradients(generator), expected)
    assert all(p.grad is None for p in mediator.parameters())
    assert mediator.training  # restored
