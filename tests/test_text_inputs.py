"""Text read the same way everywhere, and the traps of real text made visible: unknown words in the API,
the dataset's normalisation in the API, samples that never end, overlong test sentences, soft hyphens,
a literal <unk>, and characters that other readers take for line breaks."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench.api import load_run
from bench.config.build import build
from bench.datasets.text import TextConfig, build_text
from bench.datasets.tokenizers import LineTokenizer, tokenize
from bench.errors import BenchError
from bench.evaluation.catalogue import BY_NAME, TABLE_FIGURES
from bench.training.run import run
from tests.conftest import compose_config, compose_spec, evaluator_for, make_generator, shared_file
from tests.test_text_data import TEST, TRAIN, write_corpus

QUOTED_TRAIN = [*TRAIN, 'a man said , " a dog sat on a bench . "', 'the woman said , " two cats ! "']
QUOTED_TEST = [*TEST, 'a man said ," a cat sat on a bench . "']


@pytest.fixture(scope="module")
def quoted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MLE run on a corpus whose two splits spell closing quotes differently (as EMNLP News)."""
    folder = tmp_path_factory.mktemp("quoted")
    write_corpus(folder / "data", QUOTED_TRAIN, QUOTED_TEST)
    spec = compose_spec(
        "dataset=emnlp_news",
        f"dataset.data_dir={folder / 'data'}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
        "dataset.warn_min_sentences=0",
        "dataset.warn_unk_share=1",
        "algorithm.batch_size=4",
        "train.steps=20",
        "eval.every=10",
        "eval.n_samples=50",
        "model.emb_dim=8",
        "model.hidden_dim=8",
        "progress=false",
    )
    run(spec, folder / "run")
    return folder / "run"


def test_unknown_words_make_a_sentence_impossible_not_more_likely(quoted_run: Path) -> None:
    loaded = load_run(quoted_run)
    plain, with_unknown, with_literal_unk = loaded.score(
        ["a man riding a horse .", "a man riding a zebra giraffe okapi horse .", "a <unk> riding a horse ."]
    )
    assert math.isfinite(plain) and plain < 0
    # the model never emits <unk>: three unknown words once counted as probability 1, a better score
    assert with_unknown == -math.inf and with_literal_unk == -math.inf


def test_the_api_encodes_text_with_the_datasets_own_normalisation(quoted_run: Path) -> None:
    loaded = load_run(quoted_run)
    dataset = loaded.dataset
    assert dataset.line_tokenizer == LineTokenizer("treebank", "spaced")
    test_line = QUOTED_TEST[-1]  # `,"` as the test split spells it; the training split writes `, "`
    assert torch.equal(loaded.encode([test_line])[0], dataset.test[-1])
    assert dataset.decode(dataset.test[-1:]) == ["a man said , `` a cat sat on a bench . ``"]
    assert tokenize(test_line, "treebank") != dataset.line_tokenizer(test_line)  # what encode used to do


def test_every_evaluation_records_the_share_of_samples_without_eos(tmp_path: Path, quoted_run: Path) -> None:
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path)), "warn_min_sentences": 0}))
    generator = make_generator(dataset.space)
    eos = dataset.vocabulary.eos_id
    with torch.no_grad():
        generator.out.bias[eos] = -30.0  # EOS practically never drawn: every sample runs to max_len
    assert evaluator_for(dataset)(generator, 0).figures["no_eos_share"] == 1.0
    with torch.no_grad():
        generator.out.bias[eos] = 30.0  # EOS at once: every sample ends
    assert evaluator_for(dataset)(generator, 0).figures["no_eos_share"] == 0.0
    history = pd.read_csv(quoted_run / "history.csv")
    assert history["no_eos_share"].between(0, 1).all() and len(history) == 3
    assert "no_eos_share" in TABLE_FIGURES["text"] and BY_NAME["no_eos_share"].unit == "share of samples"


def test_overlong_test_sentences_left_out_of_nll_test_are_a_warning_with_their_count(tmp_path: Path) -> None:
    overlong = "a man riding a bike at night with a dog on a bench ."  # 14 tokens; max_len 11 from TRAIN
    test = [TEST[k % 3] for k in range(199)] + [overlong]  # one of 200: 0.5 %, under the 1 % threshold
    config = write_corpus(tmp_path, TRAIN, test)
    dataset = build_text(TextConfig(**{**vars(config), "warn_min_sentences": 0, "warn_unk_share": 1.0}))
    assert dataset.provenance["test"]["dropped"] == 1 and dataset.test.shape[0] == 199
    assert len(dataset.references) == 200  # BLEU keeps it
    [warning] = dataset.warnings
    assert warning.startswith(f"dataset.max_len={dataset.space.seq_len} drops 1 of 200 test sentences (0.50%)")
    assert warning.endswith("(0.50%): NLL_test leaves them out; BLEU keeps every test sentence as a reference")


def test_soft_hyphens_are_removed_from_both_splits_and_counted(tmp_path: Path) -> None:
    train = [*TRAIN, "a man riding a mo\u00adtor\u00adbike ."]
    test = [*TEST, "a \u00ad dog riding a motorbike ."]
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path, train, test)), "warn_min_sentences": 0}))
    assert "motorbike" in dataset.vocabulary.words and "\u00ad" not in dataset.vocabulary.words
    assert dataset.references[-1] == ["a", "dog", "riding", "a", "motorbike", "."]
    assert dataset.reference_lines[-1] == "a  dog riding a motorbike ."  # sacreBLEU's line: the character gone
    assert dataset.provenance["train"]["soft_hyphens_removed"] == 2
    assert dataset.provenance["test"]["soft_hyphens_removed"] == 1
    assert tokenize("a \u00ad dog", "treebank") == ["a", "\u00ad", "dog"]  # what the tokeniser alone makes


def test_a_literal_unk_stays_one_token_and_reads_as_unk(tmp_path: Path) -> None:
    assert tokenize("a <unk> sat on a <unk>", "treebank") == ["a", "<unk>", "sat", "on", "a", "<unk>"]
    assert tokenize("a<unk>b", "treebank") == ["a", "<unk>", "b"]
    train = [*TRAIN, "a <unk> sitting on a bench ."]
    dataset = build_text(TextConfig(**{**vars(write_corpus(tmp_path, train)), "warn_min_sentences": 0}))
    assert "unk" not in dataset.vocabulary.words and "<" not in dataset.vocabulary.words
    assert dataset.train[-1, 1].item() == dataset.vocabulary.unk_id


def test_lines_end_at_newline_only_and_other_breaks_are_counted(tmp_path: Path) -> None:
    train = [TRAIN[0], "a dog sitting\u2028on a bench .", *TRAIN[2:5], "a cat\x85 sitting on a red bench ."]
    config = write_corpus(tmp_path, train)
    (tmp_path / "test.txt").write_bytes("\r\n".join(TEST).encode() + b"\r\n")  # CRLF: no warning
    dataset = build_text(TextConfig(**{**vars(config), "warn_min_sentences": 0, "warn_unk_share": 1.0}))
    assert dataset.provenance["train"]["sentences"] == len(train) == dataset.train.shape[0]
    assert dataset.decode(dataset.train[1:2]) == ["a dog sitting on a bench ."]
    assert dataset.provenance["train"]["other_line_breaks"] == 2
    assert dataset.provenance["test"]["other_line_breaks"] == 0 and dataset.provenance["test"]["lines"] == 3
    [warning] = dataset.warnings
    assert warning.startswith(f"dataset.train_file: {tmp_path / 'train.txt'} has 2 character(s) that other readers")
    assert "the first on line 2" in warning and len(warning.splitlines()) == 1


def test_a_missing_training_file_falls_back_to_its_substitute_named_in_every_record(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    config = TextConfig(name="tiny", data_dir=str(tmp_path), train_file="full.txt", test_file="test.txt")
    quiet = {"warn_min_sentences": 0, "warn_unk_share": 1.0}
    substituted = build_text(TextConfig(**{**vars(config), **quiet, "train_substitute": "train.txt"}))
    assert substituted.provenance["train"]["substitute_for"] == "full.txt"
    assert substituted.provenance["train"]["path"] == str(tmp_path / "train.txt")
    assert substituted.warnings == [
        f"dataset.train_file: full.txt is not in {tmp_path}: training on its substitute train.txt (8 sentences) instead"
    ]
    (tmp_path / "full.txt").write_text((tmp_path / "train.txt").read_text())
    full = build_text(TextConfig(**{**vars(config), **quiet, "train_substitute": "train.txt"}))
    assert "substitute_for" not in full.provenance["train"] and full.warnings == []
    with pytest.raises(BenchError, match="dataset.train_file: .*nothing.txt: no such file"):
        build_text(TextConfig(**{**vars(config), "train_file": "nothing.txt"}))


def test_paper_emnlp_says_which_training_file_it_used(tmp_path: Path) -> None:
    for name in ("test_emnlp.txt", "gfs_news_valid.txt"):
        (tmp_path / name).write_bytes(shared_file("emnlp_news", name).read_bytes())
    config = compose_config("experiment=paper_emnlp", f"dataset.data_dir={tmp_path}")
    dataset = build(config.dataset, "dataset")
    assert dataset.provenance["train"]["substitute_for"] == "emnlp_news.txt" and dataset.train.shape[0] == 10_000
    assert dataset.warnings[0].startswith("dataset.train_file: emnlp_news.txt is not in ")
    assert "`python -m bench.data fetch emnlp_news_full` downloads it" in dataset.warnings[0]
    (tmp_path / "emnlp_news.txt").write_text("a few sentences of my own .\n")  # not Texygen's file: refused
    with pytest.raises(BenchError, match="emnlp_news.txt: git blob .* is not that of the published emnlp_news.txt"):
        build(config.dataset, "dataset")
