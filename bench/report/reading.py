"""Reading a results folder that may come from anyone: regular files only, bounded, never through a link
out of the folder, YAML without aliases, saved configs without interpolations.

A FIFO named metrics.json would block a reader forever; a symbolic link would carry an outside file
(a key, a secret) into the report; a YAML alias bomb grows to gigabytes in memory; a `${oc.env:...}`
in a saved config would put an environment variable into the report's text. Every file the report
reads from a sweep folder goes through here, and every problem is one line naming the file.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench.errors import BenchError
from bench.report.escape import one_line

MiB = 1 << 20
LIMITS = {"json": 16 * MiB, "yaml": 4 * MiB, "csv": 256 * MiB, "model": 4096 * MiB}
"""The largest file of each kind the report reads (metrics.json with every code file's hash is ~10 KiB,
history.csv of 10,000 evaluations ~5 MiB, a model a few MiB): beyond, the file is refused."""


def _inside(path: Path, root: Path) -> None:
    """Refuse a path whose real location (links resolved) is outside `root`."""
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    if real != top and top not in real.parents:
        raise BenchError(f"{path}: a symbolic link out of the sweep folder ({top}); not followed")


def check_file(path: Path, root: Path, kind: str) -> int:
    """The size of `path` once it is known to be a regular file inside `root`, not a link, within `LIMITS[kind]`."""
    _inside(path, root)
    try:
        info = os.lstat(path)
    except OSError as error:
        raise BenchError(f"{path}: unreadable ({error.strerror or error})") from None
    return _check_stat(path, info, kind)


def _check_stat(path: Path, info: os.stat_result, kind: str) -> int:
    if stat.S_ISLNK(info.st_mode):
        raise BenchError(f"{path}: a symbolic link; not followed")
    if not stat.S_ISREG(info.st_mode):
        raise BenchError(f"{path}: not a regular file (a FIFO, device or folder); not read")
    if info.st_size > LIMITS[kind]:
        raise BenchError(f"{path}: {info.st_size:,} bytes, more than the {LIMITS[kind]:,} a report reads")
    return info.st_size


def read_bytes(path: Path, root: Path, kind: str) -> bytes:
    """The bytes of a regular file inside `root`, at most `LIMITS[kind]` (opened without following a link
    and without blocking, so a FIFO planted in its place is refused instead of waited on)."""
    _inside(path, root)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise BenchError(f"{path}: unreadable ({error.strerror or error})") from None
    try:
        _check_stat(path, os.fstat(handle), kind)
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read(LIMITS[kind] + 1)
    except OSError as error:
        raise BenchError(f"{path}: unreadable ({error.strerror or error})") from None
    finally:
        os.close(handle)
    if len(data) > LIMITS[kind]:
        raise BenchError(f"{path}: grew beyond the {LIMITS[kind]:,} bytes a report reads")
    return data


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BenchError(f"{path}: not UTF-8 text (byte {error.start})") from None


def read_json(path: Path, root: Path) -> Any:
    """A JSON file, parsed (deep nesting and bad syntax are one line, not a RecursionError)."""
    text = _text(path, read_bytes(path, root, "json"))
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise BenchError(f"{path}: not JSON ({one_line(str(error)[:200] or type(error).__name__)})") from None


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML that refuses aliases: the suite never writes them, and they are how a bomb multiplies."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: holds a YAML alias, which saved files never do")
        return super().compose_node(parent, index)


def read_yaml(path: Path, root: Path) -> Any:
    """A YAML file, safe-loaded without aliases."""
    text = _text(path, read_bytes(path, root, "yaml"))
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BenchError(f"{path}: unreadable ({one_line(first)})") from None


def refuse_interpolations(node: Any, path: Path, prefix: str = "") -> None:
    """Saved configs are resolved when written: a `${...}` in one is never evaluated (it could read the
    environment, `${oc.env:...}`), and is refused naming its key."""
    if isinstance(node, dict):
        for key, value in node.items():
            refuse_interpolations(value, path, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            refuse_interpolations(value, path, f"{prefix}[{index}]")
    elif isinstance(node, str) and "${" in node:
        raise BenchError(
            f"{path}: {one_line(prefix)} holds an interpolation; saved configs are resolved, not evaluated"
        )


def read_csv(path: Path, root: Path) -> pd.DataFrame:
    """A CSV file as a DataFrame (empty or malformed: one line)."""
    data = read_bytes(path, root, "csv")
    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0] if str(error) else "empty"
        raise BenchError(f"{path}: unreadable ({one_line(first)})") from None
