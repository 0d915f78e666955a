"""Turn a config node with a `_target_` into a validated config dataclass and the object it names.

No registry: the `_target_` names the class (an algorithm, a tracker, a figures kind) or builder
function (a dataset), and that target declares its own config dataclass (`config_class`, or the
builder's first annotation). Unknown keys, wrong types and out-of-range values all become one-line
`BenchError`s.

A config read back from a file (a run's config.yaml, a checkpoint) is data, never code: before
anything it names is imported, `check_saved_targets` admits only the exact targets the suite's own
config files name, or ones the user trusts by name. One check for every reader (API, resume, report).
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.errors import BenchError

INT64_MAX = 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite float32: a config float beyond it overflows the moment torch uses it."""
NODE_ONLY_KEYS = ("_target_", "figures")
"""Keys a node may carry beside its dataclass's fields (validated apart)."""
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def import_target(target: str, where: str = "_target_") -> Callable[..., Any]:
    """The class or function a dotted `_target_` names (a one-line error when it cannot be imported)."""
    try:
        return get_object(target)
    except Exception:
        raise BenchError(f"{where}={target}: cannot be imported") from None


def resolve_target(node: DictConfig, group: str) -> Callable[..., Any]:
    """The class or function named by `node._target_`."""
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    if not target:
        raise BenchError(f"{group}: has no _target_ naming the class or function to build")
    return import_target(str(target), f"{group}._target_")


def config_class_of(target: Callable[..., Any]) -> type:
    """The dataclass that configures `target`: `target.config_class` or its first parameter's type."""
    if hasattr(target, "config_class"):
        return target.config_class
    first = next(iter(inspect.signature(target).parameters))
    return typing.get_type_hints(target)[first]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def validated(node: DictConfig | dict, schema: type, group: str) -> Any:
    """Merge `node` into `schema`'s structured config and instantiate it (which runs its checks).

    The node-only keys (`NODE_ONLY_KEYS`) are left out unless `schema` has them as fields.
    """
    skipped = set(NODE_ONLY_KEYS) - {item.name for item in fields(schema)}
    try:
        values = {key: node[key] for key in node if key not in skipped}
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
        check_magnitudes(merged, group)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        where = f"{group}.{key}" if key else group
        raise BenchError(f"{where}: {_first_line(error)}") from None
    except (ValueError, OverflowError) as error:
        raise BenchError(_first_line(error)) from None


def check_magnitudes(node: Any, where: str) -> None:
    """Refuse a number no computation can hold, before any range check meets it: an integer beyond
    64 bits (`eval.every=1e30` as an integer) or a float beyond float32 (`algorithm.lr=1e300`), naming
    the field. The root `seed` has its own range (up to 2**64 - 1) and is left to it."""
    mapping = isinstance(node, dict | DictConfig)
    for key, value in node.items() if mapping else enumerate(node):
        name = (f"{where}.{key}" if where != "config" else str(key)) if mapping else f"{where}[{key}]"
        if name == "seed":
            continue
        if isinstance(value, DictConfig | ListConfig | dict | list):
            check_magnitudes(value, name)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
            raise ValueError(f"{name}={value}: must be at most {INT64_MAX} in magnitude (a 64-bit integer)")
        elif isinstance(value, float) and math.isfinite(value) and abs(value) > FLOAT32_MAX:
            raise ValueError(
                f"{name}={value:g}: must be at most {FLOAT32_MAX:.4g} in magnitude (torch computes in float32)"
            )


def build(node: DictConfig, group: str, *args: Any) -> Any:
    """Validate `node` against its target's config dataclass, then call the target with it."""
    target = resolve_target(node, group)
    config = validated(node, config_class_of(target), group)
    return call_target(target, config, group, *args)


def call_target(target: Callable[..., Any], config: Any, group: str, *args: Any) -> Any:
    """`target(config, *args)`, a ValueError (a combination the config alone could not rule out) as one line."""
    try:
        return target(config, *args)
    except BenchError:
        raise
    except ValueError as error:
        raise BenchError(f"{group}: {_first_line(error)}") from None


# ----- configs read back from files ---------------------------------------------------------------
@cache
def shipped_targets(config_dir: Path | None = None) -> frozenset[str]:
    """Every `_target_` value the suite's own config files name (read as YAML, nothing imported)."""
    from bench.config.schema import CONF_DIR

    found: set[str] = set()
    for path in (config_dir or CONF_DIR).rglob("*.yaml"):
        try:
            found |= {target for _, target in targets_in(yaml.safe_load(path.read_text(encoding="utf-8")))}
        except yaml.YAMLError:
            continue
    return frozenset(found)


def targets_in(node: Any, where: str = "") -> Iterable[tuple[str, str]]:
    """Every (key path, `_target_` value) in a loaded config container."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield path, str(value)
            else:
                yield from targets_in(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from targets_in(value, f"{where}[{index}]")


def check_saved_targets(container: Any, source: str | Path, trusted: Sequence[str] = ()) -> None:
    """Refuse a saved config naming a `_target_` that is neither shipped nor trusted by its exact name.

    `source` names the file in the message; `trusted` are exact targets the user vouches for
    (the report's `--allow-target`, or the current run's own targets on resume).
    """
    allowed = shipped_targets() | set(trusted)
    for key, target in targets_in(container):
        if not _DOTTED.fullmatch(target) or target not in allowed:
            raise BenchError(
                f"{source}: {key}={target} is not a target the suite ships; refusing to import it "
                "(name it with --allow-target if you trust it)"
            )
