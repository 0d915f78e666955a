"""Real text (DESIGN §1, text setting): MS-COCO captions and EMNLP2017 News, read from a data folder.

The files are never part of the repository: `python -m bench.data fetch coco` downloads them, or
point `dataset.data_dir` (or the COTBENCH_DATA environment variable) at a folder that has them.
Every line is one sentence (blank lines are skipped). Tokens come from the chosen tokeniser, the
vocabulary from the training split only, test words outside it become UNK; a sequence is its words,
EOS, then PAD up to the maximum length. BLEU's references are the whole test file as tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from algorithms.generator import SequenceSpace
from bench.data import DATA_ENV, default_root
from bench.datasets.base import Dataset
from bench.datasets.tokenizers import check_tokenizer, tokenize
from bench.datasets.vocabulary import OVERLONG_POLICIES, SPECIALS, Vocabulary
from bench.errors import BenchError


class TextFileError(BenchError, ValueError):
    """A text file is missing, empty, or not UTF-8 text."""


@dataclass
class TextConfig:
    """One text corpus: where its two files are, how lines become tokens, and how long a sequence may be."""

    name: str = "coco"
    """Dataset name; also the folder under the data root, and the `python -m bench.data fetch` name."""
    data_dir: str | None = None
    """Folder holding train_file and test_file; null: $COTBENCH_DATA/<name>, else data/<name> in the repository."""
    train_file: str = "image_coco.txt"
    """Training sentences, one per line; the vocabulary comes from these alone."""
    test_file: str = "test_coco.txt"
    """Held-out sentences: NLL_test, and every line is a BLEU reference."""
    tokenizer: str = "treebank"
    """treebank (nltk word_tokenize(line, preserve_line=True), as the published tables) or whitespace."""
    max_vocab: int | None = None
    """At most this many token ids, the 4 specials included (rarer training words become <unk>); null: all."""
    max_len: int | None = None
    """Positions per sequence, EOS included; null: the longest training sentence + 1."""
    overlong: str = "drop"
    """Sentences with more than max_len - 1 tokens: drop (from the tensors; BLEU references keep them),
    truncate (keep the first max_len tokens, no EOS) or error."""

    def __post_init__(self) -> None:
        check_tokenizer(self.tokenizer)
        if self.overlong not in OVERLONG_POLICIES:
            raise ValueError(f"dataset.overlong={self.overlong!r}: must be one of {', '.join(OVERLONG_POLICIES)}")
        if self.max_vocab is not None and self.max_vocab <= len(SPECIALS):
            raise ValueError(
                f"dataset.max_vocab={self.max_vocab}: must exceed the {len(SPECIALS)} special tokens "
                f"({', '.join(SPECIALS)}), or be null"
            )
        if self.max_len is not None and self.max_len < 2:
            raise ValueError(f"dataset.max_len={self.max_len}: must be at least 2 (a word and EOS) or null")
        for field in ("name", "train_file", "test_file"):
            if not getattr(self, field):
                raise ValueError(f"dataset.{field}: must not be empty")


def data_dir(config: TextConfig) -> Path:
    """The folder of this dataset's files: the config's, else under $COTBENCH_DATA, else under data/."""
    if config.data_dir is not None:
        return Path(config.data_dir).expanduser()
    return default_root() / config.name


def read_sentences(path: Path, field: str, fetch_name: str) -> list[str]:
    """The non-blank lines of a UTF-8 text file, each stripped; one-line errors for anything else."""
    if not path.is_file():
        raise TextFileError(
            f"dataset.{field}: {path}: no such file (download it with `python -m bench.data fetch {fetch_name}`,"
            f" or set dataset.data_dir or {DATA_ENV})"
        )
    data = path.read_bytes()
    if b"\x00" in data:
        raise TextFileError(f"dataset.{field}: {path}: not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TextFileError(
            f"dataset.{field}: {path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise TextFileError(f"dataset.{field}: {path}: empty (no non-blank line)")
    return lines


def build_text(config: TextConfig) -> Dataset:
    """Read, tokenise and encode both splits; the vocabulary and max length come from the training split."""
    folder = data_dir(config)
    train_lines = read_sentences(folder / config.train_file, "train_file", config.name)
    test_lines = read_sentences(folder / config.test_file, "test_file", config.name)
    train_words = [tokenize(line, config.tokenizer) for line in train_lines]
    test_words = [tokenize(line, config.tokenizer) for line in test_lines]
    vocabulary = Vocabulary.from_sentences(train_words, config.tokenizer, config.max_vocab)
    max_len = config.max_len or max(len(sentence) for sentence in train_words) + 1
    train = vocabulary.encode(train_words, max_len, config.overlong, "train_file")
    test = vocabulary.encode(test_words, max_len, config.overlong, "test_file")
    for split, tensor in (("train_file", train), ("test_file", test)):
        if tensor.shape[0] == 0:
            raise BenchError(f"dataset.{split}: no sentence fits dataset.max_len={max_len} (overlong=drop)")
    space = SequenceSpace(
        vocab_size=len(vocabulary),
        seq_len=max_len,
        start_token=vocabulary.bos_id,
        eos_token=vocabulary.eos_id,
        pad_token=vocabulary.pad_id,
    )
    return Dataset(name=config.name, space=space, train=train, test=test, vocabulary=vocabulary, references=test_words)
