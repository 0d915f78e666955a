"""A finished run draws its learning curves into its folder: the generator's loss and the headline
figures against step, read back from the figure and compared with history.csv."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from bench.evaluation.catalogue import axis_label
from bench.training.records import PLOT
from bench.training.run import run
from bench.training.run_plot import learning_curves_figure
from tests.conftest import compose_spec
from tests.plotted import read_plot

QUICK = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.every=2")
QUICK = (*QUICK, "eval.n_samples=50", "progress=false")


def test_a_finished_run_draws_its_learning_curves_into_its_folder(tmp_path: Path) -> None:
    run(compose_spec(*QUICK, "train.steps=6"), tmp_path)
    assert (tmp_path / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = pd.read_csv(tmp_path / "history.csv")
    figure = learning_curves_figure(history.to_dict("records"), "mle on synthetic_tiny, seed 0")
    plot = read_plot(figure, tmp_path / "learning_curves")
    plt.close(figure)
    assert [panel.ylabel for panel in plot.panels][:2] == ["g_loss", "NLL_oracle (nats/token)"]
    for name in ("nll_oracle", "nll_test", "nll_valid", "jsd", "jsd_prefix_mean"):
        steps, values = plot.panel(axis_label(name)).curves[name]
        assert steps == history["step"].tolist() and values == pytest.approx(history[name].tolist())
    assert plot.panel("g_loss").curves["g_loss"][0] == [2, 4, 6]  # no loss at step 0: nothing trained yet


def test_a_plot_that_cannot_be_written_is_a_warning_never_a_failed_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run(compose_spec(*QUICK, "train.steps=2"), tmp_path)
    (tmp_path / PLOT).unlink()
    (tmp_path / PLOT).mkdir()  # a folder where the plot goes: it cannot be replaced
    with caplog.at_level(logging.WARNING):
        final = run(compose_spec(*QUICK, "train.steps=4"), tmp_path)
    assert final["step"] == 4 and (tmp_path / "metrics.json").read_text().count('"complete"') == 1
    assert any(f"{PLOT} not drawn" in record.message for record in caplog.records)
