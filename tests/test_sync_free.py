"""Training steps never wait for the device: losses stay there and are read in batches, with the same
values; text sampling checks for EOS on a cadence, with the same samples; the blocked-token mask and
the rollout schedule need nothing copied to the device."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.cot import CoT
from algorithms.mle import MLE
from bench.evaluation.evaluator import Evaluator
from bench.seeds import seed_everything
from bench.training.loop import DivergenceError, LoopState, train
from bench.training.losses import ReadOnAccess, read_losses
from bench.training.run import build_figures, build_run, run
from bench.training.tracking import scalars
from models import SequenceSpace
from models.sampling import sample_chunk
from tests.conftest import TINY_RUN, compose_spec, make_generator


def test_losses_read_in_batches_are_the_values_and_sums_of_reading_every_step() -> None:
    """float32 and float64 tensors and plain floats, summed in step order: the numbers that calling
    `.item()` after each step and adding Python floats gave, to the last bit."""
    values = torch.randn(250, generator=torch.Generator().manual_seed(0)) * 3
    steps = []
    for step, value in enumerate(values, start=1):
        steps.append((step, {"a": value.clone(), "b": value.double() / 7, "c": float(value) * 1.5}))
    state = LoopState()
    for step, losses in steps:
        state.add_losses(step, losses)
        if step % 100 == 0:
            state.read_losses()  # as the loop does every READ_EVERY steps
    means = state.mean_losses()
    for name in ("a", "b", "c"):
        expected = 0.0
        for _, losses in steps:
            value = losses[name]
            expected += value.item() if isinstance(value, torch.Tensor) else value
        assert means[name] == expected / len(steps), name
    assert [losses for _, losses in read_losses(steps[:2])] == [
        {name: float(value) for name, value in losses.items()} for _, losses in steps[:2]
    ]


class RecordingCoT(CoT):
    """CoT that also reads each step's losses at once (as the loop did before), to compare the rows."""

    read: list[dict[str, float]] = []

    def step(self) -> dict[str, torch.Tensor]:
        losses = super().step()
        RecordingCoT.read.append({name: value.item() for name, value in losses.items()})
        return losses


def test_history_rows_carry_the_means_of_every_step_read_at_once(tmp_path: Path) -> None:
    RecordingCoT.read = []
    target = f"algorithm._target_={__name__}.RecordingCoT"
    run(compose_spec(*TINY_RUN, "algorithm=cot", "train.steps=30", "eval.every=15", target), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    for row, (start, end) in zip(history.iloc[1:].itertuples(), ((0, 15), (15, 30)), strict=True):
        for name in ("g_loss", "m_loss"):
            expected = 0.0
            for losses in RecordingCoT.read[start:end]:
                expected += losses[name]
            assert getattr(row, name) == pytest.approx(expected / 15, rel=1e-15, abs=0), name  # CSV round trip


class NaNAtStep5(MLE):
    """MLE whose fifth step returns a NaN loss (the parameters stay fine, so only the loss says it)."""

    steps_done = 0

    def step(self) -> dict[str, torch.Tensor]:
        losses = super().step()
        self.steps_done += 1
        return {"g_loss": losses["g_loss"] * float("nan")} if self.steps_done == 5 else losses


def test_a_divergence_not_yet_read_stops_the_run_at_its_step_even_when_a_stop_comes_first() -> None:
    """The losses of steps 1..7 are still on the device when SIGTERM arrives at step 7: reading them
    first names step 5, and the run fails instead of checkpointing a diverged state."""
    spec = compose_spec(*TINY_RUN, f"algorithm._target_={__name__}.NaNAtStep5")
    cpu = torch.device("cpu")
    rng = seed_everything(0, cpu)
    dataset, algorithm = build_run(spec, cpu, rng)
    evaluator = Evaluator(spec.root.eval, dataset, 0, cpu, build_figures(spec, dataset, cpu))

    def stop() -> str | None:
        return "SIGTERM" if algorithm.steps_done >= 7 else None

    with pytest.raises(DivergenceError, match=r"^step 5: g_loss is nan \(training diverged\)$"):
        train(algorithm, evaluator, 60, 20, lambda *_: None, progress=False, stop_requested=stop)


def test_a_tracker_reads_each_step_only_when_it_logs() -> None:
    losses = {"g_loss": torch.tensor(0.25), "m_loss": torch.tensor(1.5, dtype=torch.float64)}
    lazy = ReadOnAccess(losses)
    assert len(lazy) == 2 and list(lazy) == ["g_loss", "m_loss"]
    assert scalars(lazy, "train") == {"train/g_loss": 0.25, "train/m_loss": 1.5}


LONG_TEXT = SequenceSpace(vocab_size=7, seq_len=30, start_token=1, eos_token=2, pad_token=0)


@pytest.mark.parametrize("every", [3, 8, 10**6])
def test_text_sampling_gives_the_same_samples_whatever_the_eos_check_cadence(every: int) -> None:
    """Checking for "every row has ended" every step (the CPU's cadence), every 8 (off the CPU) or
    never: tokens and log-probabilities are the same, PAD after EOS either way."""
    model = make_generator(LONG_TEXT, seed=4)
    with torch.no_grad():
        model.out.bias[LONG_TEXT.eos_token] += 4.0  # sentences of a few tokens: every row ends well before T
    uniforms = torch.rand(300, LONG_TEXT.seq_len, generator=torch.Generator().manual_seed(1))
    tables, initial = model.step_tables(), model.initial_state(300)
    with torch.no_grad():
        every_step = sample_chunk(LONG_TEXT, tables, initial, uniforms, 1.0, None, None, eos_check_every=1)
        cadenced = sample_chunk(LONG_TEXT, tables, initial, uniforms, 1.0, None, None, eos_check_every=every)
    assert torch.equal(every_step.tokens, cadenced.tokens)
    assert torch.equal(every_step.token_log_probs, cadenced.token_log_probs)
    ended = (every_step.tokens == LONG_TEXT.eos_token).any(dim=1)
    assert ended.all() and (every_step.tokens[:, -1] == LONG_TEXT.pad_token).all()  # the early stop was taken


def test_prefix_lengths_given_on_the_host_or_as_a_tensor_anywhere_sample_alike() -> None:
    model = make_generator(seed=2)
    prefix = torch.randint(0, 6, (40, 4), generator=torch.Generator().manual_seed(3))
    lengths = torch.arange(40) % 5
    first = model.sample(40, torch.Generator().manual_seed(4), prefix=prefix, prefix_lengths=lengths)
    again = model.sample(40, torch.Generator().manual_seed(4), prefix=prefix, prefix_lengths=lengths.clone())
    assert torch.equal(first.tokens, again.tokens) and torch.equal(first.token_log_probs, again.token_log_probs)


def test_the_blocked_token_mask_is_the_membership_test_it_replaces() -> None:
    space = SequenceSpace(vocab_size=9, seq_len=7, start_token=1, eos_token=2, pad_token=0, blocked_tokens=(0, 1, 3))
    tokens = torch.randint(0, 9, (500, 7), generator=torch.Generator().manual_seed(0))
    is_eos = tokens == 2
    expected = ((is_eos.cumsum(1) - is_eos.long()) == 0) & ~torch.isin(tokens, torch.tensor([0, 1, 3]))
    assert torch.equal(space.mask(tokens), expected)
