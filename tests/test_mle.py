"""MLE: the loss is the teacher-forced per-token NLL, and training lowers NLL_test and the JSD."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.base import EpochBatches
from algorithms.mle import mle_loss as teacher_forcing_loss
from bench.training.run import run
from tests.conftest import TEXT_SPACE as TEXT
from tests.conftest import compose_spec, make_generator


def test_teacher_forcing_loss_is_mean_nll_over_scored_tokens() -> None:
    model = make_generator(TEXT)
    batch = torch.tensor([[4, 5, 2, 0, 0, 0], [3, 3, 3, 3, 3, 2]])
    log_probs = torch.log_softmax(model(batch), dim=-1)
    scored = [(0, 0), (0, 1), (0, 2)] + [(1, t) for t in range(6)]
    expected = -sum(log_probs[b, t, batch[b, t]] for b, t in scored) / len(scored)
    assert teacher_forcing_loss(model, batch).item() == pytest.approx(expected.item(), abs=1e-6)


def test_epoch_batches_cover_the_data_once_per_epoch() -> None:
    data = torch.arange(10).unsqueeze(1)
    batches = EpochBatches(data, 5, torch.Generator().manual_seed(0))
    first_epoch = torch.cat([batches.next(), batches.next()]).flatten().sort().values
    assert first_epoch.tolist() == list(range(10)) and batches.epoch == 1
    batches.next()
    assert batches.epoch == 2
    with pytest.raises(ValueError, match="batch_size=11"):
        EpochBatches(data, 11, torch.Generator())


def test_mle_learns_the_tiny_oracle(tmp_path: Path) -> None:
    cfg = compose_spec("dataset=synthetic_tiny", "train.steps=300", "eval.every=100", "progress=false")
    run(cfg, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["jsd"].iloc[-1] < 0.25 * history["jsd"].iloc[0]
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0] - 0.5
    assert history["g_loss"].iloc[-1] < history["g_loss"].iloc[1]
