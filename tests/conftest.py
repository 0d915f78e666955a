"""Shared test helpers: composing the real configs, running the command line, small models, the data root.

Reference data (the canonical oracle, COCO files) are found where the suite finds them: under
$COTBENCH_DATA when it is set, else under ../shared/data beside the repository; tests that need
them skip cleanly when they are absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from omegaconf import DictConfig

from bench.config.folders import DATA_ENV
from bench.config.schema import CONF_DIR, EvalConfig
from bench.config.schema import compose_config as compose_root_config
from bench.config.spec import RunSpec
from bench.config.spec import compose_spec as compose_run_spec
from bench.datasets.base import Dataset
from bench.evaluation.evaluator import Evaluator
from bench.evaluation.synthetic import SyntheticFigures, SyntheticFiguresConfig
from bench.evaluation.text import TextFigures, TextFiguresConfig
from models import Generator, GeneratorConfig, SequenceSpace
from tests.plotted import Plot, read_plot

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get(DATA_ENV) or REPO_ROOT.parent / "shared" / "data").expanduser()
SHARED_DATA = DATA_ROOT  # the name older tests use

TINY_RUN = ("dataset=synthetic_tiny", "train.steps=60", "eval.every=20", "eval.n_samples=300", "progress=false")
"""A run of a few seconds on the exhaustively enumerable space (8^5 sequences)."""

SMALL_SPACE = SequenceSpace(vocab_size=6, seq_len=4, start_token=0)
TEXT_SPACE = SequenceSpace(vocab_size=7, seq_len=6, start_token=1, eos_token=2, pad_token=0)
"""A text-like space: EOS ends a sentence, PAD fills the rest."""

__all__ = ["CONF_DIR", "DATA_ROOT", "REPO_ROOT", "SHARED_DATA", "TEXT_SPACE", "TINY_RUN"]


def compose_config(*overrides: str) -> DictConfig:
    """The config `python -m bench OVERRIDES...` would run with (without Hydra's own node)."""
    return compose_root_config(overrides)


def compose_spec(*overrides: str) -> RunSpec:
    """The resolved run `python -m bench OVERRIDES...` would train."""
    return compose_run_spec(overrides)


def shared_file(*parts: str) -> Path:
    """A file under the data root ($COTBENCH_DATA, else ../shared/data), or a clean skip without it."""
    path = DATA_ROOT.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is not present (optional reference data; set {DATA_ENV})")
    return path


def make_generator(space: SequenceSpace = SMALL_SPACE, seed: int = 0, init_std: float = 1.0) -> Generator:
    """A small generator (8 units) over `space`, initialised from `seed`."""
    torch.manual_seed(seed)
    return Generator(space, GeneratorConfig(emb_dim=8, hidden_dim=8, init_std=init_std))


ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The environment that keeps a subprocess's math libraries to one thread, as the tests' own process."""


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """One torch thread for the whole session: the networks here are tiny, and on a machine shared with
    other work a second thread only adds synchronisation (and spinning) to every test."""
    torch.set_num_threads(1)


def largest_change(network: torch.nn.Module, update: Callable[[], object]) -> float:
    """The largest change `update()` makes to any parameter of `network`.

    Adam's first step moves every parameter whose gradient is not ~0 by exactly the learning rate
    (its bias-corrected m / sqrt(v) is g / |g| = ±1), so this reads off the rate an update really used.
    """
    before = [parameter.detach().clone() for parameter in network.parameters()]
    update()
    return max(
        (after.detach() - old).abs().max().item() for after, old in zip(network.parameters(), before, strict=True)
    )


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of every subprocess a test starts: this checkout importable, one thread, no full
    tracebacks. `extra` overrides any of it (PYTHONPATH too)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **ONE_THREAD, **extra}
    if "HYDRA_FULL_ERROR" not in extra:
        env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_cli(*overrides: str, run_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m bench OVERRIDES` in a subprocess (for what the process boundary itself decides),
    bounded by its overrides' steps, never by a clock."""
    where = [f"hydra.run.dir={run_dir}"] if run_dir is not None else []
    command = [sys.executable, "-m", "bench", *overrides, *where]
    return subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)


class CliResult(NamedTuple):
    status: int
    out: str
    err: str


@pytest.fixture
def cli_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Call the `cotbench` entry point in this process: exit status, stdout and stderr for the arguments."""
    from bench.__main__ import cli

    def call(*arguments: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["cotbench", *arguments])
        monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # cli() sets it to 1 for Hydra; restored afterwards
        capsys.readouterr()
        try:
            cli()
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return call


def evaluator_for(dataset: Dataset, config: EvalConfig | None = None, seed: int = 0) -> Evaluator:
    """An evaluator on the CPU with the figures of the dataset's kind (the default `figures` of its config file)."""
    cpu = torch.device("cpu")
    if dataset.kind == "synthetic":
        figures = SyntheticFigures(SyntheticFiguresConfig(), dataset, cpu)
    else:
        figures = TextFigures(TextFiguresConfig(), dataset, cpu)
    return Evaluator(config or EvalConfig(), dataset, seed, cpu, figures)


@pytest.fixture
def plots_saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, Plot]:
    """Every figure the report saves from now on, by file stem name: its data, read off the matplotlib
    Figure just before the real `save_figure` writes the files."""
    from bench.report import plots, temperature

    saved: dict[str, Plot] = {}
    write = plots.save_figure

    def save_figure(figure, stem: Path) -> list[Path]:
        saved[stem.name] = read_plot(figure, stem)
        return write(figure, stem)

    monkeypatch.setattr(plots, "save_figure", save_figure)
    monkeypatch.setattr(temperature, "save_figure", save_figure)
    return saved
