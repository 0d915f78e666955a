"""Which device a run, report or benchmark uses: one vocabulary of device names and one check of them.

`auto` picks CUDA when present; asking for CUDA without it is an error naming the value, never a
silent CPU run.
"""

from __future__ import annotations

import os
import re

import torch

from bench.errors import BenchError

DEVICES = "auto, cpu, cuda or cuda:N"
"""The device names every entry point accepts, as its errors word them."""
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device_name(name: str, option: str = "device") -> None:
    """Refuse a name outside `DEVICES` with one line naming the option and the value (`device=gpu`)."""
    if not DEVICE_PATTERN.fullmatch(str(name)):
        raise BenchError(f"{option}={name}: must be {DEVICES}")


def resolve_device(name: str, option: str = "device") -> torch.device:
    """The torch device for a checked name; CUDA asked for on a machine without it is an error."""
    check_device_name(name, option)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"{option}={name}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


def visible_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def use_threads(threads: int) -> None:
    """Run torch's CPU work on `threads` threads (0: leave torch's own default)."""
    if threads:
        torch.set_num_threads(threads)
