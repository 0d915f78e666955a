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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

TOKENIZERS = ("treebank", "whitespace")
QUOTE_SPACINGS = ("asis", "spaced")
_QUOTE = re.compile(r'\s*"\s*')


def check_tokenizer(name: str) -> None:
    if name not in TOKENIZERS:
        raise ValueError(f"dataset.tokenizer={name!r}: must be one of {', '.join(TOKENIZERS)}")


def check_quote_spacing(name: str) -> None:
    if name not in QUOTE_SPACINGS:
        raise ValueError(f"dataset.quote_spacing={name!r}: must be one of {', '.join(QUOTE_SPACINGS)}")


def normalize(line: str, quote_spacing: str) -> str:
    """The line as both splits are tokenised: `spaced` puts one space on each side of every double quote."""
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
    """The tokens of one line of text."""
    check_tokenizer(name)
    if name == "whitespace":
        return line.split()
    from nltk.tokenize import word_tokenize

    return word_tokenize(line, preserve_line=True)


def detokenize(tokens: Sequence[str], name: str) -> str:
    """Plain text for `tokens` (Treebank's detokeniser undoes its splits: "do n't" -> "don't")."""
    check_tokenizer(name)
    if name == "whitespace":
        return " ".join(tokens)
    return _treebank_detokenizer().detokenize(list(tokens))
