"""`python -m bench.tune experiment=NAME [overrides]`: an equal tuning budget, then the tuned comparison.

Stage 1 runs every configuration of each algorithm's grid (the experiment's `tuning` section,
bench/tune/plan.py) with the tuning seeds, as ordinary multiruns into the experiment's sweep folder;
each algorithm's configuration is selected on validation NLL alone and written, with every
configuration's figure, to `tuning.json` there; stage 2 runs the selected configurations with fresh
seeds. Re-running the command resumes: complete runs are kept, unfinished ones continue, and the
selection follows from the stage-1 runs on disk. Then `python -m bench.report outputs/sweeps/NAME`
reports the stage-2 runs and prints the grid and the selection.

Other overrides (`train.steps=...`, `eval.n_samples=...`) reach both stages; `tuning.*` overrides
change the plan. Ctrl-C or SIGTERM is passed on to the running stage, which saves and stops; the
command then exits 130 or 143, and running it again resumes.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config.folders import override_key, sweep_name
from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.report.runs import collect
from bench.tune.plan import TUNING_FILE, TuningPlan, matches, plan_from, relative, select, stage_overrides

RESERVED = ("experiment", "algorithm", "seed", "hydra.sweep.dir")
"""Overrides the driver sets itself for each stage."""


def _value_of(overrides: Sequence[str], key: str) -> str | None:
    for override in overrides:
        if override_key(override) == key:
            return override.split("=", 1)[1]
    return None


def sweep_folder(overrides: Sequence[str], experiment: str, sweep: str | None) -> Path:
    """Where both stages write: `hydra.sweep.dir=` when given, else outputs/sweeps/<sweep or experiment>."""
    given = _value_of(overrides, "hydra.sweep.dir")
    return Path(given) if given else Path("outputs") / "sweeps" / sweep_name(sweep, experiment, None)


class Stage:
    """Runs one multirun as a child process in its own process group: a signal to this command reaches it
    (and its sweep workers) once, through here, so it saves and stops instead of being killed."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.process: subprocess.Popen | None = None

    def _forward(self, signum: int, frame: object) -> None:
        self.received = self.received or signum
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def run(self, command: list[str]) -> int:
        print("$ " + shlex.join(["python", *command[1:]]), file=sys.stderr, flush=True)
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.process = subprocess.Popen(command, start_new_session=True)
            return self.process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _write(path: Path, record: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=False) + "\n")


def plan_and_folder(overrides: Sequence[str]) -> tuple[str, TuningPlan, Path]:
    """The experiment, its checked plan and its sweep folder, from the command line."""
    from bench.cli import one_line
    from bench.config.schema import compose_config

    experiment = _value_of(overrides, "experiment")
    if not experiment:
        raise BenchError("experiment=NAME: required (an experiment file with a tuning section)")
    for override in overrides:
        if override_key(override) in ("algorithm", "seed"):
            raise BenchError(f"{override}: the tuning plan sets algorithms and seeds (change tuning.* instead)")
    try:
        config = compose_config(list(overrides))
    except (HydraException, OmegaConfBaseException, ValueError, KeyError) as error:
        raise BenchError(one_line(error)) from None
    plan = plan_from(OmegaConf.to_container(config.get("tuning"), resolve=True) if config.get("tuning") else None)
    return experiment, plan, sweep_folder(overrides, experiment, config.get("sweep"))


def main(argv: Sequence[str] | None = None) -> int:
    """Both stages; one line and exit 2 on bad input, 130/143 when interrupted (run it again to resume)."""
    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in overrides):
        print(__doc__)
        return 0
    try:
        return _tune(overrides)
    except BenchError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2


def _tune(overrides: list[str]) -> int:
    experiment, plan, folder = plan_and_folder(overrides)
    passed = [o for o in overrides if override_key(o) not in RESERVED and not override_key(o).startswith("tuning")]
    base = [sys.executable, "-m", "bench", "-m", f"experiment={experiment}", *passed, f"hydra.sweep.dir={folder}"]
    stage = Stage()
    for algorithm in plan.grid:
        status = stage.run(base + stage_overrides(plan, algorithm, plan.seeds, None) + list(plan.overrides))
        if stage.received is not None or status in (130, 143):
            return _interrupted(stage, status)
    record = select(plan, collect(folder), folder)
    tuning = {
        "experiment": experiment,
        "command": shlex.join(["python", "-m", "bench.tune", *overrides]),
        "selection_figure": "nll_valid",
        "seeds": list(plan.seeds),
        "final_seeds": list(plan.final_seeds),
        "overrides": list(plan.overrides),
        "grid": {algorithm: {k: list(v) for k, v in axes.items()} for algorithm, axes in plan.grid.items()},
        "algorithms": record,
        "stage2": {},
    }
    _write(folder / TUNING_FILE, tuning)
    unselected = [algorithm for algorithm, found in record.items() if found["selected"] is None]
    if unselected:
        raise BenchError(
            f"stage 1: no configuration of {', '.join(unselected)} has a validation NLL on every tuning seed "
            f"(runs missing or failed: {folder / TUNING_FILE}); fix the cause and run the same command again"
        )
    for algorithm, found in record.items():
        chosen = found["configurations"][found["selected"]]["configuration"]
        print(f"selected for {algorithm}: {chosen}", file=sys.stderr, flush=True)
        stage.run(base + stage_overrides(plan, algorithm, plan.final_seeds, chosen))
        if stage.received is not None:
            break
    runs = collect(folder)
    for algorithm, found in record.items():
        chosen = found["configurations"][found["selected"]]["configuration"]
        members = [run for run in runs if matches(run, algorithm, chosen, plan.final_seeds)]
        tuning["stage2"][algorithm] = [
            {"path": relative(r, folder), "seed": r.seed, "status": r.status} for r in members
        ]
    _write(folder / TUNING_FILE, tuning)
    if stage.received is not None:
        return _interrupted(stage, 128 + stage.received)
    unfinished = [r["path"] for runs_ in tuning["stage2"].values() for r in runs_ if r["status"] != "complete"]
    expected = len(plan.final_seeds) * len(plan.grid)
    if unfinished or sum(len(r) for r in tuning["stage2"].values()) < expected:
        print(f"error: stage 2 is not complete ({len(unfinished)} run(s) unfinished); run it again", file=sys.stderr)
        return 2
    print(f"tuned: {folder / TUNING_FILE}; report: python -m bench.report {shlex.quote(str(folder))}")
    return 0


def _interrupted(stage: Stage, status: int) -> int:
    signum = stage.received or (status - 128)
    print(f"interrupted by {signal.Signals(signum).name}; run the same command to resume", file=sys.stderr)
    return 128 + signum
