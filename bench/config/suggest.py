"""Near misses on the command line, answered with what was probably meant.

Hydra words a misspelt key as `Could not override 'algorithm.lrr'`, a key without its node
(`lr=0.1`) as a key "not in 'Config'", a `+` on a key that exists as "Could not append", a space for
an `=` (`algorithm mle`) as a parse error, and an unquoted non-ASCII value as a
`LexerNoViableAltException`. Each gets one line naming the override and what to write instead: the
closest keys of the chosen algorithm, dataset and logger (or of the node Hydra named), the override
without its `+`, `algorithm=mle`, the value in quotes.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.config.folders import override_key

GROUPS = ("algorithm", "dataset", "logger")
"""The groups whose fields come from the chosen option's config dataclass."""
_NOT_IN = re.compile(r"Key '([^']+)' not in '([^']+)'")


def dataclass_keys(config_class: type, prefix: str = "") -> list[str]:
    """Every settable dotted key of a config dataclass, nested dataclasses expanded."""
    keys = []
    hints = typing.get_type_hints(config_class)
    for item in dataclasses.fields(config_class):
        kind = hints.get(item.name)
        if dataclasses.is_dataclass(kind):
            keys += dataclass_keys(kind, f"{prefix}{item.name}.")
        else:
            keys.append(f"{prefix}{item.name}")
    return keys


def chosen(group: str, overrides: Sequence[str], config_dir: Path) -> str | None:
    """The option of `group` the command line picks (`algorithm=cot`), else config.yaml's default."""
    for override in reversed(overrides):
        if override_key(override) == group and "=" in override:
            return override.split("=", 1)[1]
    defaults = (yaml.safe_load((config_dir / "config.yaml").read_text(encoding="utf-8")) or {}).get("defaults", [])
    for entry in defaults:
        if isinstance(entry, dict) and group in entry:
            return entry[group]
    return None


def group_keys(group: str, option: str | None, config_dir: Path) -> list[str]:
    """`group.<field>` for every field of the config dataclass that `group=option` builds."""
    from bench.config.build import config_class_of, import_target

    path = config_dir / group / f"{option}.yaml"
    try:
        target = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("_target_")
        return dataclass_keys(config_class_of(import_target(str(target))), f"{group}.")
    except Exception:  # an unknown option or an odd file: no suggestion from it
        return []


def known_keys(overrides: Sequence[str], node_class: str | None = None, node: str | None = None) -> list[str]:
    """The keys a command line may set: the node Hydra named (`MLEConfig` under `algorithm`), else the
    root's fields and those of the chosen algorithm, dataset and logger."""
    from bench.config.schema import CONF_DIR, Config, shipped_schemas

    if node_class and node:
        for schemas in shipped_schemas().values():
            if node_class in schemas:
                return dataclass_keys(schemas[node_class], f"{node}.")
    keys = [key for key in dataclass_keys(Config) if key not in GROUPS]
    for group in GROUPS:
        keys += group_keys(group, chosen(group, overrides, CONF_DIR), CONF_DIR)
    return keys


def closest(key: str, keys: Sequence[str]) -> list[str]:
    """Up to three keys `key` probably meant: the same last part under another node first
    (`lr` -> `algorithm.lr`), then the nearest spellings of the whole key or of its last part."""
    last = key.rsplit(".", 1)[-1]
    same_name = [k for k in keys if k.rsplit(".", 1)[-1] == last and k != key]
    if same_name:
        return same_name[:3]
    found = difflib.get_close_matches(key, keys, n=3, cutoff=0.75)
    by_last = {k.rsplit(".", 1)[-1]: k for k in keys}
    found += [by_last[n] for n in difflib.get_close_matches(last, list(by_last), n=3, cutoff=0.6)]
    return list(dict.fromkeys(found))[:3]


def _did_you_mean(options: Sequence[str]) -> str:
    return "did you mean " + " or ".join(options) + "?" if options else ""


def unknown_key_hint(message: str, overrides: Sequence[str]) -> str:
    """`did you mean algorithm.lr?` for "Could not override 'algorithm.lrr': Key 'lrr' not in 'MLEConfig'"."""
    match = _NOT_IN.search(message)
    wanted = re.search(r"override '([^']+)'", message) or re.match(r"(?:config\.)?([\w.]+): Key", message)
    if match is None:
        return ""
    key = wanted.group(1) if wanted else match.group(1)
    node = key.rsplit(".", 1)[0] if "." in key else None
    node_class = match.group(2) if match.group(2) != "Config" else None
    keys = known_keys(overrides, node_class, node)
    under_node = [k for k in keys if node and k.startswith(f"{node}.")]
    return _did_you_mean(closest(key, under_node or keys))


def near_miss(message: str, overrides: Sequence[str]) -> str | None:
    """One line for a near miss Hydra reported as `message`, or None when this is none of them."""
    if _NOT_IN.search(message):
        hint = unknown_key_hint(message, overrides)
        return f"{message}; {hint}" if hint else None
    appended = re.search(r"Could not append to config\. An item is already at '([^']+)'", message)
    if appended:
        key = appended.group(1)
        given = next((o for o in overrides if o.startswith("+") and override_key(o) == key), f"+{key}=...")
        return f"{given}: {key} already exists, drop the '+' ({given.lstrip('+')})"
    parse = re.search(r"Error parsing override '([^']*)'", message)
    if parse and "=" not in parse.group(1):
        word = parse.group(1)
        later = list(overrides[overrides.index(word) + 1 :]) if word in overrides else []
        value = later[0] if later and "=" not in later[0] and not later[0].startswith("-") else "VALUE"
        return f"{word}: an override is key=value without spaces: write {word}={value}"
    lexer = re.search(r"LexerNoViableAltException: (.*)", message)
    if lexer:
        given = next((o for o in overrides if lexer.group(1) and o.startswith(lexer.group(1))), lexer.group(1))
        key, _, value = given.partition("=")
        if not given.isprintable():
            return f"{given!r}: a value holding a newline or another control character must be quoted ({key}='...')"
        if not given.isascii():
            return (
                f"{given}: a value with characters outside ASCII must be quoted: write \"{key}='{value}'\" "
                "(the outer double quotes keep the inner ones from the shell)"
            )
        return f"{given}: not a valid override (key=value; quote values holding spaces or symbols: key='a b')"
    return None


def unknown_option_hint(choice: str, options: Sequence[str]) -> str:
    """`; did you mean mle?` for `algorithm=mel`."""
    found = difflib.get_close_matches(choice, list(options), n=3, cutoff=0.6)
    return f"; {_did_you_mean(found)}" if found else ""
