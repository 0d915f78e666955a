"""The Python API (`load_run`: sample, score, figures) and the README's example of an algorithm kept
outside the repository, run here as the README gives it."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from itertools import product
from pathlib import Path

import pytest
import torch

from bench.api import load_run
from bench.errors import BenchError
from bench.training.run import run
from tests.conftest import REPO_ROOT, cli_env, compose_spec

README = REPO_ROOT / "README.md"
TINY = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=6",
    "eval.every=3",
    "eval.n_samples=300",
    "progress=false",
)


def readme_blocks(heading: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block in the README section headed `heading`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    depth = len(heading.split()[0])
    blocks: list[tuple[str, str]] = []
    fence: tuple[str, list[str]] | None = None
    for line in lines[lines.index(heading) + 1 :]:
        if fence is not None:
            if line.startswith("```"):
                blocks.append((fence[0], "\n".join(fence[1]) + "\n"))
                fence = None
            else:
                fence[1].append(line)
        elif line.startswith("```"):
            fence = (line[3:].strip(), [])
        elif line.startswith("#") and len(line) - len(line.lstrip("#")) <= depth and line.lstrip("#").startswith(" "):
            break
    return blocks


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    run(compose_spec(*TINY), run_dir)
    return run_dir


def test_figures_at_a_temperature_are_those_of_the_tempered_model(tiny_run: Path) -> None:
    """At τ = 0.8 the JSD is the tempered generator's, by enumeration of all 4^4 sentences, and NLL_test
    is its mean token NLL on the test set (a written-out formula, not the evaluator's code)."""
    loaded = load_run(tiny_run)
    figures = loaded.figures(n_samples=300, temperature=0.8)
    every = loaded.dataset.space.all_sequences()
    with torch.no_grad():
        log_p = loaded.dataset.oracle.score(every).double().sum(1)
        log_g = loaded.generator.score(every, 0.8).double().sum(1)
        test = -loaded.generator.score(loaded.dataset.test, 0.8).double().mean().item()
    p, g = log_p.exp(), log_g.exp()
    m = (p + g) / 2
    assert figures["jsd"] == pytest.approx(float(0.5 * (p * (p / m).log()).sum() + 0.5 * (g * (g / m).log()).sum()))
    assert figures["nll_test"] == pytest.approx(test, rel=1e-6)
    assert figures["jsd"] != pytest.approx(loaded.figures(n_samples=300)["jsd"])  # τ = 1 is another model


def test_scores_are_a_distribution_and_match_the_sampler(tiny_run: Path) -> None:
    loaded = load_run(tiny_run)
    every = [" ".join(map(str, ids)) for ids in product(range(4), repeat=4)]
    for tau in (1.0, 0.7):
        total = sum(math.exp(lp) for lp in loaded.score(every, temperature=tau))
        assert total == pytest.approx(1.0, abs=1e-5)  # all 4^4 sentences: probabilities sum to one
    sentences = loaded.sample(50, temperature=0.7, seed=3)
    assert sentences == loaded.sample(50, temperature=0.7, seed=3) != loaded.sample(50, temperature=0.7, seed=4)
    drawn = loaded.generator.sample(50, torch.Generator().manual_seed(3), 0.7)
    assert loaded.score(sentences, temperature=0.7) == pytest.approx(drawn.token_log_probs.sum(1).tolist(), abs=1e-5)


def test_figures_repeat_the_runs_exact_figures(tiny_run: Path) -> None:
    final = json.loads((tiny_run / "metrics.json").read_text())["final"]
    figures = load_run(tiny_run).figures(n_samples=300)
    # exact on this enumerable space (nll_test on the fixed test set, jsd by enumeration): no sampling noise
    assert figures["nll_test"] == pytest.approx(final["nll_test"], rel=1e-6)
    assert figures["jsd"] == pytest.approx(final["jsd"], rel=1e-6)


def test_bad_paths_and_sentences_are_one_line_errors(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no config.yaml"):
        load_run(tmp_path)
    loaded = load_run(tiny_run)
    with pytest.raises(BenchError, match=r"must be 4 ids in \[0, 4\)"):
        loaded.score(["1 2 3"])
    with pytest.raises(BenchError, match="token ids"):
        loaded.score(["a b c d"])


def test_the_readme_example_algorithm_outside_the_repository_runs(tmp_path: Path) -> None:
    blocks = readme_blocks("### An algorithm or dataset outside the repository")
    for language, code in blocks:
        if language in ("yaml", "python"):
            relative = code.splitlines()[0].removeprefix("# ").strip()  # each file's block starts with its path
            (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relative).write_text(code, encoding="utf-8")
    [command] = [code.strip() for language, code in blocks if language == "bash"]
    environment, *arguments = shlex.split(command)
    assert environment == "PYTHONPATH=." and arguments[:3] == ["python", "-m", "bench"]
    env = cli_env(PYTHONPATH=f".{os.pathsep}{REPO_ROOT}")
    overrides = [o for o in TINY if not o.startswith("dataset=")]
    result = subprocess.run(
        [sys.executable, *arguments[1:], "dataset=synthetic_tiny", *overrides, "hydra.run.dir=out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["final"]["step"] == 6
    assert (
        "sgd_mle" in (tmp_path / "out" / "config.yaml").read_text()
        or "SGDMLE" in (tmp_path / "out" / "config.yaml").read_text()
    )


def test_text_runs_sample_words_and_score_unknown_words_as_unk(tmp_path: Path) -> None:
    words = ["a", "man", "rides", "a", "red", "bike", "dog", "sits", "on", "the", "grass"]
    lines = [" ".join(words[(i + j) % len(words)] for j in range(2 + i % 4)) for i in range(160)]
    (tmp_path / "train.txt").write_text("\n".join(lines[:130]) + "\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text("\n".join(lines[130:]) + "\n", encoding="utf-8")
    files = ("dataset.train_file=train.txt", "dataset.test_file=test.txt")  # not the published names
    overrides = ("dataset=coco", f"dataset.data_dir={tmp_path}", *files, "dataset.tokenizer=whitespace")
    overrides += ("train.steps=3",)
    run(compose_spec(*overrides, "eval.every=3", "eval.n_samples=40", "progress=false"), tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    sentences = loaded.sample(20, seed=2)
    vocabulary = loaded.dataset.vocabulary
    assert all(set(sentence.split()) <= set(vocabulary.words) for sentence in sentences) and len(sentences) == 20
    unknown, known = loaded.score(["a zebra rides", "a <unk> rides"])
    assert unknown == known  # an unknown word is <unk>, as in NLL_test
    ids = [vocabulary.index[w] for w in ("a", "man")] + [vocabulary.eos_id]
    with torch.no_grad():
        log_probs = loaded.generator.token_log_probs(
            torch.tensor([ids + [vocabulary.pad_id] * (loaded.dataset.space.seq_len - 3)])
        )
    assert loaded.score(["a man"]) == pytest.approx([float(log_probs[0, :3].sum())], abs=1e-5)  # words + EOS, no PAD
    assert {"bleu2", "self_bleu2", "nll_test"} <= loaded.figures(n_samples=40).keys()
