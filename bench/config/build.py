"""Turn a config node with a `_target_` into a validated config dataclass and the object it names.

No registry: the `_target_` names the class (an algorithm) or builder function (a dataset), and
that target declares its own config dataclass (`config_class`, or the builder's first annotation).
Unknown keys, wrong types and out-of-range values all become one-line `BenchError`s.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.errors import BenchError

NODE_KEYS = ("_target_", "name")
"""Keys a config node may carry beside its dataclass's fields: the target, and an algorithm's name."""


def resolve_target(node: DictConfig, group: str) -> Callable[..., Any]:
    """The class or function named by `node._target_`."""
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    if not target:
        raise BenchError(f"{group}: has no _target_ naming the class or function to build")
    try:
        return get_object(target)
    except Exception:
        raise BenchError(f"{group}._target_={target}: cannot be imported") from None


def config_class_of(target: Callable[..., Any]) -> type:
    """The dataclass that configures `target`: `target.config_class` or its first parameter's type."""
    if hasattr(target, "config_class"):
        return target.config_class
    first = next(iter(inspect.signature(target).parameters))
    return typing.get_type_hints(target)[first]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def validated(node: DictConfig, schema: type, group: str) -> Any:
    """Merge `node` into `schema`'s structured config and instantiate it (which runs its checks).

    The node-only keys (`NODE_KEYS`) are left out unless `schema` has them as fields.
    """
    skipped = set(NODE_KEYS) - {item.name for item in fields(schema)}
    try:
        values = {key: node[key] for key in node if key not in skipped} if isinstance(node, DictConfig) else node
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        where = f"{group}.{key}" if key else group
        raise BenchError(f"{where}: {_first_line(error)}") from None
    except ValueError as error:
        raise BenchError(_first_line(error)) from None


def build(node: DictConfig, group: str, *args: Any) -> Any:
    """Validate `node` against its target's config dataclass, then call the target with it."""
    target = resolve_target(node, group)
    config = validated(node, config_class_of(target), group)
    try:
        return target(config, *args)
    except BenchError:
        raise
    except ValueError as error:  # a combination the config alone could not rule out (e.g. batch > data)
        raise BenchError(f"{group}: {_first_line(error)}") from None
