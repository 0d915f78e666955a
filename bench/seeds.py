"""Seeding: the one place where a run's randomness is set up, and side streams that never touch it."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed every global RNG (dropout uses torch's) and return the run's own sampling stream."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator(device=device).manual_seed(seed)


RUN_STREAM = 1
"""Salt of the run's sampling stream when it is re-seeded on resume: derived_seed(seed, step, RUN_STREAM)
never equals an evaluation's derived_seed(seed, step)."""
CUDA_GLOBAL_STREAM = 2
"""Salt of torch's global CUDA stream (dropout) when it is re-seeded on resume."""


def derived_seed(seed: int, *salt: int) -> int:
    """A seed for a side stream (e.g. evaluation at a given step) that never touches the run's stream."""
    digest = hashlib.sha256(repr((seed, *salt)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
