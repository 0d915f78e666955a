"""What every report opens with: the command that regenerates it, the commit, the date and the machine."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.config.schema import CONF_DIR
from bench.provenance import git_revision, machine_lines


def sweep_overrides(sweep_dir: Path) -> list[str] | None:
    """The command-line overrides of the sweep, from the multirun.yaml Hydra leaves in its folder."""
    try:
        saved = OmegaConf.to_container(OmegaConf.load(sweep_dir / "multirun.yaml"), resolve=False)
        overrides = saved["hydra"]["overrides"]["task"]
    except (OSError, KeyError, TypeError, ValueError, OmegaConfBaseException):
        return None
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


def regenerate_command(sweep_dir: Path, report_args: Sequence[str]) -> str:
    """The report command, preceded by the sweep's: as Hydra recorded it, else the experiment the folder names."""
    report = "python -m bench.report " + " ".join(shlex.quote(a) for a in report_args)
    overrides = sweep_overrides(sweep_dir)
    if overrides is not None:
        return f"python -m bench -m {' '.join(shlex.quote(o) for o in overrides)} && {report}"
    experiment = sweep_dir.resolve().name
    if (CONF_DIR / "experiment" / f"{experiment}.yaml").is_file():
        return f"python -m bench experiment={experiment} && {report}"
    return report


def header_lines(command: str) -> list[str]:
    """Markdown lines: command, commit, date (UTC) and the machine, with library versions."""
    return [
        f"Regenerate with `{command}`.",
        "",
        f"- commit: {git_revision()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *machine_lines(),
        "",
    ]
