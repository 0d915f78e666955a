"""The machine and software a figure was measured on, as lines every report and benchmark opens with.

Timings and even some figures depend on the CPU, the thread count, the GPU and the library
versions; a report that does not say where it was made cannot be compared with another.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


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


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries whose numerics or output the figures depend on."""
    import hydra
    import numpy
    import pandas

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    versions |= {"pandas": pandas.__version__, "hydra": hydra.__version__}
    for name in ("matplotlib", "nltk", "sacrebleu"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            continue
    return versions


def machine_lines() -> list[str]:
    """Markdown bullet lines: CPU model, cores and torch threads, GPU, OS, library versions."""
    versions = ", ".join(f"{name} {version}" for name, version in library_versions().items())
    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores visible; torch threads: {torch.get_num_threads()}",
        f"- GPU: {gpu_description()}",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- libraries: {versions}",
    ]
