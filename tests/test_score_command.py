"""`cotbench-score FILE --dataset NAME`: a run's own samples.txt scores the run's own figures; the table
and the JSON keys; one-line errors with exit status 2 and nothing written for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.api import load_run
from bench.datasets.samples_file import read_sample_lines
from bench.evaluation.text import TextFigures
from bench.score import main, score_samples, text_datasets
from bench.training.run import run
from tests.conftest import REPO_ROOT, cli_env, compose_spec, shared_file
from tests.test_lm_score import grammar_corpus

KEYS = (
    *(f"bleu{n}" for n in (2, 3, 4, 5)),
    *(f"self_bleu{n}" for n in (2, 3, 4, 5)),
    "sacrebleu",
    *(f"distinct{n}" for n in (1, 2, 3, 4)),
    "lm_score",
    "reverse_lm_score",
)


@pytest.fixture(scope="module")
def grammar_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short MLE run on the grammar corpus with the LM figures on (a recipe of seconds)."""
    folder = tmp_path_factory.mktemp("grammar_run")
    grammar_corpus(folder / "data", n_train=200)
    spec = compose_spec(
        "dataset=coco",
        f"dataset.data_dir={folder / 'data'}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
        "dataset.warn_min_sentences=0",
        "+dataset.figures.lm_scores=true",
        "+dataset.figures.lm_recipe.emb_dim=8",
        "+dataset.figures.lm_recipe.hidden_dim=8",
        "+dataset.figures.lm_recipe.max_epochs=5",
        f"+dataset.figures.judge_dir={folder / 'judges'}",
        "algorithm.batch_size=16",
        "train.steps=30",
        "eval.every=30",
        "eval.n_samples=200",
        "progress=false",
    )
    run(spec, folder / "run")
    return folder / "run"


def test_a_runs_samples_file_scores_the_runs_own_figures(grammar_run: Path) -> None:
    final = json.loads((grammar_run / "metrics.json").read_text())["final"]
    loaded = load_run(grammar_run)
    assert isinstance(loaded.kind_figures, TextFigures)
    file = read_sample_lines(grammar_run / "samples.txt").tokenized(loaded.dataset)
    scores = score_samples(file, loaded.dataset, loaded.kind_figures)
    for name in (*KEYS, "n_samples", "lm_judge_nll_test", "no_eos_share"):
        assert scores[name] == pytest.approx(final[name], abs=1e-9), name  # the same samples, the same figures
    blank = (grammar_run / "samples.txt").read_text().splitlines().count("")
    assert scores["samples_unk_share"] == 0.0 and scores["empty_samples"] == blank and scores["n_references"] == 200
    assert 0 < scores["no_eos_share"] < 1  # some samples ran to max_len: scored as the run scored them
    assert scores["lm_judge"]["source"].endswith(".pt")  # the run's judge, read from its cache
    assert scores["samples"]["sha256"] and scores["data"]["test"]["sha256"]


def coco_samples(tmp_path: Path, lines: list[str], name: str = "samples.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_the_command_prints_a_table_and_writes_every_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = shared_file("coco", "image_coco.txt").parent
    samples = coco_samples(tmp_path, folder.joinpath("test_coco.txt").read_text().splitlines()[:300] + [""])
    out = tmp_path / "out" / "scores.json"
    status = main([str(samples), "--dataset", "coco", "--no-lm", "--json", str(out), "--data-dir", str(folder)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    scores = json.loads(out.read_text())
    assert set(KEYS) <= scores.keys() and scores["lm_score"] is None and scores["reverse_lm_score"] is None
    assert scores["n_samples"] == 301 and scores["empty_samples"] == 1 and scores["n_references"] == 10_000
    assert scores["sacrebleu_signature"].startswith("nrefs:10000|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert scores["bleu2"] == pytest.approx(300 / 301) and 0 < scores["distinct4"] <= 1  # references, and one empty
    assert 0 < scores["samples_unk_share"] < 0.1  # test words unseen in training: BLEU reads them, LMs cannot
    assert "blank line(s), scored as empty samples" in captured.err
    lines = captured.out.splitlines()
    assert lines[0] == f"{samples}: 301 samples against the coco test split"
    assert any(line.startswith("BLEU-5 ") for line in lines) and any("distinct-4" in line for line in lines)
    assert any(line.startswith("LM score (nats/token)") and "not computed (--no-lm)" in line for line in lines)


def _one_line_error(status: int, err: str, tmp_path: Path) -> str:
    lines = err.strip().splitlines()
    assert status == 2 and lines and lines[-1].startswith("error: "), err
    assert not (tmp_path / "scores.json").exists()  # nothing half-written
    return lines[-1]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no-such.txt: no such file"),
        ("empty", "empty.txt: empty (no non-blank line)"),
        ("blank", "blank.txt: empty (no non-blank line)"),
        ("latin1", "latin1.txt: not UTF-8 text (byte 0xe9 at offset 9)"),
        ("binary", "binary.txt: not a text file (it contains NUL bytes)"),
        ("single", "single.txt: 1 sample; self-BLEU needs at least 2"),
        ("dataset", "--dataset synthetic: unknown text dataset (available: coco, emnlp_news)"),
    ],
)
def test_bad_input_before_any_work_is_one_line_exit_2(tmp_path: Path, capsys, kind: str, message: str) -> None:
    files = {
        "missing": None,
        "empty": b"",
        "blank": b"\n \n\n",
        "latin1": "a caf\u00e9 .\na dog .\n".encode("latin-1").replace(b"a caf", b"a the caf"),
        "binary": b"a dog\x00\n",
        "single": b"a dog .\n",
        "dataset": b"a dog .\na cat .\n",
    }
    name = {"missing": "no-such.txt", "dataset": "fine.txt"}.get(kind, f"{kind}.txt")
    if files[kind] is not None:
        (tmp_path / name).write_bytes(files[kind])
    dataset = "synthetic" if kind == "dataset" else "coco"
    status = main([str(tmp_path / name), "--dataset", dataset, "--no-lm", "--json", str(tmp_path / "scores.json")])
    assert message in _one_line_error(status, capsys.readouterr().err, tmp_path)


def test_overlong_lines_are_counted_and_nothing_is_scored(tmp_path: Path, capsys) -> None:
    folder = shared_file("coco", "image_coco.txt").parent
    long = " ".join(["a dog"] * 25)  # 50 tokens: COCO's max_len is 38
    samples = coco_samples(tmp_path, ["a dog sitting on a bench .", long, "a cat .", long + " ."])
    arguments = [str(samples), "--dataset", "coco", "--no-lm", "--json", str(tmp_path / "scores.json")]
    status = main([*arguments, "--data-dir", str(folder)])
    error = _one_line_error(status, capsys.readouterr().err, tmp_path)
    assert f"{samples}: 2 of 4 lines have more than 38 tokens, the most a model of coco writes" in error
    assert "line 4, 51 tokens); nothing was scored" in error


def test_python_m_bench_score_is_the_command_with_one_line_errors(tmp_path: Path) -> None:
    assert text_datasets() == ["coco", "emnlp_news"]
    command = [sys.executable, "-m", "bench.score", str(tmp_path / "nothing.txt"), "--dataset", "coco"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {tmp_path / 'nothing.txt'}: no such file"
