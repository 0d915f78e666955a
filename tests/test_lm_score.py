"""LM score and reverse-LM score on a corpus from a known grammar, with a recipe small enough for seconds:
copying the training set, sampling from the judge itself, and mode collapse each give what they must;
the judge is cached by the data's sha256, and a corrupt or foreign cache file is refused and retrained."""

from __future__ import annotations

import logging
import pickle
import random
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench.datasets.base import Dataset
from bench.datasets.text import TextConfig, build_text
from bench.evaluation.judge_cache import judge_key, judge_path
from bench.evaluation.language_model import LMRecipe, train_language_model
from bench.evaluation.text import TextFigures, TextFiguresConfig
from bench.training.run import run
from tests.conftest import compose_spec

TINY_RECIPE = LMRecipe(emb_dim=16, hidden_dim=16, batch_size=32, max_epochs=40, patience=3)
"""The suite's recipe shrunk for a 14-word grammar: trains in a few seconds at one thread."""
CPU = torch.device("cpu")


def grammar_sentences(n: int, seed: int) -> list[str]:
    """`the ANIMAL VERB on the THING .` with known, unequal probabilities (entropy 0.251 nats/token)."""
    rng = random.Random(seed)
    words = []
    for _ in range(n):
        animal = rng.choices(["cat", "dog", "man"], [0.6, 0.3, 0.1])[0]
        verb = rng.choices(["sat", "ran"], [0.7, 0.3])[0]
        thing = rng.choices(["mat", "bench"], [0.8, 0.2])[0]
        words.append(f"the {animal} {verb} on the {thing} .")
    return words


def grammar_corpus(folder: Path, n_train: int = 400) -> TextConfig:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(grammar_sentences(n_train, 1)) + "\n")
    (folder / "test.txt").write_text("\n".join(grammar_sentences(200, 2)) + "\n")
    return TextConfig(
        name="grammar", data_dir=str(folder), train_file="train.txt", test_file="test.txt", warn_min_sentences=0
    )


@pytest.fixture(scope="module")
def grammar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, TextFigures]:
    folder = tmp_path_factory.mktemp("grammar")
    dataset = build_text(grammar_corpus(folder / "data"))
    config = TextFiguresConfig(lm_scores=True, lm_recipe=TINY_RECIPE, judge_dir=str(folder / "judges"))
    return dataset, TextFigures(config, dataset, CPU)


def test_a_model_that_copies_the_training_set_gets_the_judges_own_training_nll(grammar) -> None:
    dataset, figures = grammar
    copied = figures.lm_figures(dataset.train)
    judge = figures.judge().record
    assert copied["lm_score"] == pytest.approx(judge["train_nll"], abs=1e-9)
    # its reverse LM learns from the very data the judge learnt from, by the same recipe: the judge's NLL_test
    assert copied["reverse_lm_score"] == pytest.approx(judge["test_nll"], abs=1e-9)
    assert copied["lm_judge_nll_test"] == judge["test_nll"] and 0.24 < judge["test_nll"] < 0.29  # entropy 0.251
    assert judge["best_epoch"] > 0 and judge["fit_sequences"] == 360 and judge["valid_sequences"] == 40


def test_samples_from_the_judge_score_near_its_test_nll(grammar) -> None:
    dataset, figures = grammar
    judge = figures.judge()
    samples = judge.model.sample(2000, torch.Generator().manual_seed(0)).tokens
    scores = figures.lm_figures(samples)
    assert scores["lm_score"] == pytest.approx(judge.record["test_nll"], abs=0.04)
    assert scores["reverse_lm_score"] == pytest.approx(judge.record["test_nll"], abs=0.04)


def test_a_collapsed_model_gets_a_good_lm_score_and_a_terrible_reverse_lm_score(grammar) -> None:
    dataset, figures = grammar
    copied = figures.lm_figures(dataset.train)
    likeliest = dataset.line_tokenizer("the cat sat on the mat .")  # 0.6 x 0.7 x 0.8 of the mass
    collapsed = dataset.vocabulary.encode([likeliest] * 400, dataset.space.seq_len, "error", "samples")
    scores = figures.lm_figures(collapsed)
    assert scores["lm_score"] < copied["lm_score"]  # each sample reads better than the data on average
    assert scores["reverse_lm_score"] > 4 * copied["reverse_lm_score"]  # but it holds one sentence of twelve


def test_lm_figures_are_the_same_under_no_grad_where_a_reports_temperature_sweep_asks_for_them(grammar) -> None:
    dataset, figures = grammar
    samples = dataset.train[:64]
    plain = figures.lm_figures(samples)
    with torch.no_grad():  # the reverse LM still trains
        assert figures.lm_figures(samples) == plain


def test_lm_figures_leave_the_global_rng_as_it_was(grammar) -> None:
    dataset, figures = grammar
    torch.manual_seed(123)
    before = torch.get_rng_state()
    figures.lm_figures(dataset.train[:64])
    assert torch.equal(torch.get_rng_state(), before)


def test_the_judge_is_cached_by_the_datas_sha256_and_read_back(grammar, tmp_path: Path) -> None:
    dataset, figures = grammar
    trained = figures.judge()
    path = judge_path(figures.judge_folder, dataset, trained.record["key"])
    assert path.is_file() and trained.record["key"] == judge_key(dataset, TINY_RECIPE)
    again = TextFigures(figures.config, dataset, CPU).judge()
    assert again.record["source"] == str(path) and again.record["test_nll"] == trained.record["test_nll"]
    for name, tensor in trained.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])
    other_data = replace(dataset, train=dataset.train[:-1])
    other_recipe = replace(TINY_RECIPE, hidden_dim=8)
    assert (
        len({judge_key(dataset, TINY_RECIPE), judge_key(other_data, TINY_RECIPE), judge_key(dataset, other_recipe)})
        == 3
    )


class _Foreign:
    """Would create a file if unpickled as code: a cache file must never execute anything."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "other_key"])
def test_a_corrupt_or_foreign_cache_file_is_refused_and_retrained(
    grammar, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    dataset, figures = grammar
    config = replace(figures.config, judge_dir=str(tmp_path))
    path = judge_path(tmp_path, dataset, judge_key(dataset, TINY_RECIPE))
    marker = tmp_path / "executed"
    if kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 not a zip")
    elif kind == "foreign":
        with path.open("wb") as stream:
            pickle.dump({"format": "cotbench-lm-judge-1", "record": _Foreign(marker)}, stream, protocol=2)
    else:
        torch.save({"format": "cotbench-lm-judge-1", "record": {"key": "0" * 64}, "state_dict": {}}, path)
    with caplog.at_level(logging.WARNING):
        judge = TextFigures(config, dataset, CPU).judge()
    assert judge.record["source"] == "trained" and not marker.exists()
    assert any(f"{path}: refused" in message and "training the judge again" in message for message in caplog.messages)
    assert TextFigures(config, dataset, CPU).judge().record["source"] == str(path)  # rewritten, readable


def test_an_unwritable_judge_folder_keeps_the_judge_in_memory(grammar, tmp_path: Path, caplog) -> None:
    dataset, figures = grammar
    (tmp_path / "a_file").write_text("x")
    config = replace(figures.config, judge_dir=str(tmp_path / "a_file" / "judges"))
    with caplog.at_level(logging.WARNING):
        judge = TextFigures(config, dataset, CPU).judge()
    assert judge.record["source"] == "trained"
    assert any("cannot cache the LM-score judge there" in message for message in caplog.messages)


def test_early_stopping_keeps_the_best_validation_epoch(grammar) -> None:
    dataset, _ = grammar
    trained = train_language_model(dataset.space, dataset.train, replace(TINY_RECIPE, max_epochs=6, patience=1), CPU)
    assert 1 <= trained.best_epoch <= trained.epochs <= 6
    with pytest.raises(ValueError, match="valid_share=1.0: must be in"):
        LMRecipe(valid_share=1.0)
    with pytest.raises(ValueError, match="lm_recipe.patience=0: must be at least 1"):
        LMRecipe(patience=0)


def test_a_run_records_lm_scores_only_where_asked(tmp_path: Path) -> None:
    grammar_corpus(tmp_path / "data", n_train=200)
    common = (
        "dataset=coco",
        f"dataset.data_dir={tmp_path / 'data'}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
        "dataset.warn_min_sentences=0",
        "algorithm.batch_size=16",
        "train.steps=10",
        "eval.every=10",
        "eval.n_samples=100",
        "model.emb_dim=8",
        "model.hidden_dim=8",
        "progress=false",
    )
    plain = run(compose_spec(*common), tmp_path / "plain")
    assert "lm_score" not in plain and "distinct2" in plain and "no_eos_share" in plain
    recipe = ("+dataset.figures.lm_recipe.emb_dim=8", "+dataset.figures.lm_recipe.hidden_dim=8")
    lm = (*recipe, "+dataset.figures.lm_recipe.max_epochs=3", f"+dataset.figures.judge_dir={tmp_path / 'judges'}")
    final = run(compose_spec(*common, "+dataset.figures.lm_scores=true", *lm), tmp_path / "lm")
    history = pd.read_csv(tmp_path / "lm" / "history.csv")
    assert {"lm_score", "reverse_lm_score", "lm_judge_nll_test"} <= set(history.columns) and len(history) == 2
    # not at step 0 (the untrained model: figures known in advance) unless asked, then at every evaluation
    assert history["lm_score"].isna().tolist() == [True, False]
    assert final["lm_score"] == pytest.approx(history["lm_score"].iloc[-1])
    # the other figures are those of the run without LM scores: training the LMs touched no other randomness
    for name in ("nll_test", "bleu2", "self_bleu3", "distinct2", "entropy"):
        assert final[name] == pytest.approx(plain[name], abs=1e-12), name
