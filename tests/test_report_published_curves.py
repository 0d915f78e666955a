"""Our curves beside the published CoT curves on the canonical oracle, and the trend of a curve's last third:
the step-to-iteration mapping, linear interpolation between evaluations, published values read verbatim,
and the slope interval checked against scipy's t distribution."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from bench.report.grouping import Group
from bench.report.published_curves import (
    CACCIA_FILES,
    caccia_curve,
    comparison_table,
    iterations_per_pass,
    published_curve_lines,
    reference_log,
    seed_slope,
    trend,
    trend_lines,
    value_at,
)
from bench.report.runs import RunResult, collect
from tests.conftest import SHARED_DATA
from tests.run_folders import make_run

CANONICAL = {"oracle_sha256": "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a", "n_train": 10_000}
COT_CONFIG = {"dataset.n_train": 10_000, "algorithm.batch_size": 64, "algorithm.m_steps": 1}
CACCIA_FOLDER = SHARED_DATA / "published" / "gansfallingshort"


def cot_run(root: Path, seed: int, steps: list[int], oracle: list[float], test: list[float]) -> RunResult:
    rows = zip(steps, oracle, test, strict=True)
    history = [{"step": s, "phase": "train", "nll_oracle": o, "nll_test": t} for s, o, t in rows]
    final = {"nll_oracle": oracle[-1], "nll_test": test[-1]}
    make_run(root, "cot", seed, final, dataset="synthetic", data=CANONICAL, history=history, config=COT_CONFIG)
    [run] = [run for run in collect(root) if run.seed == seed]
    return run


def test_a_value_between_close_evaluations_is_linear_and_never_extrapolated(tmp_path: Path) -> None:
    run = cot_run(tmp_path, 0, [0, 100, 2000, 2100, 2200], [11.0, 10.0, 9.0, 8.0, 7.0], [8.0, 7.5, 7.0, 6.5, 6.0])
    assert value_at(run, "nll_oracle", 100) == 10.0
    assert value_at(run, "nll_oracle", 2050) == pytest.approx(8.5)  # halfway between 9.0 and 8.0
    assert value_at(run, "nll_test", 2175) == pytest.approx(6.125)
    assert value_at(run, "nll_oracle", 2201) is None and value_at(run, "nll_oracle", -1) is None
    assert value_at(run, "nll_oracle", 1000) is None  # evaluations 1,900 apart: too far to interpolate at 1,000


def test_the_reference_log_is_compared_at_its_own_iterations(tmp_path: Path) -> None:
    runs = [
        cot_run(tmp_path, 0, [0, 100, 200, 300], [11.4, 10.5, 10.4, 10.3], [8.5, 7.9, 7.8, 7.7]),
        cot_run(tmp_path, 1, [0, 100, 200, 300], [11.4, 10.3, 10.2, 10.1], [8.5, 7.7, 7.6, 7.5]),
    ]
    table = comparison_table(runs, reference_log())
    assert table["iteration"].tolist() == [0, 100, 200]
    at_100 = table.set_index("iteration").loc[100]
    assert at_100["nll_oracle_published"] == 10.476 and at_100["nll_test_published"] == 7.938
    assert at_100["nll_oracle_ours_mean"] == pytest.approx(10.4)
    assert at_100["nll_oracle_ours_std"] == pytest.approx(np.std([10.5, 10.3], ddof=1))
    assert at_100["nll_oracle_ours_n"] == 2


def test_a_published_point_outside_our_evaluations_is_left_out(tmp_path: Path) -> None:
    runs = [cot_run(tmp_path, 0, [0, 50], [11.4, 11.0], [8.5, 8.3])]
    assert comparison_table(runs, reference_log())["iteration"].tolist() == [0]


def test_a_step_of_caccia_et_al_is_one_pass_of_our_mediator_over_the_training_set(tmp_path: Path) -> None:
    run = cot_run(tmp_path, 0, [0, 100], [11.0, 10.0], [8.0, 7.5])
    assert iterations_per_pass(run) == 10_000 / 64


@pytest.mark.skipif(not CACCIA_FOLDER.is_dir(), reason="the published curves are not in the reference data")
def test_caccias_curves_are_read_verbatim_and_placed_by_the_mapping(tmp_path: Path) -> None:
    curve = caccia_curve(10_000 / 64, CACCIA_FOLDER)
    assert not isinstance(curve, str)
    first = curve.points.iloc[0]
    assert first["published_step"] == 50 and first["iteration"] == pytest.approx(50 * 156.25)
    assert first["nll_oracle"] == pytest.approx(10.566620826721191, abs=0)  # the file's first row, verbatim
    assert first["nll_test"] == pytest.approx(7.738868713378906, abs=0)
    steps = list(range(0, 10_001, 500))
    runs = [cot_run(tmp_path, 0, steps, [11.4 - s / 10_000 for s in steps], [8.5 - s / 20_000 for s in steps])]
    table = comparison_table(runs, curve)
    assert table["published_step"].tolist() == [50, 53, 56, 59, 62]  # the steps inside iterations 0..10,000
    expected = np.interp(50 * 156.25, [7500, 8000], [11.4 - 0.75, 11.4 - 0.8])
    assert table["nll_oracle_ours_mean"].iloc[0] == pytest.approx(expected)


@pytest.mark.skipif(not CACCIA_FOLDER.is_dir(), reason="the published curves are not in the reference data")
def test_absent_or_altered_published_files_are_named_not_shown(tmp_path: Path) -> None:
    absent = caccia_curve(156.25, tmp_path / "none")
    assert isinstance(absent, str) and "absent" in absent and "fetch caccia_curves" in absent
    altered = tmp_path / "altered"
    shutil.copytree(CACCIA_FOLDER, altered)
    path = altered / CACCIA_FILES["nll_oracle"]
    path.write_text(path.read_text().replace("10.566620826721191", "8.1"))
    found = caccia_curve(156.25, altered)
    assert isinstance(found, str) and "not the published file" in found


def test_the_section_appears_for_cot_on_the_canonical_oracle_only(tmp_path: Path) -> None:
    runs = [cot_run(tmp_path, 0, [0, 100, 200], [11.4, 10.5, 10.4], [8.5, 7.9, 7.8])]
    lines, table = published_curve_lines({Group("synthetic", "cot"): runs}, "canonical_oracle", tmp_path / "none")
    text = "\n".join(lines)
    assert "## Beside the published CoT curves" in text
    assert "theirs 10.476, ours 10.500 (n=1)" in text and "not shown" in text  # Caccia's files absent here
    assert set(table["source"]) == {reference_log().source}
    other_lines, other_table = published_curve_lines({Group("synthetic", "cot"): runs}, None)
    assert other_lines == [] and other_table.empty
    assert published_curve_lines({Group("synthetic", "mle"): runs}, "canonical_oracle")[0] == []


def falling(root: Path, seed: int, slope: float, noise: float) -> RunResult:
    steps = [0, 2000, 4000, 6000, 8000, 10000, 12000]
    rng = np.random.default_rng(seed)
    oracle = [10 + slope * math.log10(max(s, 1)) + noise * rng.standard_normal() for s in steps]
    return cot_run(root, seed, steps, oracle, oracle)


def test_a_trend_is_the_mean_slope_over_seeds_with_a_student_t_interval(tmp_path: Path) -> None:
    runs = [falling(tmp_path, seed, -0.5 - 0.1 * seed, 0.0) for seed in range(3)]
    found = trend(runs, "nll_oracle")
    slopes = [-0.5, -0.6, -0.7]  # exact lines: each seed's regression returns its slope
    half = scipy.stats.t.ppf(0.975, 2) * np.std(slopes, ddof=1) / math.sqrt(3)
    assert found is not None and found.n == 3
    assert found.slope == pytest.approx(-0.6) and found.high == pytest.approx(-0.6 + half)
    assert found.first_step == 8000 and found.last_step == 12000  # the last third of 12,000 steps
    assert found.words.startswith("still falling") and "cannot be told" in found.words


def test_a_flat_curve_has_no_trend_and_one_seed_cannot_tell(tmp_path: Path) -> None:
    flat = [falling(tmp_path / "flat", seed, 0.0, 0.05) for seed in range(3)]
    words = trend(flat, "nll_oracle").words
    assert words.startswith("no trend can be told")
    one = trend([falling(tmp_path / "one", 0, -0.5, 0.0)], "nll_oracle")
    assert "one seed: cannot tell" in one.words


def test_a_curve_with_too_few_late_evaluations_has_no_trend(tmp_path: Path) -> None:
    run = cot_run(tmp_path, 0, [0, 100, 200], [11.4, 10.5, 10.4], [8.5, 7.9, 7.8])
    assert trend([run], "nll_oracle") is None
    assert trend_lines({Group("synthetic", "cot"): [run]}, ["nll_oracle"])[0] == []


def test_only_the_final_phase_makes_the_trend(tmp_path: Path) -> None:
    pretraining = [{"step": s, "phase": "pretrain_g", "nll_oracle": 10 - s / 100} for s in (0, 100, 200, 300)]
    adversarial = [{"step": s, "phase": "adversarial", "nll_oracle": 7 + 0.001 * s} for s in range(300, 400, 10)]
    make_run(tmp_path, "seqgan", 0, {"nll_oracle": 7.39}, history=pretraining + adversarial)
    found = seed_slope(collect(tmp_path)[0], "nll_oracle")
    assert found is not None and found[1:] == (360.0, 390.0)  # the last third of steps 300..390
    assert found[0] > 0  # rising in its adversarial rounds, though falling over the whole run
