"""Every bad input ends as one line naming the value and what is allowed, with no run marked complete.

The command-line cases call the `cotbench` entry point in this process (exit status 2, one line on
stderr, no traceback); the rest call `run()` directly, where the same one-line `BenchError` is what
the command prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.training.run import run
from tests.conftest import TINY_RUN, compose_spec

TINY = (*TINY_RUN[:1], "train.steps=20", "eval.every=10", "eval.n_samples=200", "progress=false")


def not_complete(run_dir: Path) -> bool:
    metrics = run_dir / "metrics.json"
    return not metrics.exists() or json.loads(metrics.read_text())["status"] != "complete"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["algorithm=nope"], "algorithm=nope: unknown algorithm (available: "),
        (["dataset=nope"], "dataset=nope: unknown dataset (available: coco, emnlp_news, synthetic"),
        (["hydra/launcher=nope"], "hydra/launcher=nope: unknown launcher (available: "),
        (["seed=abc"], "seed=abc: Value 'abc' of type 'str' could not be converted to Integer"),
        (["algorithm.batch_size=abc"], "algorithm.batch_size=abc: Value 'abc' of type 'str' could not be converted"),
        (["algorithm.lr=-0.5"], "algorithm.lr=-0.5: must be > 0"),
        (["device=tpu"], "device='tpu': must be auto, cpu, cuda or cuda:N"),
        (["eval.temperature=0"], "eval.temperature=0.0: must be a finite number > 0"),
        (["nokey=3"], "Could not override 'nokey': Key 'nokey' not in 'Config'"),
        # a misspelt experiment is an error listing the available ones, not a default run
        (["experiment=smok"], "experiment=smok: unknown experiment (available: long_synthetic, mid_ablations, "),
        # a field of the chosen algorithm's dataclass is known without a `+`; a typo is not
        (["algorithm=seqgan", "algorithm.d_lr=-1"], "algorithm.d_lr=-1.0: must be > 0"),
        (["algorithm=seqgan", "algorithm.d_epoch=3"], "Could not override 'algorithm.d_epoch'"),
    ],
)
def test_command_line_bad_input_is_one_line_exit_2(
    tmp_path: Path, cli_in_process, overrides: list[str], message: str
) -> None:
    status, _, stderr = cli_in_process(*TINY, *overrides, f"hydra.run.dir={tmp_path}")
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: "), stderr
    assert message in stderr and "Traceback" not in stderr
    assert not_complete(tmp_path)


def test_unwritable_output_directory_is_one_line(tmp_path: Path, cli_in_process) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, _, stderr = cli_in_process(*TINY, f"hydra.run.dir={blocker}/run")
    assert status == 2
    assert stderr.strip() == f"error: {blocker}/run: Not a directory"


def test_full_traceback_on_request(tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.__main__ import cli

    monkeypatch.setattr("sys.argv", ["cotbench", *TINY, "algorithm.lr=-1", f"hydra.run.dir={tmp_path}"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(BenchError, match="algorithm.lr=-1.0: must be > 0"):  # raised, so Python prints its traceback
        cli()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["eval.temperature=-1"], "eval.temperature=-1.0: must be a finite number > 0"),
        (["train.steps=0"], "train.steps=0: must be a positive integer"),
        (["eval.every=0"], "eval.every=0: must be a positive integer"),
        (["eval.n_samples=1"], "eval.n_samples=1: must be at least 2"),
        (["model.hidden_dim=0"], "model.emb_dim=32, model.hidden_dim=0: must be positive"),
        (["algorithm.grad_clip=-1"], "algorithm.grad_clip=-1.0: must be >= 0"),
        (["+algorithm.lrr=0.1"], "algorithm.lrr: Key 'lrr' not in 'MLEConfig'"),
        # NaN and infinity are refused in every float field, naming it
        (["algorithm=cot", "algorithm.g_lr=inf"], "algorithm.g_lr=inf: must be a finite number"),
        (["algorithm=cot", "algorithm.m_lr=inf"], "algorithm.m_lr=inf: must be a finite number"),
        (["algorithm=cot", "algorithm.betas=[0.9,nan]"], "algorithm.betas=[0.9, nan]: must be a finite number"),
        (["algorithm=seqgan", "algorithm.g_lr=inf"], "algorithm.g_lr=inf: must be a finite number"),
        (["algorithm=seqgan", "algorithm.grad_clip=nan"], "algorithm.grad_clip=nan: must be a finite number"),
        (["algorithm=seqgan", "algorithm.d_l2=nan"], "algorithm.d_l2=nan: must be a finite number"),
        (["algorithm.lr=inf"], "algorithm.lr=inf: must be a finite number"),
        (["model.init_std=inf"], "model.init_std=inf: must be a finite number"),
        (["eval.temperature=nan"], "eval.temperature=nan: must be a finite number"),
        (["dataset.vocab_size=1"], "dataset.vocab_size=1: must be at least 2"),
        (["dataset=coco", "dataset.max_vocab=3"], "dataset.max_vocab=3: must exceed the 4 special tokens"),
        (["dataset=coco", "dataset.tokenizer=spacy"], "dataset.tokenizer='spacy': must be one of treebank"),
        (["dataset.n_train=0"], "dataset.n_train=0: must be a positive integer"),
        (["dataset.n_train=10"], "algorithm: batch_size=64 exceeds the 10 training sequences"),
        (["resume=sometimes"], "resume='sometimes': must be auto or never"),
        (["threads=-1"], "threads=-1: must be between 0 (torch's default) and"),
        (["algorithm._target_=algorithms.nope.Nope"], "algorithm._target_=algorithms.nope.Nope: cannot be imported"),
        (["dataset.oracle_path=/no/such/oracle.pkl"], "dataset.oracle_path=/no/such/oracle.pkl: no such file"),
    ],
)
def test_bad_value_is_one_line_naming_it(tmp_path: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(BenchError) as raised:
        run(compose_spec(*TINY, *overrides), tmp_path)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not_complete(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x80\x04garbage", "not a readable pickle"),
        (b"\x00\x01\x02\x03binary", "not a readable pickle"),
    ],
)
def test_empty_or_corrupt_oracle_file(tmp_path: Path, content: bytes, message: str) -> None:
    oracle = tmp_path / "oracle.pkl"
    oracle.write_bytes(content)
    with pytest.raises(BenchError, match=message) as raised:
        run(compose_spec(*TINY, "dataset=synthetic", f"dataset.oracle_path={oracle}"), tmp_path / "run")
    assert "\n" not in str(raised.value)
    assert not_complete(tmp_path / "run")
