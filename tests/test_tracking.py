"""Experiment trackers: TensorBoard events read back with TensorBoard's own reader, resume, wandb."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from algorithms.mle import MLE
from bench.evaluation.catalogue import CLOCKS
from bench.training.run import run
from tests.conftest import compose_spec

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402

TINY = ("dataset=synthetic_tiny", "train.steps=8", "eval.every=3", "eval.n_samples=200", "progress=false")


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag's (step, value) pairs, as TensorBoard itself reads the run folder."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={SCALARS: 0})
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def raw_tag_steps(run_dir: Path) -> Counter:
    """(tag, step) counts over the raw event files, with no reader-side purging."""
    counts: Counter = Counter()
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                counts[(value.tag, event.step)] += 1
    return counts


def test_tensorboard_holds_every_history_row_and_every_step_loss(tmp_path: Path) -> None:
    run(compose_spec(*TINY, "logger=tensorboard"), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["train/g_loss"]] == list(range(1, 9))
    for column in ("nll_oracle", "nll_test", "jsd", "jsd_se", "wall_s", "g_loss"):
        logged = scalars[f"history/{column}"]
        rows = history.dropna(subset=[column])
        assert [step for step, _ in logged] == rows["step"].tolist()
        assert [value for _, value in logged] == pytest.approx(rows[column].tolist(), rel=1e-6)  # float32 events
    # history's g_loss is the mean of the per-step losses since the previous row
    per_step = dict(scalars["train/g_loss"])
    for step, previous in ((3, 0), (6, 3), (8, 6)):
        mean = sum(per_step[s] for s in range(previous + 1, step + 1)) / (step - previous)
        assert mean == pytest.approx(history.set_index("step").loc[step, "g_loss"], rel=1e-6)
    assert max(raw_tag_steps(tmp_path).values()) == 1


def test_default_logger_writes_no_event_files(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    assert not list(tmp_path.glob("events.out.tfevents.*"))
    assert (tmp_path / "history.csv").exists() and (tmp_path / "model.pt").exists()


class CrashingMLE(MLE):
    """MLE whose process dies (KeyboardInterrupt mid-step) at step `crash_at`, after events past the checkpoint."""

    crash_at: int | None = None

    def step(self) -> dict[str, float]:
        self.steps_done = getattr(self, "steps_done", 0) + 1
        if CrashingMLE.crash_at is not None and self.steps_done == CrashingMLE.crash_at:
            raise KeyboardInterrupt
        return super().step()


def test_resume_continues_the_event_stream_with_every_tag_and_step_once(tmp_path: Path) -> None:
    overrides = (*TINY, "logger=tensorboard", f"algorithm._target_={__name__}.CrashingMLE")
    CrashingMLE.crash_at = 6  # checkpoint at step 3; steps 4 and 5 logged, then lost
    try:
        with pytest.raises(KeyboardInterrupt):
            run(compose_spec(*overrides), tmp_path / "resumed")
    finally:
        CrashingMLE.crash_at = None
    interrupted = read_scalars(tmp_path / "resumed")
    assert [step for step, _ in interrupted["train/g_loss"]] == [1, 2, 3, 4, 5]
    run(compose_spec(*overrides), tmp_path / "resumed")
    run(compose_spec(*overrides), tmp_path / "straight")

    # the lost steps 4 and 5 stay in the first event file but are purged (TensorBoard's `purge_step`):
    # as TensorBoard reads the folder, every (tag, step) counts once and equals the uninterrupted run
    assert max(raw_tag_steps(tmp_path / "resumed").values()) == 2
    resumed, straight = read_scalars(tmp_path / "resumed"), read_scalars(tmp_path / "straight")
    assert resumed.keys() == straight.keys()
    assert [step for step, _ in resumed["train/g_loss"]] == list(range(1, 9))
    for tag in (tag for tag in resumed if not tag.endswith(CLOCKS)):  # clocks differ run to run
        assert resumed[tag] == straight[tag], tag  # resuming is bit-identical, so are the logged values


def test_resume_never_starts_a_new_event_stream(tmp_path: Path) -> None:
    run(compose_spec(*TINY, "logger=tensorboard"), tmp_path)
    run(compose_spec(*TINY, "logger=tensorboard", "resume=never", "train.steps=4"), tmp_path)
    assert [step for step, _ in read_scalars(tmp_path)["train/g_loss"]] == [1, 2, 3, 4]


def test_bad_logger_values_are_one_line_errors(tmp_path: Path, cli_in_process) -> None:
    status, _, err = cli_in_process(*TINY, "logger.every=0", f"hydra.run.dir={tmp_path / 'every'}")
    assert status == 2
    assert err.strip() == "error: logger.every=0: must be a positive integer"
    status, _, err = cli_in_process(*TINY, "logger=nope", f"hydra.run.dir={tmp_path / 'nope'}")
    assert status == 2 and err.strip().startswith("error: logger=nope: unknown logger")


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_wandb_without_the_package_is_a_one_line_error_before_any_work(tmp_path: Path, cli_in_process) -> None:
    status, _, err = cli_in_process(*TINY, "logger=wandb", f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert err.strip() == "error: logger=wandb: the wandb package is not installed (pip install wandb)"
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "config.yaml").exists()


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed")
def test_wandb_runs_offline_into_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    run(compose_spec(*TINY, "logger=wandb"), tmp_path)
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def hparams_written(run_dir: Path) -> tuple[dict, list[str]]:
    """The hyperparameters and metric tags in the run's HParams data, as TensorBoard's plugin reads them."""
    from google.protobuf.json_format import MessageToDict
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    content = accumulator.PluginTagToContent("hparams")
    session = HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    values = {key: MessageToDict(value) for key, value in session.hparams.items()}
    return values, [info.name.tag for info in experiment.metric_infos]


def test_tensorboard_shows_the_config_in_its_hparams_and_text_tabs(tmp_path: Path) -> None:
    run(compose_spec(*TINY, "logger=tensorboard", "algorithm.lr=0.02", "model.hidden_dim=12"), tmp_path)
    values, metrics = hparams_written(tmp_path)
    assert values["algorithm.lr"] == 0.02 and values["model.hidden_dim"] == 12 and values["seed"] == 0
    assert values["algorithm._target_"] == "algorithms.mle.MLE" and values["dataset.oracle_path"] == "null"
    assert "history/nll_oracle" in metrics and "history/g_loss" in metrics
    assert "history/nll_oracle" in read_scalars(tmp_path)  # the metric the HParams tab shows beside them
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert "config/text_summary" in accumulator.Tags()["tensors"]


def test_a_resumed_run_keeps_one_set_of_hparams(tmp_path: Path) -> None:
    run(compose_spec(*TINY, "logger=tensorboard"), tmp_path)
    run(compose_spec(*TINY, "logger=tensorboard", "train.steps=11"), tmp_path)
    sessions = sum(
        value.tag == "_hparams_/session_start_info"
        for path in tmp_path.glob("events.out.tfevents.*")
        for event in EventFileLoader(str(path)).Load()
        for value in event.summary.value
    )
    assert sessions == 1
