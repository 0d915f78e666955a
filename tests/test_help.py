"""`--help` says what the suite is and how to use it; a near miss on the command line gets told what
was probably meant, in one line, exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.config.help import help_groups
from tests.conftest import CONF_DIR

TINY = ("dataset=synthetic_tiny", "train.steps=2", "eval.every=2", "eval.n_samples=50", "progress=false")


def test_help_shows_the_suite_the_main_job_five_examples_and_every_group_with_its_options(cli_in_process) -> None:
    status, out, _ = cli_in_process("--help")
    assert status == 0
    assert out.startswith("cotbench: a benchmark of discrete sequence generators")
    assert "python -m bench experiment=quick_synthetic" in out and "python -m bench.report" in out  # the main job
    examples = out.split("Examples:")[1].split("Groups")[0]
    assert len(re.findall(r"^  python -m bench ", examples, flags=re.MULTILINE)) >= 5
    groups = out.split("Groups")[1]
    for group in ("algorithm", "dataset", "experiment", "logger"):
        options = sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))
        for option in options:
            assert re.search(rf"^\s+(?:{re.escape(group)}\s+)?{option}\b", groups, flags=re.MULTILINE), (group, option)
    assert re.search(r"^  hydra/launcher\s+basic \*", groups, flags=re.MULTILINE)  # the launchers too
    assert re.search(r"^\s+local\s", groups, flags=re.MULTILINE) and re.search(r"^\s+slurm\s", groups, flags=re.M)
    assert "schema/" not in out and "SyntheticConfig" not in out  # the internal groups are not options
    assert re.search(r"^  algorithm\s+cot\s+Cooperative Training", groups, flags=re.MULTILINE)  # its file says what
    assert re.search(r"mle \*", groups)  # the default marked


def test_a_new_config_file_is_listed_with_the_first_sentence_of_its_comment(tmp_path: Path) -> None:
    for group in ("algorithm", "dataset", "experiment", "logger", "hydra/launcher"):
        (tmp_path / group).mkdir(parents=True)
    (tmp_path / "config.yaml").write_text("defaults:\n  - algorithm: plain\n")
    (tmp_path / "algorithm" / "plain.yaml").write_text("# A plain update (no tricks). More words here.\nlr: 1\n")
    (tmp_path / "algorithm" / "fancy.yaml").write_text("# @package _global_\n# Fancy: with tricks\n")
    listing = help_groups(tmp_path).splitlines()
    assert listing[0].split() == ["algorithm", "fancy", "Fancy"]
    assert listing[1].split() == ["plain", "*", "A", "plain", "update"]
    assert listing[2].split()[:2] == ["hydra/launcher", "basic"]


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["algorithm.lrr=0.1"],
            "Could not override 'algorithm.lrr': Key 'lrr' not in 'MLEConfig'; did you mean algorithm.lr?",
        ),
        (["lr=0.1"], "Could not override 'lr': Key 'lr' not in 'Config'; did you mean algorithm.lr?"),
        (["algorithm=cot", "lr=0.1"], "did you mean algorithm.m_lr or algorithm.g_lr?"),
        (["eval.evry=3"], "Key 'evry' not in 'EvalConfig'; did you mean eval.every?"),
        (["batchsize=3"], "did you mean algorithm.batch_size?"),
        (["+lr=0.1"], "config.lr: Key 'lr' not in 'Config'; did you mean algorithm.lr?"),
        (["+algorithm.lr=0.1"], "+algorithm.lr=0.1: algorithm.lr already exists, drop the '+' (algorithm.lr=0.1)"),
        (["algorithm", "mle"], "algorithm: an override is key=value without spaces: write algorithm=mle"),
        (["algorithm=mel"], "algorithm=mel: unknown algorithm (available: cot, "),
        (["algorithm=mel"], "; did you mean mle?"),
        # an unquoted value outside ASCII: Hydra's lexer says only LexerNoViableAltException
        (
            ["sweep=données"],
            "sweep=données: a value with characters outside ASCII must be quoted: write \"sweep='données'\"",
        ),
        (["sweep=a\nb"], "'sweep=a\\nb': a value holding a newline or another control character must be quoted"),
    ],
)
def test_a_near_miss_says_what_was_probably_meant(
    tmp_path: Path, cli_in_process, arguments: list[str], line: str
) -> None:
    status, _, err = cli_in_process(*TINY, *arguments, f"hydra.run.dir={tmp_path / 'run'}")
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert line in err
    assert not (tmp_path / "run").exists()


def test_a_quoted_value_outside_ascii_is_taken_as_it_is(tmp_path: Path, cli_in_process) -> None:
    sweep = tmp_path / "sweeps"
    status, out, err = cli_in_process("-m", *TINY, "sweep='données'", f"hydra.sweep.dir={sweep}/${{sweep}}")
    assert status == 0, err
    assert (sweep / "données" / "sweep_summary.md").is_file()
