"""What every report opens with: the command that regenerates it, the commit, the date and the machine."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from bench.machine import machine_lines
from bench.records import REPO_ROOT, git_revision

CONF_DIR = REPO_ROOT / "conf"


def regenerate_command(sweep_dir: Path, report_args: Sequence[str]) -> str:
    """The report command, preceded by the sweep's when the folder is named after an experiment file."""
    report = "python -m bench.report " + " ".join(shlex.quote(a) for a in report_args)
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
