"""`python -m bench.report SWEEP_DIR`: the comparison tables and plots of a sweep, under results/<name>/.

Only runs whose metrics.json says `complete` count; every other run is listed as excluded, with
its status and reason. Final figures become mean ± std over seeds per algorithm (sample standard
deviation, n beside it), printed next to the published figures of DESIGN §5 where comparable.
Learning curves come from each run's history.csv; temperature curves re-evaluate each run's
saved final model (model.pt) over a grid of temperatures, so nothing is retrained.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from bench.build import build
from bench.checkpoint import load_model
from bench.datasets.base import Dataset
from bench.errors import BenchError
from bench.evaluation import Evaluator
from bench.published import PublishedRow, published_rows
from bench.records import atomic_write_text
from bench.runtime import resolve_device
from bench.schema import EvalConfig

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

SYNTHETIC_FIGURES = ("nll_oracle", "nll_test", "jsd")
TEXT_FIGURES = (
    "bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5", "nll_test", "sacrebleu",
)  # fmt: skip
CURVE_FIGURES = ("nll_oracle", "nll_test", "jsd")
COLOURS = {"mle": "#1f77b4", "seqgan": "#d62728", "cot": "#2ca02c"}  # one colour per algorithm, everywhere
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DEFAULT_TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)


def colour(algorithm: str) -> str:
    extra = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
    return COLOURS.get(algorithm, extra[sum(map(ord, algorithm)) % len(extra)])


@dataclass
class RunResult:
    """One run directory of a sweep, as its files describe it."""

    path: Path
    status: str
    algorithm: str
    dataset: str
    seed: int | None
    final: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def config(self) -> DictConfig:
        return OmegaConf.load(self.path / "config.yaml")  # YAML safe-loading only

    def history(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "history.csv")


def collect(sweep_dir: Path) -> list[RunResult]:
    """Every run under `sweep_dir` (any folder holding a metrics.json), complete or not."""
    runs = []
    for metrics_path in sorted(Path(sweep_dir).rglob("metrics.json")):
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            runs.append(RunResult(metrics_path.parent, "unreadable", "?", "?", None, reason=str(error)))
            continue
        runs.append(
            RunResult(
                path=metrics_path.parent,
                status=str(metrics.get("status", "unknown")),
                algorithm=str(metrics.get("algorithm", "?")),
                dataset=str(metrics.get("dataset", "?")),
                seed=metrics.get("seed"),
                final=dict(metrics.get("final") or {}),
                reason=str(metrics.get("reason", "")),
            )
        )
    return runs


def figures_for(dataset: str, runs: Sequence[RunResult]) -> tuple[str, ...]:
    """The table's columns: the synthetic or the text figures that the runs actually report."""
    wanted = TEXT_FIGURES if any("bleu2" in run.final for run in runs) else SYNTHETIC_FIGURES
    return tuple(name for name in wanted if any(name in run.final for run in runs))


def aggregate(runs: Sequence[RunResult], figures: Sequence[str]) -> pd.DataFrame:
    """Mean, sample std and n of each final figure per (dataset, algorithm), complete runs only."""
    rows = []
    complete = [run for run in runs if run.complete]
    for (dataset, algorithm), group in _group(complete).items():
        row: dict[str, Any] = {"dataset": dataset, "algorithm": algorithm, "n": len(group)}
        for name in figures:
            values = pd.Series([run.final.get(name, math.nan) for run in group], dtype=float).dropna()
            row[f"{name}_mean"] = values.mean() if len(values) else math.nan
            row[f"{name}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _group(runs: Sequence[RunResult]) -> dict[tuple[str, str], list[RunResult]]:
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.dataset, run.algorithm), []).append(run)
    return dict(sorted(groups.items()))


def _cell(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def comparison_rows(summary: pd.DataFrame, published: Sequence[PublishedRow], figures: Sequence[str]) -> list[dict]:
    """Display rows: ours (mean ± std, n) per algorithm, each followed by its published figures."""
    rows = []
    for _, ours in summary.iterrows():
        cells = {name: _cell(ours[f"{name}_mean"], ours[f"{name}_std"]) for name in figures}
        rows.append({"algorithm": ours["algorithm"], "source": f"this suite (n = {ours['n']})", **cells})
        for entry in published:
            if entry.algorithm == ours["algorithm"]:
                cells = {name: f"{entry.figures[name]:.3f}" if name in entry.figures else "" for name in figures}
                rows.append({"algorithm": entry.algorithm, "source": f"published: {entry.source}", **cells})
    return rows


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def latex_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    escape = lambda text: str(text).replace("_", r"\_").replace("±", r"$\pm$").replace("≈", r"$\approx$")  # noqa: E731
    lines = [r"\begin{tabular}{" + "l" * 2 + "r" * (len(columns) - 2) + "}", r"\hline"]
    lines.append(" & ".join(escape(c) for c in columns) + r" \\ \hline")
    lines += [" & ".join(escape(row.get(c, "")) for c in columns) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)
    return paths


def plot_learning_curves(runs: Sequence[RunResult], stem: Path) -> list[Path]:
    """NLL_oracle, NLL_test and JSD against step: mean over seeds, ±std band, one colour per algorithm."""
    complete = [run for run in runs if run.complete]
    names = [name for name in CURVE_FIGURES if any(name in run.history().columns for run in complete)]
    if not names:
        return []
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for (_, algorithm), group in _group(complete).items():
        histories = [run.history().set_index("step") for run in group]
        for axis, name in zip(axes[0], names, strict=True):
            curves = pd.concat([h[name] for h in histories if name in h], axis=1).dropna()
            if curves.empty:
                continue
            mean, std = curves.mean(axis=1), curves.std(axis=1, ddof=1).fillna(0.0)
            axis.plot(mean.index, mean.values, color=colour(algorithm), label=f"{algorithm} (n = {curves.shape[1]})")
            axis.fill_between(mean.index, mean - std, mean + std, color=colour(algorithm), alpha=0.2, linewidth=0)
    for axis, name in zip(axes[0], names, strict=True):
        axis.set_xlabel("step (each algorithm's own unit)")
        axis.set_ylabel({"jsd": "true JSD (nats)"}.get(name, f"{name} (nats/token)"))
        axis.grid(alpha=0.3)
    axes[0][0].legend()
    return _save_figure(figure, stem)


def temperature_table(
    runs: Sequence[RunResult], temperatures: Sequence[float], n_samples: int, device: str
) -> pd.DataFrame:
    """Every complete run's final model evaluated at each temperature (no retraining)."""
    rows, datasets = [], {}
    chosen = resolve_device(device)
    complete = [run for run in runs if run.complete and (run.path / "model.pt").exists()]
    for run in tqdm(complete, desc="temperature curves", disable=not complete):
        config = run.config()
        key = OmegaConf.to_yaml(config.dataset)
        if key not in datasets:
            datasets[key] = build(config.dataset, "dataset")
        dataset: Dataset = datasets[key]
        generator = load_model(run.path / "model.pt", dataset).to(chosen)
        for tau in temperatures:
            evaluator = Evaluator(EvalConfig(n_samples=n_samples, temperature=tau), dataset, int(run.seed or 0), chosen)
            figures = evaluator(generator, step=-1).figures
            rows.append({"algorithm": run.algorithm, "seed": run.seed, "temperature": tau, **figures})
    return pd.DataFrame(rows)


def plot_temperature_curves(table: pd.DataFrame, stem: Path) -> list[Path]:
    """Quality against diversity over temperature: NLL_oracle vs NLL_test, or BLEU-5 vs self-BLEU-5."""
    if table.empty:
        return []
    x, y = ("self_bleu5", "bleu5") if "bleu5" in table else ("nll_test", "nll_oracle")
    if x not in table or y not in table:
        return []
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for algorithm, group in table.groupby("algorithm"):
        by_tau = group.groupby("temperature")[[x, y]]
        mean, std = by_tau.mean(), by_tau.std(ddof=1).fillna(0.0)
        axis.errorbar(mean[x], mean[y], xerr=std[x], yerr=std[y], color=colour(algorithm), marker="o", label=algorithm)
        for tau, point in mean.iterrows():
            axis.annotate(f"{tau:g}", (point[x], point[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel({"nll_test": "NLL_test (nats/token, coverage)"}.get(x, "self-BLEU-5 (lower: more diverse)"))
    axis.set_ylabel({"nll_oracle": "NLL_oracle (nats/token, quality)"}.get(y, "BLEU-5 (quality)"))
    axis.set_title("temperature sweep (labels: τ)")
    axis.grid(alpha=0.3)
    axis.legend()
    return _save_figure(figure, stem)


def _uses_canonical_oracle(runs: Sequence[RunResult]) -> bool:
    complete = [run for run in runs if run.complete]
    return bool(complete) and all(run.config().dataset.get("oracle_path") for run in complete)


def write_report(
    sweep_dir: Path, out_dir: Path, command: str, temperatures: Sequence[float], n_samples: int, device: str
) -> Path:
    """Write the tables, plots and a README for `sweep_dir` into `out_dir`; return the README's path."""
    runs = collect(sweep_dir)
    if not runs:
        raise BenchError(f"{sweep_dir}: no runs found (no metrics.json below it)")
    complete = [run for run in runs if run.complete]
    excluded = [run for run in runs if not run.complete]
    out_dir.mkdir(parents=True, exist_ok=True)
    header = f"Regenerate: {command}"

    sections = [f"<!-- {header} -->", f"# Report: {sweep_dir.name}", "", f"Regenerate with `{command}`.", ""]
    for dataset in sorted({run.dataset for run in complete}):
        in_dataset = [run for run in complete if run.dataset == dataset]
        figures = figures_for(dataset, in_dataset)
        summary = aggregate(in_dataset, figures)
        published = published_rows(dataset, _uses_canonical_oracle(in_dataset))
        rows = comparison_rows(summary, published, figures)
        columns = ["algorithm", "source", *figures]
        suffix = "" if len({run.dataset for run in complete}) == 1 else f"_{dataset}"
        atomic_write_text(out_dir / f"table{suffix}.md", f"<!-- {header} -->\n" + markdown_table(rows, columns))
        atomic_write_text(
            out_dir / f"table{suffix}.csv", f"# {header}\n" + pd.DataFrame(rows, columns=columns).to_csv(index=False)
        )
        atomic_write_text(out_dir / f"table{suffix}.tex", f"% {header}\n" + latex_table(rows, columns))
        sections += [f"## {dataset}: final figures (mean ± sample std over seeds)", "", markdown_table(rows, columns)]
        if dataset == "synthetic" and not published:
            sections += ["Published figures are for SeqGAN's canonical oracle; these runs used another one.", ""]

    plots = plot_learning_curves(complete, out_dir / "learning_curves")
    temperature = temperature_table(complete, temperatures, n_samples, device)
    if not temperature.empty:
        atomic_write_text(out_dir / "temperature.csv", f"# {header}\n" + temperature.to_csv(index=False))
    plots += plot_temperature_curves(temperature, out_dir / "temperature_curves")
    sections += ["## Plots", ""] + [f"- [{p.name}]({p.name})" for p in plots] + [""]
    sections += ["## Excluded runs (not complete)", ""]
    sections += [f"- `{run.path}`: {run.status}" + (f" ({run.reason})" if run.reason else "") for run in excluded]
    sections += ["" if excluded else "none", ""]
    readme = out_dir / "README.md"
    atomic_write_text(readme, "\n".join(sections))
    return readme


def regenerate_command(sweep_dir: Path, report_args: Sequence[str]) -> str:
    """The report command, preceded by the sweep's when the folder is named after an experiment file."""
    report = "python -m bench.report " + " ".join(shlex.quote(a) for a in report_args)
    experiment = sweep_dir.resolve().name
    if (CONF_DIR / "experiment" / f"{experiment}.yaml").is_file():
        return f"python -m bench experiment={experiment} && {report}"
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (e.g. outputs/sweeps/quick_synthetic)")
    parser.add_argument("--name", help="report folder name under --out (default: the sweep folder's name)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="parent folder of the report")
    parser.add_argument(
        "--temperatures", default=",".join(f"{t:g}" for t in DEFAULT_TEMPERATURES), help="comma-separated τ grid"
    )
    parser.add_argument("--temperature-samples", type=int, default=2000, help="samples per model and τ")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    try:
        if not args.sweep_dir.is_dir():
            raise BenchError(f"{args.sweep_dir}: no such sweep folder")
        temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
        if not temperatures or any(not (t > 0 and math.isfinite(t)) for t in temperatures):
            raise BenchError(f"--temperatures={args.temperatures}: must be finite numbers > 0")
        if args.temperature_samples < 2:
            raise BenchError(f"--temperature-samples={args.temperature_samples}: must be at least 2")
        out_dir = args.out / (args.name or args.sweep_dir.resolve().name)
        command = regenerate_command(args.sweep_dir, argv if argv is not None else sys.argv[1:])
        readme = write_report(args.sweep_dir, out_dir, command, temperatures, args.temperature_samples, args.device)
    except (BenchError, ValueError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(readme.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
