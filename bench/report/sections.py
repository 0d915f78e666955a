"""One section of a report: the runs of one dataset and data variant, their tables, plots and verdicts.

Each section writes its tables (CSV with data only, Markdown, LaTeX), its per-run CSV, learning,
prefix-JSD and CoT JSD plots, and its temperature curves (re-evaluated models over τ); then the
verdicts of its claims and comparisons are made from those figures (bench/report/verdicts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from bench.devices import resolve_device
from bench.report import escape, figures, plots, tables
from bench.report.aggregate import aggregate, per_run
from bench.report.curves import CurveComparison
from bench.report.grouping import Group
from bench.report.provenance import benchmark
from bench.report.published import published_rows, training_caveat
from bench.report.published_curves import FIGURES, published_curve_lines, trend_lines
from bench.report.runs import RunResult
from bench.report.temperature import plot_temperature_curves, temperature_table
from bench.report.verdicts import SectionData, Verdict, section_verdicts
from bench.training.records import HISTORY


@dataclass
class Section:
    """What one section contributes to the report."""

    name: str
    dataset: str
    lines: list[str]
    files: list[Path]
    skipped: list[tuple[str, str]]
    verdicts: list[Verdict] = field(default_factory=list)
    comparisons: list[CurveComparison] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    """A CSV of data only: a header row, then values (no comment lines), readable by plain `read_csv`."""
    path.write_text(table.to_csv(index=False), encoding="utf-8")
    return path


def sample_count(runs: Sequence[RunResult]) -> int | None:
    """The samples per evaluation (`eval.n_samples`) every run used, or None when they differ or do not say."""
    counts = {OmegaConf.select(run.config(), "eval.n_samples", default=None) for run in runs}
    found = counts.pop() if len(counts) == 1 else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def write_section(
    folder: Path, name: str, section: str, groups: dict[Group, list[RunResult]], suffix: str, options, command: str
) -> Section:
    """Every file of one section into `folder`, and its README lines and verdicts."""
    members = [run for runs in groups.values() for run in runs]
    dataset = members[0].dataset
    kind = figures.dataset_kind(members[0])
    shown, notes = figures.choose(kind, members)
    data = benchmark(members)
    published = published_rows(data)
    summary = aggregate(groups, shown)
    runs_table = per_run(groups, shown)
    n_samples = sample_count(members)
    display = tables.display_table(summary, published, shown, n_samples)
    files = [write_csv(folder / f"table{suffix}.csv", tables.numeric_table(summary, published, shown, n_samples))]
    files += _write_display(folder, f"{name}, {section}", f"tab:{name}-{section}", suffix, display, command)
    files.append(write_csv(folder / f"runs{suffix}.csv", runs_table))
    lines = [f"## {escape.markdown(section)}: figures (mean ± sample std over seeds)", ""]
    lines += [tables.markdown(display)]
    caveat = training_caveat(data, members[0].data) if published else None
    lines += [f"{escape.markdown(note)}\n" for note in [*notes, *([caveat] if caveat else [])]]
    lines += _data_notes(kind, data, shown) + discriminator_notes(members)
    files += plots.plot_learning_curves(groups, shown, folder / f"learning_curves{suffix}")
    files += plots.plot_prefix_jsd(groups, folder / f"prefix_jsd{suffix}")
    files += plots.plot_cot_jsd(groups, shown, folder / f"cot_jsd{suffix}")
    labels = {run.path: group.label for group, runs in groups.items() for run in runs}
    device = resolve_device(options.device, "--device")
    temperature, skipped = temperature_table(
        members, options.temperatures, options.temperature_samples, device, options.allowed_targets, labels
    )
    if not temperature.empty:
        files.append(write_csv(folder / f"temperature{suffix}.csv", temperature))
    files += plot_temperature_curves(temperature, kind, folder / f"temperature_curves{suffix}")
    curve_lines, curve_table = published_curve_lines(groups, data)
    trend_text, trend_table = trend_lines(groups, [figure for figure in FIGURES if figure in shown])
    for table, stem in ((curve_table, "published_curves"), (trend_table, "trend")):
        if not table.empty:
            files.append(write_csv(folder / f"{stem}{suffix}.csv", table))
    lines += curve_lines + trend_text
    judged = SectionData(section, runs_table, summary, temperature, data, options.stand_in)
    verdicts, comparisons = section_verdicts(judged, kind)
    return Section(section, dataset, lines + [""], files, skipped, verdicts, comparisons, summary)


def discriminator_notes(runs: Sequence[RunResult]) -> list[str]:
    """SeqGAN's discriminator at the start of adversarial training: its balanced accuracy on test vs G's samples.

    A discriminator at chance gives G rewards that carry no information, so adversarial rounds then
    measure nothing; the figure is the last evaluation of the `pretrain_d` phase (`d_test_acc`).
    """
    found = []
    for run in runs:
        if not run.complete or not (run.path / HISTORY).is_file():
            continue
        history = run.history()
        if "d_test_acc" not in history or "phase" not in history:
            continue
        at_start = history[(history["phase"] == "pretrain_d") & history["d_test_acc"].notna()]
        if not at_start.empty:
            found.append((run.seed, float(at_start["d_test_acc"].iloc[-1])))
    if not found:
        return []
    listed = ", ".join(f"seed {seed}: {value:.3f}" for seed, value in sorted(found, key=lambda f: f[0] or 0))
    values = [value for _, value in found]
    return [
        f"SeqGAN's discriminator at the start of adversarial training, balanced accuracy on the test set "
        f"against G's samples (0.5 is chance): {listed}; lowest {min(values):.3f}.\n"
    ]


def _data_notes(kind: str, data: str | None, shown: Sequence[str]) -> list[str]:
    notes = []
    if data == "canonical_oracle" and "jsd_prefix_mean" in shown:
        notes.append("On SeqGAN's canonical oracle the mean prefix JSD J̄ (`jsd_prefix_mean`) is the headline.")
    if data is None and kind in ("synthetic", "text"):
        notes.append("No published rows: these runs' data files (by sha256) are not a published benchmark's.")
    return [f"{note}\n" for note in notes]


def _write_display(
    folder: Path, title: str, label: str, suffix: str, display: pd.DataFrame, command: str
) -> list[Path]:
    """table.md and table.tex, each opening with the regenerating command in an inert comment."""
    caption = f"{title}: mean ± sample std over seeds (n), at the end and at the best NLL_valid"
    markdown_path, latex_path = folder / f"table{suffix}.md", folder / f"table{suffix}.tex"
    markdown_path.write_text(
        f"<!-- {escape.html_comment('Regenerate: ' + command)} -->\n" + tables.markdown(display), encoding="utf-8"
    )
    latex_path.write_text(
        escape.latex_comment(f"Regenerate: {command}") + "\n" + tables.latex(display, caption, label), encoding="utf-8"
    )
    return [markdown_path, latex_path]
