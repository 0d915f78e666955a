"""How much memory a run will need, estimated from its shapes before its networks exist, and the
check that refuses a run which cannot fit (`memory_check=false` skips it).

An out-of-memory kill gives no warning and leaves no reason: `model.hidden_dim=8000` under a 1.5 GB
limit dies as the networks are allocated, its metrics.json still saying `running`. So once the data
are read (a text vocabulary is only known then) and before anything else is allocated, the run's peak
is estimated from its shapes and compared with the memory left: the cgroup's limit (a container, a
cluster job, systemd) or MemAvailable, whichever is less; on a CUDA device, the device's free memory.

The estimate is an order of magnitude, deliberately on the generous side of what is known:
- every network the algorithm builds (the generator; CoT's mediator, `m_width` times wider; Nested
  CoT's second mediator, `m2_width`; SeqGAN's discriminator, from its `d_*` sizes), each with its
  gradients and two Adam moments per optimiser (SeqGAN has two for the generator);
- a training step's activations: per position of a batch, the embedding and the LSTM's gates and
  states, plus one chunk of output logits with their softmax and gradient;
- an evaluation: every sample's tokens and log-probabilities, and a chunk of logits while sampling.
What the process holds already (the interpreter, torch, the data) is not counted: it is not free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError
from models import GeneratorConfig, SequenceSpace

FLOAT = 4
"""Bytes per parameter and activation (float32)."""
TOKEN = 8
"""Bytes per stored token id (int64)."""
LOGIT_CHUNK_ROWS = 8192
"""Positions whose logits one step holds at once (the CPU's chunked backward holds fewer)."""
BATCH_FIELDS = ("batch_size", "g_batch_size", "pg_batch_size", "d_batch_size")
"""An algorithm config's batch sizes, whichever it has: the largest sets a step's activations."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 2**60
"""A cgroup limit at or above this means none (cgroup v1 writes 2^63 rounded to a page)."""


class MemoryCheckError(BenchError):
    """The run's estimated peak memory exceeds the memory available to it."""


@dataclass(frozen=True)
class Estimate:
    """Bytes the run will allocate, by part."""

    networks: int
    training: int
    evaluation: int

    @property
    def total(self) -> int:
        return self.networks + self.training + self.evaluation


def lstm_parameters(space: SequenceSpace, emb_dim: int, hidden_dim: int) -> int:
    """Parameters of one generator-shaped LSTM language model: embedding, gates, output layer."""
    vocab = space.vocab_size
    return vocab * emb_dim + 4 * hidden_dim * (emb_dim + hidden_dim + 2) + hidden_dim * vocab + vocab


def discriminator_parameters(config: Any, space: SequenceSpace) -> int:
    """SeqGAN's CNN: embedding, one convolution per filter size, a highway layer, the output layer."""
    filters = list(zip(config.d_filter_sizes, config.d_num_filters, strict=False))
    features = sum(count for size, count in filters if size <= space.seq_len)
    convolutions = sum(count * (size * config.d_emb_dim + 1) for size, count in filters if size <= space.seq_len)
    return space.vocab_size * config.d_emb_dim + convolutions + 2 * features * (features + 1) + 2 * (features + 1)


def lstm_shapes(model: GeneratorConfig, algorithm: Any) -> list[tuple[int, int]]:
    """(emb_dim, hidden_dim) of every LSTM the algorithm trains: the generator and any mediators."""
    shapes = [(model.emb_dim, model.hidden_dim)]
    for width_field in ("m_width", "m2_width"):
        width = getattr(algorithm, width_field, None)
        if isinstance(width, int):
            shapes.append((model.emb_dim * width, model.hidden_dim * width))
    return shapes


def estimate(model: GeneratorConfig, algorithm: Any, space: SequenceSpace, n_samples: int, chunked: bool) -> Estimate:
    """The peak bytes of a run with these shapes (`chunked`: logits in chunks, as on a CPU)."""
    shapes = lstm_shapes(model, algorithm)
    generator_optimisers = 2 if hasattr(algorithm, "pg_batch_size") else 1  # SeqGAN: pretraining and PG Adam
    networks = 0
    for index, (emb, hidden) in enumerate(shapes):
        optimisers = generator_optimisers if index == 0 else 1
        networks += lstm_parameters(space, emb, hidden) * (2 + 2 * optimisers)  # weights, gradients, Adam moments
    if hasattr(algorithm, "d_emb_dim"):
        networks += discriminator_parameters(algorithm, space) * 4
    if getattr(algorithm, "rollout_update_rate", 0):
        networks += lstm_parameters(space, model.emb_dim, model.hidden_dim)  # the delayed rollout copy
    networks *= FLOAT

    batch = max(
        int(getattr(algorithm, name, 0) or 0)
        for name in ("batch_size", "g_batch_size", "pg_batch_size", "d_batch_size")
    )
    rollouts = int(getattr(algorithm, "n_rollouts", 1) or 1)
    positions = max(batch, 1) * space.seq_len
    states = sum(positions * (emb + 6 * hidden) for emb, hidden in shapes)
    logit_rows = min(positions * rollouts, LOGIT_CHUNK_ROWS) if chunked else positions * rollouts
    training = (states + 3 * logit_rows * space.vocab_size) * FLOAT

    sampled = n_samples * space.seq_len * (TOKEN + 2 * FLOAT)
    evaluation = sampled + 3 * min(n_samples * space.seq_len, LOGIT_CHUNK_ROWS) * space.vocab_size * FLOAT
    return Estimate(networks, training, evaluation)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def _cgroup_folders() -> list[tuple[Path, str, str]]:
    """(folder, limit file, usage file) for this process's memory cgroup and its ancestors, v2 and v1."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            root, limit, usage = CGROUP_ROOT, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            root, limit, usage = CGROUP_ROOT / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        parts = [part for part in path.split("/") if part]
        found += [(root.joinpath(*parts[:depth]), limit, usage) for depth in range(len(parts), -1, -1)]
    return found


def available_memory() -> tuple[int, str] | None:
    """(bytes, where the figure comes from) of memory this process may still allocate, or None if unknown."""
    candidates = []
    for folder, limit_file, usage_file in _cgroup_folders():
        limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
        if limit is not None and usage is not None and limit < UNLIMITED:
            candidates.append((max(limit - usage, 0), f"cgroup limit {limit / 2**30:.2f} GiB ({folder})"))
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append((int(line.split()[1]) * 1024, "MemAvailable"))
    except (OSError, ValueError, IndexError):
        pass
    return min(candidates) if candidates else None


def device_memory(device: torch.device) -> tuple[int, str] | None:
    """Free memory where the run's tensors live: the CUDA device's, else the machine's (or cgroup's)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free, f"free on {device}"
    return available_memory()


def check_memory(
    model: GeneratorConfig,
    algorithm: Any,
    space: SequenceSpace,
    n_samples: int,
    device: torch.device,
    available: tuple[int, str] | None = None,
) -> Estimate:
    """Refuse, naming the estimate and what is available, a run that cannot fit; return the estimate.

    `available` defaults to what the device and the process's limits leave (`device_memory`).
    """
    needed = estimate(model, algorithm, space, n_samples, chunked=device.type == "cpu")
    available = available if available is not None else device_memory(device)
    if available is not None and needed.total > available[0]:
        parts = f"networks {gib(needed.networks)}, training {gib(needed.training)}, evaluation {gib(needed.evaluation)}"
        raise MemoryCheckError(
            f"this run needs about {gib(needed.total)} of memory ({parts}) but {gib(available[0])} is available "
            f"({available[1]}); use smaller shapes (model.hidden_dim, eval.n_samples, batch sizes), "
            "or memory_check=false to try anyway"
        )
    return needed


def gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
