"""The report's plots, checked by the data on their axes against hand-made runs' histories: learning
curves as a grid (headline figures first, one legend) against step and against wall-clock, the final
prefix-JSD curve, and the CoT JSD figure."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from bench.evaluation.catalogue import axis_label
from bench.report.grouping import group_runs
from bench.report.plots import (
    COT_CURVES,
    final_prefix_curves,
    learning_curve_figure,
    plot_cot_jsd,
    plot_learning_curves,
    plot_prefix_jsd,
)
from bench.report.runs import collect
from tests.plotted import Panel, read_plot
from tests.run_folders import make_run

STEPS = (0, 10, 20)
VALUES = {  # (algorithm, seed) -> figure -> its value at each step
    ("mle", 0): {"nll_oracle": [9.0, 8.0, 7.0], "nll_test": [5.0, 4.5, 4.0], "entropy": [3.0, 2.5, 2.0]},
    ("mle", 1): {"nll_oracle": [9.5, 8.2, 7.4], "nll_test": [5.2, 4.4, 4.2], "entropy": [3.1, 2.4, 2.2]},
    ("cot", 0): {"nll_oracle": [9.0, 7.5, 6.5], "nll_test": [5.0, 4.8, 4.6], "jsd_stepwise_bound": [1.2, 1.0, 0.9]},
    ("cot", 1): {"nll_oracle": [9.1, 7.7, 6.1], "nll_test": [5.1, 4.9, 4.3], "jsd_stepwise_bound": [1.3, 1.1, 0.7]},
}


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation, written out."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def expected_curve(algorithm: str, name: str) -> tuple[list[float], tuple[float, float]]:
    """The mean over seeds at each step, and the y-range of the mean ± std band."""
    seeds = [VALUES[(a, s)][name] for a, s in VALUES if a == algorithm]
    stats = [mean_and_std([seed[i] for seed in seeds]) for i in range(len(STEPS))]
    return [m for m, _ in stats], (min(m - s for m, s in stats), max(m + s for m, s in stats))


def assert_curve(panel: Panel, algorithm: str, name: str, x: list[float]) -> None:
    means, band = expected_curve(algorithm, name)
    shown_x, shown_y = panel.curves[f"{algorithm} (n = 2)"]
    assert shown_x == pytest.approx(x) and shown_y == pytest.approx(means)
    assert any(low == pytest.approx(band[0]) and high == pytest.approx(band[1]) for low, high in panel.bands)


def hand_made_runs(root: Path, with_training_clock: bool = True) -> dict:
    for (algorithm, seed), figures in VALUES.items():
        history = []
        for i, step in enumerate(STEPS):
            row = {"step": step, "wall_s": 3.0 * step, **{name: values[i] for name, values in figures.items()}}
            if with_training_clock or (algorithm, seed) != ("cot", 1):
                row["train_s"] = 2.0 * step
            history.append(row)
        make_run(root, algorithm, seed, {name: values[-1] for name, values in figures.items()}, history=history)
    return group_runs(collect(root))


def test_learning_curves_are_a_grid_headline_figures_first_with_one_legend(tmp_path: Path, plots_saved) -> None:
    groups = hand_made_runs(tmp_path / "runs")
    shown = ("entropy", "nll_test", "jsd_stepwise_bound", "nll_oracle")
    paths = plot_learning_curves(groups, shown, tmp_path / "learning_curves")
    assert [path.name for path in paths] == [
        "learning_curves.png",
        "learning_curves.pdf",
        "learning_curves_wall_clock.png",
        "learning_curves_wall_clock.pdf",
    ]
    assert all(path.is_file() for path in paths)
    by_step, by_clock = plots_saved["learning_curves"], plots_saved["learning_curves_wall_clock"]
    for plot, x, xlabel in ((by_step, STEPS, "step"), (by_clock, [2.0 * s for s in STEPS], "training wall-clock")):
        # the headline figures NLL_test and NLL_oracle first, in the order given, then the others
        order = ["nll_test", "nll_oracle", "entropy", "jsd_stepwise_bound"]
        assert [panel.ylabel for panel in plot.panels] == [axis_label(name) for name in order]
        assert all(panel.xlabel.startswith(xlabel) for panel in plot.panels)
        assert plot.legends == [["cot (n = 2)", "mle (n = 2)"]]  # once for the grid, no panel has its own
        assert all(panel.legend == [] for panel in plot.panels)
        for name in ("nll_test", "nll_oracle"):
            for algorithm in ("mle", "cot"):
                assert_curve(plot.panel(axis_label(name)), algorithm, name, list(x))
        entropy, bound = plot.panel(axis_label("entropy")), plot.panel(axis_label("jsd_stepwise_bound"))
        assert list(entropy.curves) == ["mle (n = 2)"] and list(bound.curves) == ["cot (n = 2)"]  # where recorded
        assert_curve(entropy, "mle", "entropy", list(x))
        assert_curve(bound, "cot", "jsd_stepwise_bound", list(x))


def test_the_grid_has_at_most_four_columns_and_leaves_no_empty_panel(tmp_path: Path) -> None:
    groups = hand_made_runs(tmp_path / "runs")
    names = ["nll_oracle", "nll_test", "entropy", "jsd_stepwise_bound"]
    for count in (1, 4, 5, 9):
        shown = (names * 3)[:count]  # repeating names is enough to fill the panels
        figure = learning_curve_figure(groups, shown, "step", "step")
        plot = read_plot(figure, tmp_path / "unsaved")
        plt.close(figure)
        assert plot.columns == min(count, 4) and len(plot.panels) == count
        assert all(panel.curves for panel in plot.panels)


def test_runs_without_the_training_clock_are_drawn_against_wall_clock_with_evaluations(
    tmp_path: Path, plots_saved
) -> None:
    groups = hand_made_runs(tmp_path / "runs", with_training_clock=False)
    plot_learning_curves(groups, ("nll_oracle",), tmp_path / "learning_curves")
    [panel] = plots_saved["learning_curves_wall_clock"].panels
    assert panel.xlabel == "wall-clock with evaluations (s)"
    assert_curve(panel, "mle", "nll_oracle", [3.0 * s for s in STEPS])
    assert plot_learning_curves(groups, (), tmp_path / "none") == []


def test_prefix_jsd_curves_are_the_last_evaluation_mean_over_seeds(tmp_path: Path, plots_saved) -> None:
    for seed, shift in ((0, 0.0), (1, 0.02)):
        run_dir = make_run(tmp_path, "mle", seed, {"nll_oracle": 2.0})
        rows = [
            {"step": step, "t": t, "jsd": 0.1 * t + shift + (0.5 if step == 0 else 0.0), "se": 0.01, "exact": t == 1}
            for step in (0, 10)
            for t in (1, 2, 3)
        ]
        pd.DataFrame(rows).to_csv(run_dir / "prefix_jsd.csv", index=False)
    groups = group_runs(collect(tmp_path))
    [runs] = groups.values()
    curves = final_prefix_curves(runs)
    assert curves.shape == (3, 2)
    assert curves.mean(axis=1).tolist() == pytest.approx([0.11, 0.21, 0.31])  # step 10 only, mean of 2 seeds
    [png, pdf] = plot_prefix_jsd(groups, tmp_path / "prefix_jsd")
    assert png.is_file() and pdf.is_file()
    [panel] = plots_saved["prefix_jsd"].panels
    assert panel.curves["mle (n = 2)"] == (pytest.approx([1, 2, 3]), pytest.approx([0.11, 0.21, 0.31]))
    spread = math.sqrt(2 * 0.01**2)  # the sample std of 0.1 t and 0.1 t + 0.02
    assert panel.bands == [(pytest.approx(0.11 - spread), pytest.approx(0.31 + spread))]


def test_cot_jsd_figure_shows_the_three_curves_only_where_the_mediator_bound_exists(
    tmp_path: Path, plots_saved
) -> None:
    curves = {"jsd": [0.6, 0.5, 0.4], "jsd_stepwise_bound": [0.9, 0.8, 0.7], "jsd_mediator_bound": [0.7, 0.55, 0.45]}
    for seed in (0, 1):
        shifted = {name: [v + 0.1 * seed for v in values] for name, values in curves.items()}
        history = [{"step": s, **{k: v[i] for k, v in shifted.items()}} for i, s in enumerate(STEPS)]
        make_run(tmp_path, "cot", seed, history[-1], history=history)
        make_run(tmp_path, "mle", seed, {"jsd": 0.3}, history=[{"step": 0, "jsd": 0.6}, {"step": 10, "jsd": 0.3}])
    groups = group_runs(collect(tmp_path))
    assert plot_cot_jsd(groups, ("jsd",), tmp_path / "cot_jsd")
    [panel] = plots_saved["cot_jsd"].panels  # CoT's alone: MLE has no mediator
    assert panel.title == "cot on synthetic_tiny (n = 2)"
    for name, label in COT_CURVES.items():
        means = [v + 0.05 for v in curves[name]]  # the mean of seed 0's and seed 1's (0.1 higher)
        assert panel.curves[label] == (pytest.approx(list(STEPS)), pytest.approx(means))
    assert plot_cot_jsd(groups, ("nll_oracle",), tmp_path / "none") == []  # jsd saturated: no such figure


def test_text_temperature_curves_draw_bleu_and_the_lm_scores_each_as_the_means_over_seeds(
    tmp_path: Path, plots_saved
) -> None:
    from bench.report.temperature import plot_temperature_curves

    rows = [
        {"algorithm": "mle", "selection": "end", "seed": seed, "temperature": tau}
        | {"bleu5": 0.1 * tau + seed / 100, "self_bleu5": 0.2 * tau, "lm_score": 5 + tau, "reverse_lm_score": 6 - tau}
        for seed in (0, 1)
        for tau in (0.8, 1.0)
    ]
    files = plot_temperature_curves(pd.DataFrame(rows), "text", tmp_path / "temperature_curves")
    assert {path.stem for path in files} == {"temperature_curves", "temperature_curves_lm"}
    [bleu] = plots_saved["temperature_curves"].panels
    [lm] = plots_saved["temperature_curves_lm"].panels
    assert bleu.xlabel.startswith("self-BLEU-5") and bleu.curves["mle"][1] == pytest.approx([0.085, 0.105])
    assert lm.xlabel.startswith("reverse-LM score") and lm.ylabel.startswith("LM score")
    assert lm.curves["mle"] == (pytest.approx([5.2, 5.0]), pytest.approx([5.8, 6.0]))
    without = pd.DataFrame(rows).drop(columns=["lm_score", "reverse_lm_score"])
    assert [p.stem for p in plot_temperature_curves(without, "text", tmp_path / "other")] == ["other", "other"]
