"""What every report opens with: the command that regenerates it, where it and its runs were made.

The command is the sweep's (as Hydra recorded it in multirun.yaml; each command, rebuilt from the
runs' own records, when the folder holds runs of several; the tuning driver's; or the experiment the
folder is named after) followed by the report's own. Below it: the report's commit,
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


def run_overrides(run: RunResult) -> list[str] | None:
    """The run's command-line overrides as Hydra recorded them (`.hydra/overrides.yaml`), or None."""
    path = run.path / ".hydra" / "overrides.yaml"
    if not path.exists() and not path.is_symlink():
        return None
    try:
        saved = read_yaml(path, run.top)
    except BenchError:
        return None
    return [str(o) for o in saved] if isinstance(saved, list) else None


def sweep_commands(runs: Sequence[RunResult]) -> list[str] | None:
    """The sweep commands that made `runs`, rebuilt from each run's recorded overrides: runs whose overrides
    differ only in `seed` and `algorithm`, with one seed list, share one `python -m bench -m ... algorithm=A,B
    seed=0,1`. None when a run has no record. (Hydra's multirun.yaml keeps only the folder's last command.)"""
    by_rest: dict[tuple[str, ...], dict[str | None, set[str]]] = {}
    for run in runs:
        overrides = run_overrides(run)
        if overrides is None:
            return None
        rest = tuple(o for o in overrides if not o.startswith(("seed=", "algorithm=")))
        algorithm = next((o.split("=", 1)[1] for o in overrides if o.startswith("algorithm=")), None)
        seed = next((o.split("=", 1)[1] for o in overrides if o.startswith("seed=")), None)
        by_rest.setdefault(rest, {}).setdefault(algorithm, set()).update([seed] if seed is not None else [])
    commands = []
    for rest, seeds_by_algorithm in by_rest.items():
        by_seeds: dict[tuple[str, ...], list[str | None]] = {}
        for algorithm, seeds in seeds_by_algorithm.items():
            by_seeds.setdefault(tuple(sorted(seeds, key=_seed_order)), []).append(algorithm)
        for seeds, algorithms in by_seeds.items():
            parts = list(rest)
            named = [a for a in algorithms if a is not None]
            parts += [f"algorithm={','.join(named)}"] if named else []
            parts += [f"seed={','.join(seeds)}"] if seeds else []
            commands.append("python -m bench -m " + " ".join(shlex.quote(p) for p in parts))
    return commands


def _seed_order(seed: str) -> tuple[int, str]:
    return (int(seed), "") if seed.isdigit() else (0, seed)


def regenerate_command(
    sweep_dir: Path, report_args: Sequence[str], tuning_command: str | None = None, runs: Sequence[RunResult] = ()
) -> str:
    """The report command, preceded by the sweep's: the tuning driver's; else, when the folder's runs came from
    several commands, each of them (`sweep_commands`); else as Hydra recorded it, else the experiment the
    folder names."""
    report = "python -m bench.report " + " ".join(shlex.quote(a) for a in report_args)
    if tuning_command:
        return f"{tuning_command} && {report}"
    commands = sweep_commands(runs)
    if commands is not None and len(commands) > 1:
        return " && ".join([*commands, report])
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
