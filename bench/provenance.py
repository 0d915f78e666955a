"""Where a figure was made: the code's revision, the library versions, the machine.

Timings and even some figures depend on the CPU, the thread count, the GPU and the library
versions; a run or report that does not say where it was made cannot be compared with another.
Runs record these in metrics.json; reports and benchmarks open with them.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from bench.config.folders import checkout_root

LIBRARIES = ("torch", "hydra-core", "numpy", "pandas", "nltk", "sacrebleu", "matplotlib")
"""The libraries whose numerics or output the figures depend on (BLEU: nltk; tables: pandas; plots)."""


def _git(checkout: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=checkout, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def git_revision() -> str:
    """The commit the code ran from, with '+dirty' when it had uncommitted changes; "unknown" outside a
    git checkout of this suite (an installed wheel; a copy of the tree inside some other repository)."""
    checkout = checkout_root()
    if checkout is None:
        return "unknown"
    try:
        if Path(_git(checkout, "rev-parse", "--show-toplevel")).resolve() != checkout:
            return "unknown"
        revision = _git(checkout, "rev-parse", "HEAD")
        return revision + ("+dirty" if _git(checkout, "status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    """Python's version and each of `LIBRARIES`' ("not installed" when absent), by distribution metadata."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name.removesuffix("-core")] = version(name)
        except PackageNotFoundError:
            versions[name.removesuffix("-core")] = "not installed"
    return versions


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def gpu_description() -> str:
    """Every visible CUDA device by name, or "none"."""
    if not torch.cuda.is_available():
        return "none"
    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def machine_lines() -> list[str]:
    """Markdown bullet lines: CPU model, cores and torch threads, GPU, OS, library versions."""
    versions = ", ".join(f"{name} {number}" for name, number in library_versions().items())
    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores visible; torch threads: {torch.get_num_threads()}",
        f"- GPU: {gpu_description()}",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- libraries: {versions}",
    ]
