"""The config groups `--help` lists: every option of each group with the first sentence of its file.

Read from the config files themselves (conf/<group>/*.yaml), so a new file is listed the moment it
exists; the internal `schema/` groups are left out and the launchers (conf/hydra/launcher/, beside
Hydra's own `basic`) are in. conf/config.yaml's `hydra.help.template` shows the result through the
resolver `cotbench.help_groups`.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

HELP_GROUPS = ("algorithm", "dataset", "experiment", "logger", "hydra/launcher")
BUILT_IN = {"hydra/launcher": {"basic": "one run after another in this process (Hydra's own launcher)"}}
"""Options Hydra itself provides that `--help` lists beside the suite's own files."""
WIDTH = 72
"""The longest description shown."""


def description(path: Path) -> str:
    """The first sentence of the file's leading comment (after any `# @package` line), shortened."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text.startswith("@package"):
            lines.append(text)
    text = re.sub(r"\s*\([^()]*\)", "", " ".join(lines))  # parentheticals left out
    sentence = re.split(r"(?<=[.:;])\s|Fields", text, maxsplit=1)[0].rstrip(".:;, ")
    return sentence if len(sentence) <= WIDTH else sentence[: WIDTH - 1].rstrip() + "…"


def group_defaults(config_dir: Path) -> dict[str, str]:
    """The option config.yaml picks for each group (`algorithm: mle`), and Hydra's `basic` launcher."""
    defaults = (yaml.safe_load((config_dir / "config.yaml").read_text(encoding="utf-8")) or {}).get("defaults", [])
    chosen = {"hydra/launcher": "basic"}
    for entry in defaults:
        if isinstance(entry, dict):
            chosen |= {str(key): str(value) for key, value in entry.items()}
    return chosen


def help_groups(config_dir: Path | None = None) -> str:
    """Every group's options, one per line: `  group  option *  description` (* marks the default)."""
    from bench.config.schema import CONF_DIR

    config_dir = config_dir or CONF_DIR
    defaults = group_defaults(config_dir)
    rows: list[tuple[str, str, str]] = []
    for group in HELP_GROUPS:
        options = {path.stem: description(path) for path in sorted((config_dir / group).glob("*.yaml"))}
        options |= BUILT_IN.get(group, {})
        for index, (option, text) in enumerate(sorted(options.items())):
            marked = f"{option} *" if defaults.get(group) == option else option
            rows.append((group if index == 0 else "", marked, text))
    group_width = max(len(row[0]) for row in rows) + 2
    option_width = max(len(row[1]) for row in rows) + 2
    return "\n".join(f"  {g:<{group_width}}{o:<{option_width}}{t}".rstrip() for g, o, t in rows)
