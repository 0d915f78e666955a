"""Device choice and seeding: the one place where a run's randomness is set up."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

from bench.errors import BenchError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"device={name}: CUDA is not available on this machine (use device=cpu or auto)")
    return torch.device(name)


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed every global RNG (dropout uses torch's) and return the run's own sampling stream."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator(device=device).manual_seed(seed)


def derived_seed(seed: int, *salt: int) -> int:
    """A seed for a side stream (e.g. evaluation at a given step) that never touches the run's stream."""
    digest = hashlib.sha256(repr((seed, *salt)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
