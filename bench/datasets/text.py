"""Real text (docs/design.md §1 and §4.6): MS-COCO captions and EMNLP2017 News, read from a data folder.

The files are never part of the repository: `python -m bench.data fetch coco` downloads them, or
point `dataset.data_dir` (or the COTBENCH_DATA environment variable) at a folder that has them.
Every line (ended by \n alone) is one sentence; blank lines are skipped. Both splits are normalised
alike (soft hyphens removed and counted in `provenance`; EMNLP's quotes spaced), then tokenised by
the dataset's one `LineTokenizer`, which the API and the score command also read text through; the
vocabulary comes from the training split (or, as an option named for it, from both splits), other
words become UNK; a sequence is its words, EOS, then PAD up to the maximum length.
The model never generates PAD, BOS or UNK (`SequenceSpace.blocked_tokens`), so NLL_test is the mean
over in-vocabulary targets (EOS included) and `test_unk_share` says what it leaves out. BLEU's
references are the whole test file as tokens, sacreBLEU's the same lines as the file spells them.
The dataset's `provenance` records files, sizes and shares; `warnings` the traps the data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from bench.config.folders import data_root
from bench.datasets.base import Dataset
from bench.datasets.fetch import published_file
from bench.datasets.text_checks import choose_max_len, file_warnings, length_warning, unk_warning
from bench.datasets.text_files import TextFile, TextFileError, read_text_file
from bench.datasets.tokenizers import SOFT_HYPHEN, LineTokenizer, remove_soft_hyphens
from bench.datasets.vocabulary import OVERLONG_POLICIES, SPECIALS, Vocabulary
from bench.errors import BenchError
from metrics.bleu import sacrebleu_signature
from models import SequenceSpace
from models.checks import check_finite

__all__ = ["TextConfig", "TextFileError", "build_text", "data_dir"]
VOCABULARY_SOURCES = ("train", "train_and_test")


@dataclass
class TextConfig:
    """One text corpus: where its two files are, how lines become tokens, and how long a sequence may be."""

    name: str = "coco"
    """Dataset name; also the folder under the data root, and the `python -m bench.data fetch` name."""
    data_dir: str | None = None
    """Folder holding train_file and test_file; null: <data root>/<name> (bench/config/folders.py:data_root)."""
    train_file: str = "image_coco.txt"
    """Training sentences, one per line; the vocabulary comes from these alone."""
    train_substitute: str | None = None
    """A training file used instead when train_file is not in the data folder (paper_emnlp: the 10k
    substitute for Texygen's full emnlp_news.txt); null: train_file must be there. A substitution is
    named in the provenance (`train.substitute_for`) and in a warning, so every record says it."""
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
    quote_spacing: str = "asis"
    """asis, or spaced: every double quote becomes a space-separated token in both splits before
    tokenising (EMNLP News, whose two splits spell closing quotes differently)."""
    vocabulary_from: str = "train"
    """train: test words unseen in training read as <unk>, left out of NLL_test (`test_unk_share`
    says how many); train_and_test: the peers' convention (Texygen, RelGAN), the test split's words
    join the vocabulary, so NLL_test covers every test token but the model saw the test words' ids."""
    max_len_limit: int = 128
    """Largest max_len accepted, given or derived (the longest training sentence + 1); above it the
    run stops before any work. Bounds sampling, scoring and BLEU cost (COCO needs 38, EMNLP 50)."""
    warn_min_sentences: int = 1000
    """Warn when a split has fewer sentences (a truncated file; BLEU against 90 references reads lower)."""
    warn_long_factor: float = 5.0
    """Warn when a sentence is longer than this many times its split's median length (a run-on line
    inflates BLEU; the published files stay under 3.4x)."""
    warn_dropped_share: float = 0.01
    """Warn when max_len drops (or truncates) more than this share of the training split's sentences
    (on the test split every dropped or truncated sentence is a warning: NLL_test leaves it out)."""
    warn_unk_share: float = 0.1
    """Warn when more than this share of a split's tokens read as <unk> (COCO's test split: 3.5 %)."""

    def __post_init__(self) -> None:
        check_finite(self, "dataset")
        self.line_tokenizer()  # checks the tokenizer and quote_spacing
        if self.vocabulary_from not in VOCABULARY_SOURCES:
            raise ValueError(
                f"dataset.vocabulary_from={self.vocabulary_from!r}: must be one of {', '.join(VOCABULARY_SOURCES)}"
            )
        if self.max_len_limit < 2:
            raise ValueError(f"dataset.max_len_limit={self.max_len_limit}: must be at least 2")
        if self.max_len is not None and self.max_len > self.max_len_limit:
            raise ValueError(
                f"dataset.max_len={self.max_len}: more than dataset.max_len_limit={self.max_len_limit}"
                " (raise the limit to accept it: sampling, scoring and BLEU cost grow with it)"
            )
        for name in ("warn_min_sentences", "warn_long_factor", "warn_dropped_share", "warn_unk_share"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"dataset.{name}={getattr(self, name)}: must be >= 0")
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

    def line_tokenizer(self) -> LineTokenizer:
        """How a line of this dataset becomes tokens (normalisation, then the tokeniser)."""
        return LineTokenizer(self.tokenizer, self.quote_spacing)


def data_dir(config: TextConfig) -> Path:
    """The folder of this dataset's files: the config's, else under $COTBENCH_DATA, else under data/."""
    if config.data_dir is not None:
        return Path(config.data_dir).expanduser()
    return data_root() / config.name


def training_file(config: TextConfig, folder: Path) -> str:
    """train_file, or train_substitute when train_file is absent and the substitute is there."""
    if config.train_substitute and not (folder / config.train_file).exists():
        if (folder / config.train_substitute).is_file():
            return config.train_substitute
    return config.train_file


def substitution_warning(config: TextConfig, folder: Path, sentences: int) -> str:
    found = published_file(config.train_file)
    how = f" (`python -m bench.data fetch {found[0]}` downloads it)" if found else ""
    return (
        f"dataset.train_file: {config.train_file} is not in {folder}{how}: training on its substitute"
        f" {config.train_substitute} ({sentences:,} sentences) instead"
    )


def unk_share(tokens: Tensor, vocabulary: Vocabulary) -> float:
    """Share of a split's sequence tokens (words and EOS, never PAD) that are UNK."""
    real = int((tokens != vocabulary.pad_id).sum())
    return int((tokens == vocabulary.unk_id).sum()) / real if real else 0.0


def _tokens(file: TextFile, config: TextConfig) -> list[list[str]]:
    line_tokenizer = config.line_tokenizer()
    return [line_tokenizer(line) for line in file.sentences]


def _encode(vocabulary: Vocabulary, words: list[list[str]], max_len: int, config: TextConfig, field: str) -> Tensor:
    tensor = vocabulary.encode(words, max_len, config.overlong, field)
    if tensor.shape[0] == 0:
        raise BenchError(f"dataset.{field}: no sentence fits dataset.max_len={max_len} (overlong=drop)")
    return tensor


def build_text(config: TextConfig) -> Dataset:
    """Read, normalise, tokenise and encode both splits; record what they were and what to beware of."""
    folder = data_dir(config)
    train_name = training_file(config, folder)
    files = {
        "train_file": read_text_file(folder / train_name, "train_file", config.name),
        "test_file": read_text_file(folder / config.test_file, "test_file", config.name),
    }
    words = {field: _tokens(file, config) for field, file in files.items()}
    source = words["train_file"] + (words["test_file"] if config.vocabulary_from == "train_and_test" else [])
    vocabulary = Vocabulary.from_sentences(source, config.tokenizer, config.max_vocab)
    max_len = choose_max_len(config, files["train_file"], words["train_file"])
    tensors = {field: _encode(vocabulary, words[field], max_len, config, field) for field in files}
    space = SequenceSpace(
        vocab_size=len(vocabulary),
        seq_len=max_len,
        start_token=vocabulary.bos_id,
        eos_token=vocabulary.eos_id,
        pad_token=vocabulary.pad_id,
        blocked_tokens=(vocabulary.pad_id, vocabulary.bos_id, vocabulary.unk_id),
    )
    substitute_for = config.train_file if train_name != config.train_file else None
    provenance, warnings = _describe(config, files, words, tensors, vocabulary, max_len, substitute_for)
    return Dataset(
        name=config.name,
        space=space,
        train=tensors["train_file"],
        test=tensors["test_file"],
        vocabulary=vocabulary,
        references=words["test_file"],
        reference_lines=[remove_soft_hyphens(line) for line in files["test_file"].sentences],
        provenance=provenance,
        warnings=warnings,
        line_tokenizer=config.line_tokenizer(),
    )


def _describe(
    config: TextConfig,
    files: dict[str, TextFile],
    words: dict[str, list[list[str]]],
    tensors: dict[str, Tensor],
    vocabulary: Vocabulary,
    max_len: int,
    substitute_for: str | None,
) -> tuple[dict[str, object], list[str]]:
    """metrics.json's `data` (files, sizes, shares, the sacreBLEU signature) and the warnings."""
    provenance: dict[str, object] = {
        "kind": "text",
        "tokenizer": config.tokenizer,
        "quote_spacing": config.quote_spacing,
        "vocabulary_from": config.vocabulary_from,
        "vocab_size": len(vocabulary),
        "max_len": max_len,
        "sacrebleu_signature": sacrebleu_signature(len(files["test_file"].sentences)),
    }
    warnings: list[str] = []
    for field, file in files.items():
        split = field.removesuffix("_file")
        overlong = sum(len(sentence) + 1 > max_len for sentence in words[field])
        share = unk_share(tensors[field], vocabulary)
        kept = tensors[field].shape[0]
        provenance[split] = {
            **file.provenance(),
            "kept": kept,
            "dropped": len(words[field]) - kept,
            "truncated": overlong if config.overlong == "truncate" else 0,
            "unk_share": share,
            "soft_hyphens_removed": sum(line.count(SOFT_HYPHEN) for line in file.sentences),
        }
        if split == "train" and substitute_for is not None:  # said in every record
            provenance[split]["substitute_for"] = substitute_for
        warnings += file_warnings(config, field, file, words[field])
        warnings += length_warning(config, field.removesuffix("_file"), overlong, len(words[field]), max_len)
        warnings += unk_warning(config, field, share)
    if substitute_for is not None:
        warnings.insert(0, substitution_warning(config, files["train_file"].path.parent, len(words["train_file"])))
    return provenance, warnings
