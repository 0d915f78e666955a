"""What a run checkpoint must hold before a run continues from it: the shape of every part, and weights
that are finite.

A checkpoint is read back from a file that anything may have touched (a crash, a copy, a hand). Used
as it is, a `loop.step` of -5 would be resumed and end "complete", NaN weights would be trained on and
later called the last good checkpoint, and a missing key would surface as `KeyError: 'wall_s'`
halfway through restoring. `run_checkpoint_problem` names the first thing that is wrong, in words,
before any part of the checkpoint is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _loop_problem(loop: dict[str, Any]) -> str | None:
    """The loop state: a whole step, clocks that are finite and not negative, loss sums and counts."""
    if not _whole(loop.get("step")):
        return f"loop.step={loop.get('step')!r} (must be a whole number >= 0)"
    for key in ("wall_s", "train_s", "train_cpu_s"):
        if (key in loop or key == "wall_s") and not _seconds(loop.get(key)):
            return f"loop.{key}={loop.get(key)!r} (must be a number of seconds >= 0)"
    if "sequences" in loop and not _whole(loop["sequences"]):
        return f"loop.sequences={loop['sequences']!r} (must be a whole number >= 0)"
    if not isinstance(loop.get("pending_phase"), str | None):
        return f"loop.pending_phase={loop.get('pending_phase')!r} (must be a phase name or null)"
    sums, counts = loop.get("loss_sums"), loop.get("loss_counts")
    if not isinstance(sums, dict) or not isinstance(counts, dict):
        return "loop.loss_sums and loop.loss_counts must be mappings"
    for name, value in sums.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return f"loop.loss_sums.{name}={value!r} (must be a finite number)"
    for name, value in counts.items():
        if not _whole(value):
            return f"loop.loss_counts.{name}={value!r} (must be a whole number >= 0)"
    return None


def _history_problem(history: Any, step: int) -> str | None:
    """One row per evaluation, each a mapping whose step is a whole number no later than the loop's."""
    if not isinstance(history, list):
        return f"history is a {type(history).__name__} (must be a list of rows)"
    for index, row in enumerate(history):
        if not isinstance(row, dict) or not _whole(row.get("step")):
            shown = row.get("step") if isinstance(row, dict) else row
            return f"history[{index}].step={shown!r} (must be a whole number >= 0)"
        if row["step"] > step:
            return f"history[{index}].step={row['step']} is after loop.step={step}"
    return None


def tensors(node: Any, where: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a nested state (mappings and lists), with its dotted place."""
    if isinstance(node, torch.Tensor):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from tensors(value, f"{where}.{key}")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from tensors(value, f"{where}[{index}]")


def non_finite(state: Any, where: str) -> str | None:
    """The place of the first floating-point tensor holding NaN or infinity, or None."""
    for place, tensor in tensors(state, where):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return place
    return None


def run_checkpoint_problem(saved: dict[str, Any]) -> str | None:
    """What is wrong with a run checkpoint (`bench.training.checkpoint.run_payload`), in words, or None."""
    kinds = {"config": dict, "code": dict, "identity": dict, "algorithm": dict, "rng": dict, "loop": dict}
    kinds |= {"final": dict, "curves": dict}
    for key, kind in kinds.items():
        if not isinstance(saved.get(key), kind):
            return f"{key} is a {type(saved.get(key)).__name__} (must be a mapping)"
    if not isinstance(saved["code"].get("fingerprint"), str) or not isinstance(saved["code"].get("files"), dict):
        return "code must hold a fingerprint and its files"
    for stream in ("run", "torch"):
        state = saved["rng"].get(stream)
        if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8:
            return f"rng.{stream} is not a random generator's state"
    problem = _loop_problem(saved["loop"]) or _history_problem(saved["history"], saved["loop"]["step"])
    if problem:
        return problem
    for name, rows in saved["curves"].items():
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return f"curves.{name} must be a list of rows"
    place = non_finite(saved["algorithm"], "algorithm")
    return f"{place} holds NaN or infinite values (the weights diverged or were damaged)" if place else None
