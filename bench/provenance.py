"""Where a figure was made: the code that computed it, the library versions, the machine.

Timings and even some figures depend on the CPU, its instruction set, the thread count, the GPU
and the library versions; a run or report that does not say where it was made cannot be compared
with another. Runs record these in metrics.json; reports and benchmarks open with them.

The code is identified twice: by its git revision (with `dirty` when the checkout has uncommitted
or untracked changes), and by a fingerprint of the source that computes figures (`FIGURE_CODE`),
tracked or not, committed or not, so that a run continued or re-run under other code is caught even
without git (an installed wheel) and a report never averages runs made by different code.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from bench.config.folders import PACKAGE_PARENT, checkout_root

LIBRARIES = ("torch", "hydra-core", "numpy", "pandas", "nltk", "sacrebleu", "matplotlib")
"""The libraries whose numerics or output the figures depend on (BLEU: nltk; tables: pandas; plots)."""


def _git(checkout: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=checkout, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


FIGURE_CODE = (
    "models",
    "algorithms",
    "metrics",
    "bench/datasets",
    "bench/evaluation",
    "bench/training",
    "bench/config",
)
"""The source folders whose code computes figures (the model, the update rules, the metrics, the data,
the evaluation, the loop and the config): their Python files make the code fingerprint."""


def git_state() -> tuple[str, bool | None]:
    """(commit, dirty) of the checkout the code runs from: dirty when tracked files changed or files
    git does not ignore were added. ("unknown", None) outside a git checkout of this suite (an
    installed wheel; a copy of the tree inside some other repository)."""
    checkout = checkout_root()
    if checkout is None:
        return "unknown", None
    try:
        if Path(_git(checkout, "rev-parse", "--show-toplevel")).resolve() != checkout:
            return "unknown", None
        return _git(checkout, "rev-parse", "HEAD"), bool(_git(checkout, "status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def git_revision() -> str:
    """The commit the code ran from, with '+dirty' when the checkout had changes (untracked files too)."""
    revision, dirty = git_state()
    return revision + ("+dirty" if dirty else "")


def code_files() -> dict[str, str]:
    """sha256 of every Python file of `FIGURE_CODE`, by its path relative to the source root."""
    files = {}
    for folder in FIGURE_CODE:
        for path in sorted((PACKAGE_PARENT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[path.relative_to(PACKAGE_PARENT).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def code_fingerprint(files: dict[str, str]) -> str:
    """One sha256 over the (path, file hash) pairs: equal iff every figure-computing file is equal."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\n".encode())
    return digest.hexdigest()


def changed_files(saved: dict[str, str], current: dict[str, str]) -> list[str]:
    """The files that differ between two `code_files()` records (changed, added or removed), sorted."""
    return sorted(name for name in set(saved) | set(current) if saved.get(name) != current.get(name))


def code_record() -> dict[str, object]:
    """What metrics.json and a checkpoint say about the code: revision, dirty, fingerprint and files."""
    revision, dirty = git_state()
    files = code_files()
    return {"revision": revision, "dirty": dirty, "fingerprint": code_fingerprint(files), "files": files}


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


VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "neon", "asimd")
"""Instruction-set extensions that change which kernels torch runs (and so the last bits of a figure)."""


def cpu_flags() -> list[str]:
    """The `VECTOR_FLAGS` this CPU has, from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in VECTOR_FLAGS if flag in present]
    except OSError:
        pass
    return []


def machine_record() -> dict[str, object]:
    """What metrics.json says about the machine: CPU model, instruction set, cores, torch threads, GPU."""
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        capability = "unknown"
    return {
        "cpu": cpu_model(),
        "cpu_capability": capability,
        "cpu_flags": cpu_flags(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu_description(),
    }


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
