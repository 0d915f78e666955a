"""The tokenisers a text dataset may use, and their inverses for tools that want plain text (sacreBLEU).

`treebank` is what the published tables used: Texygen tokenised every line with nltk's Treebank
`word_tokenize`; `preserve_line=True` skips sentence splitting, which needs no downloaded nltk data
and changes nothing on one-sentence lines. `whitespace` splits on runs of whitespace (it leaves
"night." as one token, which moves COCO BLEU by up to 0.07).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

TOKENIZERS = ("treebank", "whitespace")


def check_tokenizer(name: str) -> None:
    if name not in TOKENIZERS:
        raise ValueError(f"dataset.tokenizer={name!r}: must be one of {', '.join(TOKENIZERS)}")


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
