"""What every report opens with: the command that regenerates it, where it and its runs were made.

The command is the sweep's (as Hydra recorded it in multirun.yaml, or the tuning driver's, or the
experiment the folder is named after) followed by the report's own. Below it: the report's commit,
date and machine, then the runs' own code (revisions, clean or dirty, fingerprints) and machines
(CPU, instruction set, torch threads, GPU) with how many runs each (bench/report/traceability.py).
Every string from the sweep folder is shown in a code span, inert.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.config.schema import CONF_DIR
from bench.errors import BenchError
from bench.provenance import git_revision, machine_lines
from bench.report.escape import code
from bench.report.reading import read_yaml
from bench.report.runs import RunResult
from bench.report.traceability import code_lines
from bench.report.traceability import machine_lines as run_machine_lines

MULTIRUN = "multirun.yaml"


def _multirun(sweep_dir: Path) -> dict[str, Any] | None:
    path = Path(sweep_dir) / MULTIRUN
    if not path.exists() and not path.is_symlink():
        return None
    try:
        saved = read_yaml(path, sweep_dir)
    except BenchError:
        return None  # a damaged record only costs the report its regenerating command
    return saved if isinstance(saved, dict) else None


def _select(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def sweep_overrides(sweep_dir: Path) -> list[str] | None:
    """The command-line overrides of the sweep, from the multirun.yaml Hydra leaves in its folder."""
    overrides = _select(_multirun(sweep_dir), "hydra", "overrides", "task")
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


def _seed_list(value: Any) -> list[int] | None:
    parts = str(value).split(",")
    return [int(p) for p in parts] if all(p.strip().isdigit() for p in parts) else None


def swept_seeds(sweep_dir: Path) -> list[int] | None:
    """The seeds the sweep was asked for (`seed=0,1,2` on its command line, else its sweeper's `seed`
    parameter), or None when the record does not say (or says it in a form other than a list)."""
    for override in sweep_overrides(sweep_dir) or []:
        if override.startswith("seed="):
            return _seed_list(override.split("=", 1)[1])
    params = _select(_multirun(sweep_dir), "hydra", "sweeper", "params")
    return _seed_list(params["seed"]) if isinstance(params, dict) and "seed" in params else None


def regenerate_command(sweep_dir: Path, report_args: Sequence[str], tuning_command: str | None = None) -> str:
    """The report command, preceded by the sweep's: the tuning driver's, else as Hydra recorded it, else the
    experiment the folder names."""
    report = "python -m bench.report " + " ".join(shlex.quote(a) for a in report_args)
    if tuning_command:
        return f"{tuning_command} && {report}"
    overrides = sweep_overrides(sweep_dir)
    if overrides is not None:
        return f"python -m bench -m {' '.join(shlex.quote(o) for o in overrides)} && {report}"
    experiment = Path(sweep_dir).resolve().name
    if (CONF_DIR / "experiment" / f"{experiment}.yaml").is_file():
        return f"python -m bench experiment={experiment} && {report}"
    return report


def header_lines(
    command: str, revision: str | None = None, runs: Sequence[RunResult] = (), allow_dirty: bool = False
) -> list[str]:
    """Markdown lines: command, the report's commit (`revision`, else read now) and date, the runs' code and
    machines, this machine."""
    return [
        f"Regenerate with {code(command)}.",
        "",
        f"- report made by commit: {code(revision or git_revision())}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *code_lines(runs, allow_dirty),
        *run_machine_lines(runs),
        "- the report's machine:",
        *[f"  {line}" for line in machine_lines()],
        "",
    ]
