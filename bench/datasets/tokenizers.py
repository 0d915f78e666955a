"""The tokenisers a text dataset may use, the normalisation before them, and plain text for sacreBLEU.

`treebank` is what the published tables used: Texygen tokenised every line with nltk's Treebank
`word_tokenize`; `preserve_line=True` skips sentence splitting, which needs no downloaded nltk data
and changes nothing on one-sentence lines. `whitespace` splits on runs of whitespace (it leaves
"night." as one token, which moves COCO BLEU by up to 0.07).

Before tokenising, both splits of a dataset go through the same `normalize`: `quote_spacing=spaced`
makes every double quote a space-separated token. EMNLP News needs it: its training substitute
spells a closing quote `, "` and its test split `,"`, which Treebank turns into different tokens
(`` and ''): the 10,000 training sentences scored BLEU-5 0.1995 against test_emnlp.txt and 0.2100
against the same test sentences spelled the other way (gfs_news_test.txt). Spaced, the two spellings
of the 10,000 test sentences become identical, and the figure is 0.2101 against either.

`normalize` also removes every soft hyphen (U+00AD), whatever the settings: an invisible hyphenation
hint that Treebank keeps as a token of its own (EMNLP News has 7 in its test split and 2 in the
training substitute, each a junk word). A literal `<unk>` in the text (a corpus whose rare words
were already replaced) stays one token, which the vocabulary reads as UNK; Treebank alone would
split it into `<`, `unk`, `>`. `LineTokenizer` is the one place a dataset's lines become tokens:
the dataset itself, the Python API's `encode` and `cotbench-score` all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from bench.datasets.vocabulary import UNK

TOKENIZERS = ("treebank", "whitespace")
QUOTE_SPACINGS = ("asis", "spaced")
_QUOTE = re.compile(r'\s*"\s*')
SOFT_HYPHEN = "\u00ad"


def check_tokenizer(name: str) -> None:
    if name not in TOKENIZERS:
        raise ValueError(f"dataset.tokenizer={name!r}: must be one of {', '.join(TOKENIZERS)}")


def check_quote_spacing(name: str) -> None:
    if name not in QUOTE_SPACINGS:
        raise ValueError(f"dataset.quote_spacing={name!r}: must be one of {', '.join(QUOTE_SPACINGS)}")


def remove_soft_hyphens(line: str) -> str:
    """The line without its soft hyphens (U+00AD): invisible in print, junk tokens once tokenised."""
    return line.replace(SOFT_HYPHEN, "")


def normalize(line: str, quote_spacing: str) -> str:
    """The line as both splits are tokenised: soft hyphens removed; `spaced` also puts one space on
    each side of every double quote."""
    line = remove_soft_hyphens(line)
    if quote_spacing == "asis":
        return line
    check_quote_spacing(quote_spacing)
    return " ".join(_QUOTE.sub(' " ', line).split())


def plain_text(tokens: Sequence[str]) -> str:
    """A sample as sacreBLEU reads it, the same for every dataset and tokeniser: tokens joined by
    spaces, Treebank's quote tokens (`` and '') written back as ". sacreBLEU's 13a tokeniser splits
    punctuation itself. Measured with the training sentences as samples against the raw test lines:
    COCO 38.92 (the raw lines themselves 38.96), EMNLP 39.80 (39.80); Treebank's detokeniser instead
    gives 38.96 and 33.85 (it writes EMNLP's pre-split `We ' re` as `We're`, which 13a keeps whole)."""
    return " ".join('"' if token in ("``", "''") else token for token in tokens)


@cache
def _treebank_detokenizer():
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer()


def tokenize(line: str, name: str) -> list[str]:
    """The tokens of one line of text; a literal `<unk>` is one token with either tokeniser."""
    check_tokenizer(name)
    if name == "whitespace":
        return line.split()
    from nltk.tokenize import word_tokenize

    pieces = line.split(UNK)
    tokens = word_tokenize(pieces[0], preserve_line=True)
    for piece in pieces[1:]:
        tokens += [UNK, *word_tokenize(piece, preserve_line=True)]
    return tokens


@dataclass(frozen=True)
class LineTokenizer:
    """How one line of a dataset becomes its tokens: `normalize`, then `tokenize`. Every reader of
    text for a dataset (its own files, the API, the score command) uses the dataset's instance."""

    tokenizer: str
    quote_spacing: str = "asis"

    def __post_init__(self) -> None:
        check_tokenizer(self.tokenizer)
        check_quote_spacing(self.quote_spacing)

    def __call__(self, line: str) -> list[str]:
        return tokenize(normalize(line, self.quote_spacing), self.tokenizer)


def detokenize(tokens: Sequence[str], name: str) -> str:
    """Plain text for `tokens` (Treebank's detokeniser undoes its splits: "do n't" -> "don't")."""
    check_tokenizer(name)
    if name == "whitespace":
        return " ".join(tokens)
    return _treebank_detokenizer().detokenize(list(tokens))
