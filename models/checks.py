"""Range checks shared by every config dataclass, each failing with one line that names the field.

NaN and infinity are refused in every float field before anything else: a NaN slips through most
range tests (`nan < 0` is False), and a config holding one could never be compared with itself
when a run resumes (`nan != nan`).
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, float)]
    return []


def check_finite(config: Any, group: str) -> None:
    """Refuse a NaN or infinite number in any field of the dataclass `config` (lists included)."""
    for item in fields(config):
        value = getattr(config, item.name)
        if any(not math.isfinite(number) for number in _floats(value)):
            shown = list(value) if isinstance(value, tuple) else value
            raise ValueError(f"{group}.{item.name}={shown}: must be a finite number")


def check_at_least(config: Any, group: str, minimum: int, *names: str, allowed: str | None = None) -> None:
    """Refuse a field below `minimum`; `allowed` words what is allowed when the default wording does not."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            wording = "must be at least 1" if minimum == 1 else f"must be >= {minimum}"
            raise ValueError(f"{group}.{name}={value}: {allowed or wording}")


def check_positive(config: Any, group: str, *names: str) -> None:
    """Refuse a field that is not a number > 0."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ValueError(f"{group}.{name}={value}: must be > 0")
