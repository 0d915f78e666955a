"""Shared test helpers: composing the real configs, and the optional shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from bench.schema import register_configs

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def compose_config(*overrides: str) -> DictConfig:
    """The config `python -m bench OVERRIDES...` would run with (without Hydra's own node)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or a clean skip when it is not on this machine."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is not present (optional shared data)")
    return path
