"""Text datasets: tokens as nltk makes them, vocabulary and round trip, NLL through EOS, clear errors, runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from nltk.tokenize import word_tokenize

from bench.config.build import build
from bench.config.folders import DATA_ENV, data_root
from bench.config.schema import EvalConfig
from bench.datasets.fetch import published_file
from bench.datasets.text import TextConfig, TextFileError, build_text, data_dir
from bench.datasets.tokenizers import detokenize, tokenize
from bench.datasets.vocabulary import OverlongSentenceError, Vocabulary, VocabularyMismatchError
from bench.training.run import run
from models import Generator, GeneratorConfig
from tests.conftest import SHARED_DATA, compose_config, compose_spec, evaluator_for, shared_file

TRAIN = [
    "a man riding a bike at night.",
    "a dog sitting on a bench .",
    "a man sitting on a bench with a dog.",
    "two cats sleeping on a bed",
    "a woman riding a horse on the beach.",
    "a cat sitting on a red bench.",
    "",  # blank lines are skipped
    "a man and a woman riding bikes.",
    "a dog riding on a skateboard.",
]
TEST = ["a man riding a horse.", "a zebra sitting on a bench near a giraffe .", "two dogs sleeping on a bed"]


def write_corpus(folder: Path, train: list[str] = TRAIN, test: list[str] = TEST) -> TextConfig:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(train))
    (folder / "test.txt").write_text("\n".join(test) + "\n")
    return TextConfig(name="tiny", data_dir=str(folder), train_file="train.txt", test_file="test.txt")


def test_treebank_tokens_are_nltk_word_tokenize_and_differ_from_whitespace() -> None:
    lines = ["a man riding a bike at night.", "I don't know, \"he said\" it's 1,600!", "long - lasting  effects ."]
    for line in lines:
        assert tokenize(line, "treebank") == word_tokenize(line, preserve_line=True)
    assert tokenize(lines[0], "treebank")[-2:] == ["night", "."]
    assert tokenize(lines[0], "whitespace")[-1] == "night."
    assert tokenize(lines[1], "treebank")[1:3] == ["do", "n't"]
    assert detokenize(tokenize(lines[1], "treebank"), "treebank") == lines[1]
    with pytest.raises(ValueError, match="dataset.tokenizer='spacy': must be one of treebank, whitespace"):
        TextConfig(tokenizer="spacy")


def test_text_dataset_round_trip_vocabulary_unknown_words_and_lengths(tmp_path: Path) -> None:
    dataset = build_text(write_corpus(tmp_path))
    vocabulary, space = dataset.vocabulary, dataset.space
    train_tokens = [tokenize(line, "treebank") for line in TRAIN if line]
    assert vocabulary.words[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert vocabulary.words[4] == "a"  # the most frequent training word comes first
    assert set(vocabulary.words[4:]) == {w for s in train_tokens for w in s}
    assert (space.start_token, space.eos_token, space.pad_token) == (1, 2, 0)
    assert space.seq_len == max(len(s) for s in train_tokens) + 1 == dataset.train.shape[1]
    assert dataset.decode(dataset.train) == [" ".join(s) for s in train_tokens]
    lengths = [len(s) for s in train_tokens]
    for row, length in zip(dataset.train.tolist(), lengths, strict=True):
        assert row[length] == vocabulary.eos_id and set(row[length + 1 :]) <= {vocabulary.pad_id}
    # test words outside the training vocabulary become UNK; the BLEU references keep the real words
    assert dataset.decode(dataset.test)[1] == "a <unk> sitting on a bench <unk> a <unk> ."
    assert dataset.references == [tokenize(line, "treebank") for line in TEST]
    again = build_text(write_corpus(tmp_path))
    assert again.vocabulary == vocabulary and torch.equal(again.train, dataset.train)


def test_max_vocab_keeps_the_most_frequent_words_and_rejects_a_cap_below_the_specials(tmp_path: Path) -> None:
    config = write_corpus(tmp_path)
    full = build_text(config)
    capped = build_text(TextConfig(**{**vars(config), "max_vocab": 6}))
    assert capped.vocabulary.words == full.vocabulary.words[:6]
    assert capped.space.vocab_size == 6
    assert int(capped.train.max()) < 6 and (capped.train == capped.vocabulary.unk_id).any()
    with pytest.raises(ValueError, match=r"dataset.max_vocab=4: must exceed the 4 special tokens"):
        TextConfig(max_vocab=4)


def test_whitespace_tokenizer_and_overlong_policies(tmp_path: Path) -> None:
    config = write_corpus(tmp_path)
    spaced = build_text(TextConfig(**{**vars(config), "tokenizer": "whitespace"}))
    assert "night." in spaced.vocabulary.words and spaced.vocabulary.tokenizer == "whitespace"
    short = {**vars(config), "max_len": 7}  # six words and EOS
    dropped = build_text(TextConfig(**{**short, "overlong": "drop"}))
    assert dropped.train.shape == (1, 7) and dropped.decode(dropped.train) == ["two cats sleeping on a bed"]
    assert dropped.test.shape == (2, 7) and len(dropped.references) == 3  # BLEU keeps every test sentence
    truncated = build_text(TextConfig(**{**short, "overlong": "truncate"}))
    assert truncated.train.shape == (8, 7)
    assert truncated.decode(truncated.train)[0] == "a man riding a bike at night"  # seven words, no EOS
    assert (truncated.train[0] != truncated.vocabulary.eos_id).all()
    with pytest.raises(OverlongSentenceError, match=r"train_file sentence 1 has 8 tokens: more than dataset.max_len=7"):
        build_text(TextConfig(**{**short, "overlong": "error"}))
    with pytest.raises(ValueError, match="dataset.overlong='cut'"):
        TextConfig(overlong="cut")
    with pytest.raises(ValueError, match="dataset.max_len=1"):
        TextConfig(max_len=1)


def test_nll_test_is_the_mean_over_in_vocabulary_targets_through_eos_and_never_pad(tmp_path: Path) -> None:
    dataset = build_text(write_corpus(tmp_path))
    torch.manual_seed(0)
    generator = Generator(dataset.space, GeneratorConfig(emb_dim=8, hidden_dim=8))
    evaluator = evaluator_for(dataset, EvalConfig(n_samples=20))
    figures = evaluator(generator, step=0).figures
    # by hand: plain logits (no mask), normalised over the ids a sentence can contain (every id but
    # PAD, BOS and UNK), at every in-vocabulary word and the EOS, nothing after the EOS
    vocabulary = dataset.vocabulary
    allowed = [i for i in range(len(vocabulary)) if i not in (vocabulary.pad_id, vocabulary.bos_id, vocabulary.unk_id)]
    with torch.no_grad():
        hidden = generator.hidden(dataset.test).double()
        logits = hidden @ generator.out.weight.double().t() + generator.out.bias.double()
        log_norm = logits[..., allowed].logsumexp(-1)
    total, count, unknown = 0.0, 0, 0
    for row, words in enumerate(dataset.references):
        for t in range(len(words) + 1):
            target = int(dataset.test[row, t])
            if target == vocabulary.unk_id:
                unknown += 1
                continue
            total -= (logits[row, t, target] - log_norm[row, t]).item()
            count += 1
    assert unknown == 4 and figures["test_unk_share"] == pytest.approx(unknown / (count + unknown), abs=1e-15)
    assert figures["nll_test"] == pytest.approx(total / count, rel=1e-6)
    # whatever sits after EOS is never scored
    scrambled = dataset.test.clone()
    after_eos = scrambled == dataset.vocabulary.pad_id
    scrambled[after_eos] = 5
    dataset.test = scrambled
    assert evaluator_for(dataset, EvalConfig(n_samples=20))(generator, 0).figures["nll_test"] == pytest.approx(
        figures["nll_test"], rel=1e-6
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\n  \n\n", "empty (no non-blank line)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file (it contains NUL bytes)"),
        ("caf\u00e9 au lait\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    config = write_corpus(tmp_path)
    bad = tmp_path / "train.txt"
    bad.unlink()
    if content is not None:
        bad.write_bytes(content)
    with pytest.raises(TextFileError) as error:
        build_text(config)
    assert message in str(error.value) and str(error.value).startswith(f"dataset.train_file: {bad}")
    assert len(str(error.value).splitlines()) == 1


def test_missing_file_on_the_command_line_is_one_error_line(tmp_path: Path, cli_in_process) -> None:
    arguments = ("dataset=coco", f"dataset.data_dir={tmp_path}", "progress=false", f"hydra.run.dir={tmp_path / 'run'}")
    status, _, err = cli_in_process(*arguments)
    assert status == 2 and "Traceback" not in err
    assert err.strip() == (
        f"error: dataset.train_file: {tmp_path / 'image_coco.txt'}: no such file (download it with"
        f" `python -m bench.data fetch coco`, or set dataset.data_dir or {DATA_ENV})"
    )


def test_data_folder_from_config_then_environment_then_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_dir(TextConfig(name="coco")) == data_root() / "coco"
    assert data_root() == Path(__file__).resolve().parent.parent / "data"
    monkeypatch.setenv(DATA_ENV, "/somewhere/data")
    assert data_dir(TextConfig(name="emnlp_news")) == Path("/somewhere/data/emnlp_news")
    assert data_dir(TextConfig(name="coco", data_dir="/elsewhere")) == Path("/elsewhere")


def test_checkpoint_vocabulary_mismatch_is_refused(tmp_path: Path) -> None:
    vocabulary = build_text(write_corpus(tmp_path)).vocabulary
    vocabulary.check_matches(list(vocabulary.words), "ckpt.pt")  # the same: accepted
    swapped = list(vocabulary.words)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    with pytest.raises(VocabularyMismatchError, match=rf"ckpt.pt: vocabulary differs .*id 5 is {swapped[5]!r} there"):
        vocabulary.check_matches(swapped, "ckpt.pt")
    with pytest.raises(VocabularyMismatchError, match="4 tokens there"):
        vocabulary.check_matches(["<pad>", "<bos>", "<eos>", "<unk>"], "ckpt.pt")
    assert Vocabulary.from_sentences([["<eos>", "b"]], "treebank").words == ("<pad>", "<bos>", "<eos>", "<unk>", "b")


TEXT_FIGURES = {f"bleu{n}" for n in range(2, 6)} | {f"self_bleu{n}" for n in range(2, 6)} | {"sacrebleu", "nll_test"}


def test_mle_trains_end_to_end_on_a_tiny_text_dataset(tmp_path: Path) -> None:
    write_corpus(tmp_path / "data")
    cfg = compose_spec(
        "dataset=coco",
        f"dataset.data_dir={tmp_path / 'data'}",
        "dataset.train_file=train.txt",
        "dataset.test_file=test.txt",
        "algorithm.batch_size=4",
        "train.steps=60",
        "eval.every=20",
        "eval.n_samples=40",
        "model.emb_dim=16",
        "model.hidden_dim=16",
        "progress=false",
    )
    final = run(cfg, tmp_path / "run")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["step"].tolist() == [0, 20, 40, 60]
    assert TEXT_FIGURES <= set(history.columns) and "nll_oracle" not in history.columns
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0]
    assert history["bleu2"].iloc[-1] > history["bleu2"].iloc[0]
    assert history[sorted(TEXT_FIGURES - {"nll_test", "sacrebleu"})].stack().between(0, 1).all()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["final"] == pytest.approx(final)
    assert TEXT_FIGURES <= final.keys()
    samples = (tmp_path / "run" / "samples.txt").read_text().splitlines()
    words = {w for line in TRAIN for w in tokenize(line, "treebank")} | {"<unk>", "<bos>"}
    assert len(samples) == 40 and all(set(line.split()) <= words for line in samples)


@pytest.mark.slow
def test_mle_on_coco_trains_end_to_end_on_a_tiny_budget(tmp_path: Path) -> None:
    shared_file("coco", "image_coco.txt")
    overrides = ("dataset=coco", f"dataset.data_dir={SHARED_DATA / 'coco'}", "train.steps=20", "eval.every=10")
    run(compose_spec(*overrides, "eval.n_samples=200", "progress=false"), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [0, 10, 20] and TEXT_FIGURES <= set(history.columns)
    assert history["nll_test"].iloc[-1] < history["nll_test"].iloc[0]
    assert (tmp_path / "samples.txt").read_text().count("\n") == 200


# EMNLP: 5,559 ids since soft hyphens are removed (the training substitute's 2 made a junk word of their own)
@pytest.mark.parametrize(("name", "vocab_size", "seq_len"), [("coco", 4663, 38), ("emnlp_news", 5559, 50)])
def test_published_corpora_build_from_their_config_files(name: str, vocab_size: int, seq_len: int) -> None:
    folder = shared_file(name, "PROVENANCE.md").parent
    dataset = build(compose_config(f"dataset={name}", f"dataset.data_dir={folder}").dataset, "dataset")
    assert dataset.name == name and dataset.space.vocab_size == vocab_size and dataset.space.seq_len == seq_len
    assert dataset.train.shape[0] == 10_000 and len(dataset.references) == 10_000
    assert dataset.test.shape[0] == 10_000  # no test sentence is longer than the longest training one
    assert dataset.warnings == []  # the published files set none of the traps
    assert (
        dataset.provenance["test"]["sha256"]
        == published_file(dataset.provenance["test"]["path"].split("/")[-1])[1].sha256
    )
