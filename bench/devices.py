"""Which device a run, report or benchmark uses, and how it computes there.

One vocabulary of device names and one check of them: `auto` picks CUDA when present; asking for
CUDA without it is an error naming the value, never a silent CPU run. On a machine with several
GPUs, `auto` (or `cuda`) puts each process on a GPU with a free job slot (`bench.gpu_slots`), so
parallel jobs spread over the GPUs. `execution_mode` sets what makes CUDA reproducible (or fast).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from bench.errors import BenchError
from bench.gpu_slots import gpu_for_this_process

DEVICES = "auto, cpu, cuda or cuda:N"
"""The device names every entry point accepts, as its errors word them."""
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS's deterministic workspace setting (CUBLAS_WORKSPACE_CONFIG), as PyTorch's reproducibility notes give it."""


def check_device_name(name: str, option: str = "device") -> None:
    """Refuse a name outside `DEVICES` with one line naming the option and the value (`device=gpu`)."""
    if not DEVICE_PATTERN.fullmatch(str(name)):
        raise BenchError(f"{option}={name}: must be {DEVICES}")


def resolve_device(name: str, option: str = "device", jobs_per_gpu: int | None = None) -> torch.device:
    """The torch device for a checked name; CUDA asked for on a machine without it is an error.

    With `jobs_per_gpu`, `auto` and `cuda` on a machine with several GPUs take a job slot
    (`bench.gpu_slots`): this process then runs on that GPU, which also becomes its current device.
    """
    check_device_name(name, option)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"{option}={name}: CUDA is not available on this machine (use cpu or auto)")
    if name == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if name in ("auto", "cuda") and jobs_per_gpu and torch.cuda.device_count() > 1:
        index = gpu_for_this_process(jobs_per_gpu)
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cuda" if name == "auto" else name)


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


def local_jobs(jobs_per_gpu: int) -> int:
    """Parallel jobs of `hydra/launcher=local` on this machine (`jobs_for` its visible GPUs)."""
    return jobs_for(jobs_per_gpu, torch.cuda.device_count() if torch.cuda.is_available() else 0)


def jobs_for(jobs_per_gpu: int, gpus: int) -> int:
    """`jobs_per_gpu` jobs on each of `gpus` GPUs; 2 on a machine without one (each with one torch thread)."""
    return max(1, jobs_per_gpu) * gpus if gpus else 2


# ----- how a run computes on its device -------------------------------------------------------------
@contextmanager
def execution_mode(device: torch.device, deterministic: bool) -> Iterator[None]:
    """Run the block reproducibly (`deterministic`) or with PyTorch's faster defaults; restore afterwards.

    Deterministic: `torch.use_deterministic_algorithms(True)` (an operation without a deterministic
    kernel raises instead of running; the suite's own sampler and losses have deterministic forms for
    the ones it needs); on CUDA also cuBLAS's fixed workspace, cuDNN's deterministic algorithms
    without benchmarking, and TensorFloat-32 off in matrix products, convolutions and the LSTM. Then
    the same config and seed give the same numbers on the same GPU. On a CPU every kernel the suite
    uses is deterministic already: the numbers are the same either way. The NaN fill of new tensors
    that deterministic mode adds (a debugging aid against reading uninitialised memory, which the
    suite never does) stays off: it would cost one extra pass over every tensor allocated.
    """
    saved = _settings()
    try:
        torch.use_deterministic_algorithms(deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = False
        if device.type == "cuda" and deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
            _set_tf32(False)
        yield
    finally:
        _restore(saved)


def execution_record(device: torch.device, deterministic: bool, cuda_graphs: bool) -> dict[str, Any]:
    """What metrics.json says about how the run computed (beside the device)."""
    record: dict[str, Any] = {"deterministic": deterministic, "cuda_graphs": cuda_graphs}
    if device.type == "cuda":
        record["tf32"] = "off" if deterministic else "PyTorch's default"
        record["cublas_workspace_config"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    return record


TF32_SWITCHES = ("cuda.matmul", "cudnn.conv", "cudnn.rnn")
"""Where TensorFloat-32 is allowed or not (torch.backends.<switch>.fp32_precision, torch >= 2.9)."""


def _switch(name: str) -> Any:
    group, _, part = name.partition(".")
    return getattr(getattr(torch.backends, group), part)


def _set_tf32(allowed: bool) -> None:
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        for name in TF32_SWITCHES:
            _switch(name).fp32_precision = "tf32" if allowed else "ieee"
    else:  # torch before 2.9: the older switches (never mixed with the newer ones: torch refuses that)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed


def _settings() -> dict[str, Any]:
    settings = {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "fill": torch.utils.deterministic.fill_uninitialized_memory,
        "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
    }
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        settings["tf32"] = {name: _switch(name).fp32_precision for name in TF32_SWITCHES}
    else:
        settings["tf32"] = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    return settings


def _restore(settings: dict[str, Any]) -> None:
    torch.use_deterministic_algorithms(settings["deterministic"], warn_only=settings["warn_only"])
    torch.utils.deterministic.fill_uninitialized_memory = settings["fill"]
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = settings["cudnn"]
    if isinstance(settings["tf32"], dict):
        for name, precision in settings["tf32"].items():
            _switch(name).fp32_precision = precision
    else:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = settings["tf32"]
