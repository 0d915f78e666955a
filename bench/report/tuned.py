"""A tuned sweep's report: which runs it compares (stage 2), and the grid and selection it prints.

When a sweep folder holds `tuning.json` (written by `python -m bench.tune`, bench/tune/plan.py), the
report compares only the stage-2 runs it lists: each algorithm's selected configuration over fresh
seeds. The stage-1 runs appear in the tuning table (every configuration with its mean best
validation NLL), and any other run in the folder is listed as left out. The selection is
recomputed from the stage-1 runs on disk, so a `tuning.json` that does not follow from its runs is
refused rather than believed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.report.escape import code
from bench.report.grouping import Group
from bench.report.reading import read_json
from bench.report.runs import RunResult
from bench.report.tables import markdown as markdown_table
from bench.tune.plan import TUNING_FILE, TuningPlan, plan_from, relative, select


@dataclass(frozen=True)
class Tuned:
    """The tuning record of a sweep, checked against its runs."""

    plan: TuningPlan
    record: dict[str, Any]
    """Per algorithm: its configurations (each with runs and mean validation NLL) and the selected index."""
    stage2: frozenset[str]
    """The stage-2 runs' folders, relative to the sweep folder."""
    command: str


def load(sweep_dir: Path, runs: Sequence[RunResult]) -> Tuned | None:
    """The sweep's tuning record (None without `tuning.json`), its selection recomputed from the runs."""
    path = Path(sweep_dir) / TUNING_FILE
    if not path.exists() and not path.is_symlink():
        return None
    saved = read_json(path, sweep_dir)
    if not isinstance(saved, dict):
        raise BenchError(f"{path}: not a tuning record (a JSON object)")
    plan = plan_from({key: saved.get(key) for key in ("seeds", "final_seeds", "grid", "overrides")})
    record = select(plan, runs, Path(sweep_dir))
    saved_record = saved.get("algorithms") if isinstance(saved.get("algorithms"), dict) else {}
    for algorithm, found in record.items():
        kept = (
            saved_record.get(algorithm, {}).get("selected") if isinstance(saved_record.get(algorithm), dict) else None
        )
        if kept != found["selected"]:
            raise BenchError(
                f"{path}: its selection for {algorithm} ({kept}) does not follow from the stage-1 runs "
                f"(recomputed: {found['selected']}); run `python -m bench.tune` again"
            )
    stage2 = saved.get("stage2") if isinstance(saved.get("stage2"), dict) else {}
    entries = [entry for found in stage2.values() if isinstance(found, list) for entry in found]
    folders = {str(entry.get("path")) for entry in entries if isinstance(entry, dict)}
    return Tuned(plan, record, frozenset(folders), str(saved.get("command") or ""))


def split(tuned: Tuned, runs: Sequence[RunResult], sweep_dir: Path) -> tuple[list[RunResult], list[RunResult]]:
    """(stage-2 runs to compare, other runs to list as left out); stage-1 runs are in neither."""
    stage1 = {entry["path"] for found in tuned.record.values() for c in found["configurations"] for entry in c["runs"]}
    compared, outside = [], []
    for run in runs:
        where = relative(run, Path(sweep_dir))
        if where in tuned.stage2:
            compared.append(run)
        elif where not in stage1:
            outside.append(run)
    return compared, outside


def protocol_groups(tuned: Tuned, runs: Sequence[RunResult], sweep_dir: Path) -> dict[Group, list[RunResult]]:
    """Per algorithm, its complete stage-1 and stage-2 runs together: a selection made by other code than the
    runs it selected for would not carry over, so they must share their code like one row's runs."""
    stage1 = {entry["path"] for found in tuned.record.values() for c in found["configurations"] for entry in c["runs"]}
    groups: dict[Group, list[RunResult]] = {}
    for run in runs:
        if run.complete and relative(run, Path(sweep_dir)) in stage1 | tuned.stage2:
            groups.setdefault(Group(run.dataset, f"{run.algorithm} (tuning stages 1 and 2)"), []).append(run)
    return groups


def _configuration(configuration: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in configuration.items())


def tuning_frame(tuned: Tuned) -> pd.DataFrame:
    """tuning.csv: one row per algorithm and configuration, its grid values, runs, mean and std of the
    best validation NLL, and whether it was selected."""
    rows = []
    for algorithm, found in tuned.record.items():
        for index, configuration in enumerate(found["configurations"]):
            figures = [r["nll_valid"] for r in configuration["runs"] if r["nll_valid"] is not None]
            std = pd.Series(figures, dtype=float).std(ddof=1) if len(figures) > 1 else math.nan
            row = {"algorithm": algorithm, "configuration": _configuration(configuration["configuration"])}
            row |= {f"{algorithm}.{k}": v for k, v in configuration["configuration"].items()}
            row |= {"runs": len(configuration["runs"]), "finished": len(figures)}
            mean = configuration["mean_nll_valid"]
            row |= {"mean_nll_valid": math.nan if mean is None else mean, "std_nll_valid": std}
            rows.append(row | {"selected": index == found["selected"]})
    return pd.DataFrame(rows)


def section_lines(tuned: Tuned, table: pd.DataFrame) -> list[str]:
    """The report's tuning section: the protocol in words, then the grid with every configuration's figure."""
    plan = tuned.plan
    size = len(plan.configurations(next(iter(plan.grid))))
    stage1 = ", ".join(str(s) for s in plan.seeds)
    pinned = f" with {', '.join(code(o) for o in plan.overrides)}" if plan.overrides else ""
    lines = [
        f"## Tuning: {size} configurations per algorithm",
        "",
        f"Stage 1 ran every configuration with seeds {stage1}{pinned}; each algorithm's configuration was selected "
        "on the mean of its runs' best validation NLL (for SeqGAN, in its adversarial phase), never on the test "
        f"set; stage 2 ran the selected configuration with seeds {', '.join(str(s) for s in plan.final_seeds)}, "
        "and only those runs are compared in this report."
        + (f" Command: {code(tuned.command)}." if tuned.command else ""),
        "",
    ]
    shown = table.assign(
        selected=table["selected"].map({True: "selected", False: ""}),
        mean_nll_valid=[_cell(m, s) for m, s in zip(table["mean_nll_valid"], table["std_nll_valid"], strict=True)],
    )[["algorithm", "configuration", "runs", "finished", "mean_nll_valid", "selected"]]
    lines += [markdown_table(shown.rename(columns={"mean_nll_valid": "best NLL_valid, mean ± std"})), ""]
    return lines


def _cell(mean: float, std: float) -> str:
    if mean is None or math.isnan(mean):
        return "— (a run missing or failed)"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"
