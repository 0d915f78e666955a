"""Job slots on the GPUs of one machine, so that parallel jobs spread over them.

`hydra/launcher=local` runs `jobs_per_gpu` x GPUs worker processes (conf/hydra/launcher/local.yaml).
Each process, when its first run asks for `auto` or `cuda`, takes the first free slot (GPU 0 slot 0,
GPU 1 slot 0, ..., then each GPU's slot 1, ...) and keeps it for its lifetime: a slot is a lock
file (`flock`), released by the operating system when the process ends, however it ends. So every
GPU always carries `jobs_per_gpu` workers, whichever jobs finish first; a job number mapped to a
GPU would crowd one GPU when its jobs happen to be the long ones. Two commands on one machine share
the slots (the lock files are per user, named by each GPU's UUID); a process that finds none free
runs on the GPU its process id picks, and says so in the log.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

SLOTS_DIR = Path(tempfile.gettempdir()) / f"cotbench-gpu-slots-{os.getuid()}"


@dataclass
class Slot:
    """A GPU index and the lock file that holds its slot open (None: no slot was free)."""

    gpu: int
    lock: IO[bytes] | None


_held: Slot | None = None
"""This process's slot: a process holds at most one, for as long as it lives."""


def gpu_for_this_process(jobs_per_gpu: int) -> int:
    """The index of the GPU this process runs on, taking a slot the first time it is asked."""
    global _held
    if _held is None:
        _held = claim_slot(gpu_names(), jobs_per_gpu, SLOTS_DIR)
    return _held.gpu


def gpu_names() -> list[str]:
    """Each visible GPU's UUID (the same physical GPU has the same name in every process)."""
    import torch

    return [str(getattr(torch.cuda.get_device_properties(i), "uuid", i)) for i in range(torch.cuda.device_count())]


def claim_slot(gpus: list[str], jobs_per_gpu: int, folder: Path) -> Slot:
    """The first free slot, GPUs taken in turn before any GPU's next slot; without one, a GPU by process id."""
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(max(1, jobs_per_gpu)):
        for index, name in enumerate(gpus):
            lock = open(folder / f"{name}.slot{slot}", "wb")  # held open for the process's life
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            return Slot(index, lock)
    index = os.getpid() % len(gpus)
    log.info("every GPU already runs %d jobs of cotbench: this one shares GPU %d", jobs_per_gpu, index)
    return Slot(index, None)
