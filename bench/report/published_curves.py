"""Our learning curves beside published CoT curves on the canonical oracle, and where our curves are heading.

Two published CoT curves exist on SeqGAN's canonical oracle, each placed on our iteration axis:

- The CoT reference repository's README log (older reference code: mediator lr 1e-3, no dropout,
  β2 0.999, clip 5): NLL_oracle / NLL_test at iterations 0, 100 and 200. Its iteration is ours (one
  generator step on 64 samples, one mediator step on 64 real + 64 generated sequences).
- Caccia et al.'s TensorBoard exports (GansFallingShort `csv/oracle/cot_{oracle,test}.csv`). Their
  `Step` is the number of passes over their 10,000 training sequences (`oracle_training.py` logs once
  per epoch); the run's batch size and generator/mediator update ratio are not recorded, and their
  generator (1 x 512 LSTM) is larger than ours. So step s is placed at the iteration where our
  mediator has read s passes over the training set: s · n_train / (batch_size · m_steps). The two
  files are read from `<data root>/published/gansfallingshort/` (`python -m bench.data fetch
  caccia_curves`), verified by sha256, and never shipped with the suite.

Our value at a published point is each seed's evaluation there, or its curve interpolated linearly
between the two evaluations around it when they are at most 10 % of the point's iteration apart
(early curves are steep; never extrapolated), then mean ± sample std over seeds. Experiments that
meet the README log evaluate at its iterations (`eval.also_at: [100, 200]`).

Where a curve is heading: each seed's figure is regressed on log10(step) over the last third of its
final phase (SeqGAN: its adversarial rounds; at least `MIN_TREND_POINTS` evaluations); the slopes'
mean over seeds gets a Student t interval at `stats.LEVEL`. An interval below zero says "still
falling", above zero "rising"; one holding zero says no trend can be told. Where a falling curve
levels off is never extrapolated: "cannot tell".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from bench.config.folders import data_root
from bench.datasets.download import mismatch
from bench.datasets.fetch import BUNDLES
from bench.report.grouping import Group
from bench.report.published import family
from bench.report.runs import RunResult
from bench.report.stats import LEVEL, t_quantile

FIGURES = ("nll_oracle", "nll_test")
"""The figures both published curves give."""
CACCIA_BUNDLE = "caccia_curves"
CACCIA_FILES = {"nll_oracle": "oracle_cot_oracle.csv", "nll_test": "oracle_cot_test.csv"}
CACCIA_SOURCE = (
    "Caccia et al. 2020 (ICLR), pclucas14/GansFallingShort @e6be915 csv/oracle/cot_{oracle,test}.csv"
    " (their best CoT; generator 1 x 512 LSTM)"
)
REFERENCE_LOG_SOURCE = (
    "CoT reference repository README log (Lu et al. 2019; older code: mediator lr 1e-3, no dropout, β2 0.999, clip 5)"
)
REFERENCE_LOG = ((0, 11.430, 8.525), (100, 10.476, 7.938), (200, 10.387, 7.869))
"""(iteration, NLL_oracle, NLL_test) as the README prints them."""
MIN_TREND_POINTS = 3
MAX_GAP_SHARE = 0.1
"""Our value at a published point is interpolated only between evaluations this share of its iteration apart."""


@dataclass(frozen=True)
class PublishedCurve:
    """Published points placed on our iteration axis: columns `iteration`, `published_step`, and FIGURES."""

    source: str
    points: pd.DataFrame
    axis_note: str


def reference_log() -> PublishedCurve:
    points = pd.DataFrame(REFERENCE_LOG, columns=["iteration", *FIGURES])
    points.insert(1, "published_step", points["iteration"])
    return PublishedCurve(REFERENCE_LOG_SOURCE, points, "its iterations are ours")


def caccia_curve(iterations_per_step: float, folder: Path | None = None) -> PublishedCurve | str:
    """Caccia et al.'s CoT curve, or why it cannot be shown (files absent or altered)."""
    folder = folder or data_root() / BUNDLES[CACCIA_BUNDLE].folder
    remotes = {remote.name: remote for remote in BUNDLES[CACCIA_BUNDLE].files}
    columns = []
    for figure, name in CACCIA_FILES.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is absent (`python -m bench.data fetch {CACCIA_BUNDLE}` downloads it)"
        wrong = mismatch(path, remotes[name])
        if wrong is not None:
            return f"{path} is not the published file ({wrong})"
        table = pd.read_csv(path)
        columns.append(table.rename(columns={"Step": "published_step", "Value": figure})[["published_step", figure]])
    points = columns[0].merge(columns[1], on="published_step", how="outer").sort_values("published_step")
    points.insert(0, "iteration", points["published_step"] * iterations_per_step)
    note = f"their step s (passes over their 10,000 sequences) placed at our iteration {iterations_per_step:g}·s"
    return PublishedCurve(CACCIA_SOURCE, points.reset_index(drop=True), note)


def iterations_per_pass(run: RunResult) -> float | None:
    """Iterations in which a CoT run's mediator reads its training set once: n_train / (batch_size · m_steps)."""
    config = run.config()
    n_train = OmegaConf.select(config, "dataset.n_train", default=None)
    batch = OmegaConf.select(config, "algorithm.batch_size", default=None)
    m_steps = OmegaConf.select(config, "algorithm.m_steps", default=1)
    if not all(isinstance(value, int) and value > 0 for value in (n_train, batch, m_steps)):
        return None
    return n_train / (batch * m_steps)


def curve(run: RunResult, figure: str, final_phase: bool = False) -> pd.DataFrame:
    """A run's evaluations of `figure` (columns step, value), in step order, last row kept per step;
    `final_phase`: only the rows of the phase its last evaluation belongs to."""
    history = run.history()
    if figure not in history or "step" not in history:
        return pd.DataFrame(columns=["step", "value"])
    rows = history[history[figure].notna()]
    if final_phase and "phase" in rows and not rows.empty:
        rows = rows[rows["phase"] == rows["phase"].iloc[-1]]
    rows = rows[["step", figure]].drop_duplicates("step", keep="last").sort_values("step")
    return rows.rename(columns={figure: "value"}).reset_index(drop=True)


def value_at(run: RunResult, figure: str, iteration: float) -> float | None:
    """The run's `figure` at `iteration`: evaluated there, or linear between the evaluations around it when
    they are at most `MAX_GAP_SHARE` of `iteration` apart (early curves are steep); None otherwise."""
    found = curve(run, figure)
    steps = found["step"].to_numpy(float)
    if found.empty or not steps[0] <= iteration <= steps[-1]:
        return None
    after = int(np.searchsorted(steps, iteration))
    if steps[after] != iteration and steps[after] - steps[after - 1] > MAX_GAP_SHARE * iteration:
        return None
    return float(np.interp(iteration, steps, found["value"].to_numpy(float)))


def comparison_table(runs: Sequence[RunResult], published: PublishedCurve) -> pd.DataFrame:
    """One row per published point inside our runs' evaluated range: theirs beside our mean ± std (n seeds)."""
    rows = []
    for point in published.points.itertuples(index=False):
        row: dict[str, object] = {"published_step": point.published_step, "iteration": point.iteration}
        inside = False
        for figure in FIGURES:
            ours = [v for run in runs if (v := value_at(run, figure, float(point.iteration))) is not None]
            row[f"{figure}_published"] = getattr(point, figure)
            row[f"{figure}_ours_mean"] = float(np.mean(ours)) if ours else math.nan
            row[f"{figure}_ours_std"] = float(np.std(ours, ddof=1)) if len(ours) > 1 else math.nan
            row[f"{figure}_ours_n"] = len(ours)
            inside = inside or bool(ours)
        if inside:
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Trend:
    """The slope of a figure per tenfold steps over the last third of the runs, with its interval over seeds."""

    figure: str
    slope: float
    low: float
    high: float
    n: int
    first_step: float
    last_step: float

    @property
    def words(self) -> str:
        interval = f"{self.slope:+.3f} per tenfold steps"
        if self.n < 2:
            return f"{interval} (one seed: cannot tell where it is heading)"
        interval += f" ({LEVEL:.0%} interval [{self.low:+.3f}, {self.high:+.3f}], {self.n} seeds)"
        if self.high < 0:
            return f"still falling, {interval}; where it levels off cannot be told from these runs"
        if self.low > 0:
            return f"rising, {interval}"
        return f"no trend can be told, {interval}"


def seed_slope(run: RunResult, figure: str) -> tuple[float, float, float] | None:
    """(slope per log10 step, first step, last step) over the last third of one run's final phase, or None.

    The final phase only: SeqGAN's adversarial rounds, not the MLE pretraining before them."""
    found = curve(run, figure, final_phase=True)
    if found.empty:
        return None
    first, last = float(found["step"].iloc[0]), float(found["step"].iloc[-1])
    tail = found[(found["step"] >= first + (last - first) * 2 / 3) & (found["step"] > 0)]
    if len(tail) < MIN_TREND_POINTS:
        return None
    slope = float(np.polyfit(np.log10(tail["step"].to_numpy(float)), tail["value"].to_numpy(float), 1)[0])
    return slope, float(tail["step"].iloc[0]), last


def trend(runs: Sequence[RunResult], figure: str) -> Trend | None:
    """The trend of `figure` over `runs` (one slope per seed), or None when no run has enough evaluations."""
    slopes = [found for run in runs if (found := seed_slope(run, figure)) is not None]
    if not slopes:
        return None
    values = np.array([slope for slope, _, _ in slopes])
    mean, n = float(values.mean()), len(values)
    half = t_quantile(1 - (1 - LEVEL) / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    first = min(start for _, start, _ in slopes)
    return Trend(figure, mean, mean - half, mean + half, n, first, max(end for _, _, end in slopes))


def trend_lines(groups: dict[Group, list[RunResult]], figures: Sequence[str]) -> tuple[list[str], pd.DataFrame]:
    """README lines and a data table of each group's trend in `figures`; nothing when no group has a trend."""
    rows, lines = [], []
    for group, runs in groups.items():
        complete = [run for run in runs if run.complete]
        for figure in figures:
            found = trend(complete, figure)
            if found is None:
                continue
            rows.append(
                {"algorithm": group.label, "figure": figure, "slope_per_decade": found.slope, "low": found.low}
                | {"high": found.high, "n_seeds": found.n, "from_step": found.first_step, "to_step": found.last_step}
            )
            lines.append(
                f"- {group.label}, `{figure}` over steps {found.first_step:g}–{found.last_step:g}: {found.words}."
            )
    if not lines:
        return [], pd.DataFrame()
    head = [
        "## Where the curves are heading",
        "",
        "Each seed's figure regressed on log10(step) over the last third of its final phase; the slopes' mean "
        f"over seeds with a Student t interval at {LEVEL:.0%}. A level-off point is never extrapolated.",
        "",
    ]
    return head + lines + [""], pd.DataFrame(rows)


def published_curve_lines(
    groups: dict[Group, list[RunResult]], benchmark: str | None, folder: Path | None = None
) -> tuple[list[str], pd.DataFrame]:
    """README lines and a data table comparing each CoT group with the published CoT curves (canonical oracle)."""
    if benchmark != "canonical_oracle":
        return [], pd.DataFrame()
    tables, lines = [], []
    for group, runs in groups.items():
        complete = [run for run in runs if run.complete]
        if family(group.algorithm) != "cot" or not complete:
            continue
        per_pass = {iterations_per_pass(run) for run in complete}
        curves: list[PublishedCurve | str] = [reference_log()]
        if len(per_pass) == 1 and None not in per_pass:
            curves.append(caccia_curve(float(per_pass.pop()), folder))
        else:
            curves.append("the runs do not record one n_train / batch size, so their steps cannot be placed")
        for published in curves:
            if isinstance(published, str):
                lines.append(f"- {group.label} vs {CACCIA_SOURCE}: not shown, {published}.")
                continue
            table = comparison_table(complete, published)
            if table.empty:
                lines.append(f"- {group.label} vs {published.source}: no published point inside our evaluated range.")
                continue
            tables.append(table.assign(algorithm=group.label, source=published.source))
            lines.append(f"- {group.label} vs {published.source} ({published.axis_note}):")
            lines += [f"  - {_point_words(row)}" for row in table.to_dict("records")]
    if not lines:
        return [], pd.DataFrame()
    head = [
        "## Beside the published CoT curves",
        "",
        "Ours: each seed at that iteration (interpolated between evaluations at most 10 % of it apart), "
        "mean ± sample std over seeds; "
        "published: one run each.",
        "",
    ]
    return head + lines + [""], pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _point_words(row: dict) -> str:
    parts = [f"iteration {row['iteration']:g} (their step {row['published_step']:g})"]
    for figure in FIGURES:
        n = row[f"{figure}_ours_n"]
        if not math.isfinite(row[f"{figure}_published"]):
            continue
        if n == 0:
            parts.append(f"{figure}: theirs {row[f'{figure}_published']:.3f}, ours not evaluated there")
            continue
        spread = f" ± {row[f'{figure}_ours_std']:.3f}" if n > 1 else ""
        parts.append(
            f"{figure}: theirs {row[f'{figure}_published']:.3f}, ours {row[f'{figure}_ours_mean']:.3f}{spread} (n={n})"
        )
    return "; ".join(parts)
