"""Write one report: tables, plots, temperature curves and a README, all of them or none.

The report is built in a hidden folder beside its destination and swapped in at the end, so an
error halfway (a bad run, a full disk) leaves the previous report whole and no new file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from bench.devices import resolve_device
from bench.errors import BenchError
from bench.files import umask
from bench.report import claims, figures, plots, tables
from bench.report.aggregate import aggregate, per_run
from bench.report.grouping import Group, group_runs
from bench.report.header import header_lines
from bench.report.provenance import benchmark
from bench.report.published import published_rows
from bench.report.runs import RunResult, check_complete_runs, check_targets, collect
from bench.report.temperature import DEFAULT_TEMPERATURES, plot_temperature_curves, temperature_table
from bench.training.records import HISTORY

MARKER = "<!-- Regenerate: "
"""How a report's README starts: the only kind of folder a new report may replace."""


@dataclass(frozen=True)
class Options:
    """How a report is made (the command line's defaults live here)."""

    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    temperature_samples: int = 2000
    """Samples per model and temperature."""
    device: str = "cpu"
    threads: int = 0
    """torch CPU threads for the temperature curves; 0 keeps torch's default."""
    group_by: tuple[str, ...] = ()
    """Config keys whose values split runs into separate rows instead of being refused."""
    allowed_targets: tuple[str, ...] = ()
    """`_target_` prefixes outside the suite that a saved config may still build (the user trusts them)."""


def write_report(sweep_dir: Path, out_dir: Path, command: str, options: Options = Options()) -> Path:
    """Write the report of `sweep_dir` into `out_dir` (replacing an older report whole); return its README."""
    runs = collect(sweep_dir)
    if not runs:
        raise BenchError(f"{sweep_dir}: no runs found (no metrics.json below it)")
    check_complete_runs(runs)
    for run in runs:
        if run.complete:
            check_targets(run, options.allowed_targets)  # before anything is built or imported
    groups = group_runs(runs, options.group_by)
    if options.threads:
        torch.set_num_threads(options.threads)
    staging = _staging_folder(out_dir)
    try:
        _write(staging, out_dir.name, runs, groups, command, options)
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "README.md"


def _staging_folder(out_dir: Path) -> Path:
    if out_dir.exists() and not _is_report(out_dir):
        raise BenchError(f"--out: {out_dir} exists and is not a report folder; refusing to replace it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    except OSError as error:
        raise BenchError(f"--out: cannot write {out_dir}: {error.strerror or error}") from None


def _is_report(folder: Path) -> bool:
    readme = folder / "README.md"
    if folder.is_symlink() or not folder.is_dir():
        return False
    return not any(folder.iterdir()) or (readme.is_file() and readme.read_text(encoding="utf-8").startswith(MARKER))


def _swap(staging: Path, out_dir: Path) -> None:
    """Put the finished report in place of the old one (each rename is atomic on one file system)."""
    os.chmod(staging, 0o777 & ~umask())
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old.{os.getpid()}"
        os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(
    folder: Path,
    name: str,
    runs: Sequence[RunResult],
    groups: dict[Group, list[RunResult]],
    command: str,
    options: Options,
) -> None:
    """Every file of the report, into `folder`."""
    datasets = sorted({group.dataset for group in groups})
    found, body, made, skipped = [], [], [], []
    for dataset in datasets:
        in_dataset = {group: members for group, members in groups.items() if group.dataset == dataset}
        suffix = "" if len(datasets) == 1 else f"_{dataset}"
        section = _dataset_section(folder, name, dataset, in_dataset, suffix, command, options)
        found.append((dataset, section.claims))
        body += section.lines
        made += section.files
        skipped += section.skipped
    excluded = [run for run in runs if not run.complete]
    lines = [f"{MARKER}{command} -->", f"# Report: {name}", "", *header_lines(command)]
    lines += claims.claims_section(found) + body
    lines += ["## Files", "", *[f"- [{path.name}]({path.name})" for path in made], ""]
    lines += ["## Runs left out", ""]
    lines += [f"- `{run.path}`: {run.status}" + (f" ({run.reason})" if run.reason else "") for run in excluded]
    lines += [f"- {line}" for line in skipped]
    lines += ["" if excluded or skipped else "none", ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")


@dataclass
class Section:
    lines: list[str]
    claims: list[str]
    files: list[Path]
    skipped: list[str]


def _dataset_section(
    folder: Path,
    name: str,
    dataset: str,
    groups: dict[Group, list[RunResult]],
    suffix: str,
    command: str,
    options: Options,
) -> Section:
    """One dataset's tables, plots, temperature curves and README lines."""
    members = [run for runs in groups.values() for run in runs]
    kind = figures.dataset_kind(members[0])
    shown, notes = figures.choose(kind, members)
    data = benchmark(members)
    published = published_rows(data)
    summary = aggregate(groups, shown)
    files = _write_tables(folder, name, dataset, suffix, summary, published, shown, command)
    files.append(folder / f"runs{suffix}.csv")
    files[-1].write_text(f"# Regenerate: {command}\n" + per_run(groups, shown).to_csv(index=False), encoding="utf-8")
    lines = [f"## {dataset}: figures (mean ± sample std over seeds)", ""]
    lines += [tables.markdown(tables.display_table(summary, published, shown))]
    lines += [note for note in notes] + _data_notes(kind, data, shown) + discriminator_notes(members)
    files += plots.plot_learning_curves(groups, shown, folder / f"learning_curves{suffix}")
    files += plots.plot_prefix_jsd(groups, folder / f"prefix_jsd{suffix}")
    files += plots.plot_cot_jsd(groups, shown, folder / f"cot_jsd{suffix}")
    labels = {run.path: group.label for group, runs in groups.items() for run in runs}
    temperature, skipped = temperature_table(
        members,
        options.temperatures,
        options.temperature_samples,
        resolve_device(options.device),
        options.allowed_targets,
        labels,
    )
    if not temperature.empty:
        path = folder / f"temperature{suffix}.csv"
        path.write_text(f"# Regenerate: {command}\n" + temperature.to_csv(index=False), encoding="utf-8")
        files.append(path)
    files += plot_temperature_curves(temperature, kind, folder / f"temperature_curves{suffix}")
    return Section(lines + [""], claims.what_this_shows(summary, temperature, kind, data), files, skipped)


def discriminator_notes(runs: Sequence[RunResult]) -> list[str]:
    """SeqGAN's discriminator at the start of adversarial training: its balanced accuracy on test vs G's samples.

    A discriminator at chance gives G rewards that carry no information, so adversarial rounds then
    measure nothing; the figure is the last evaluation of the `pretrain_d` phase (`d_test_acc`).
    """
    figures = []
    for run in runs:
        if not run.complete or not (run.path / HISTORY).exists():
            continue
        history = run.history()
        if "d_test_acc" not in history or "phase" not in history:
            continue
        at_start = history[(history["phase"] == "pretrain_d") & history["d_test_acc"].notna()]
        if not at_start.empty:
            figures.append((run.seed, float(at_start["d_test_acc"].iloc[-1])))
    if not figures:
        return []
    listed = ", ".join(f"seed {seed}: {value:.3f}" for seed, value in sorted(figures, key=lambda f: f[0] or 0))
    values = [value for _, value in figures]
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


def _write_tables(
    folder: Path, name: str, dataset: str, suffix: str, summary: pd.DataFrame, published, shown, command: str
) -> list[Path]:
    numeric = tables.numeric_table(summary, published, shown)
    display = tables.display_table(summary, published, shown)
    caption = f"{name}, {dataset}: mean ± sample std over seeds (n), at the end and at the best NLL_valid"
    paths = [folder / f"table{suffix}.{ext}" for ext in ("csv", "md", "tex")]
    paths[0].write_text(f"# Regenerate: {command}\n" + numeric.to_csv(index=False), encoding="utf-8")
    paths[1].write_text(f"{MARKER}{command} -->\n" + tables.markdown(display), encoding="utf-8")
    paths[2].write_text(f"% Regenerate: {command}\n" + tables.latex(display, caption, f"tab:{name}-{dataset}"))
    return paths
