"""The silent traps of a text corpus, made loud: one-line warnings by documented thresholds.

Each check returns warnings (a run prints them and keeps them in metrics.json under `warnings`);
the one trap that would make a run unusable, a max_len far beyond any sentence, is an error before
any work (`choose_max_len`). Thresholds are fields of `TextConfig` (`warn_*`, `max_len_limit`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Protocol

from bench.datasets.text_files import TextFile
from bench.errors import BenchError


class Thresholds(Protocol):
    max_len: int | None
    max_len_limit: int
    overlong: str
    warn_min_sentences: int
    warn_long_factor: float
    warn_dropped_share: float
    warn_unk_share: float


def choose_max_len(config: Thresholds, train: TextFile, words: Sequence[Sequence[str]]) -> int:
    """dataset.max_len, else the longest training sentence + 1; above max_len_limit: an error."""
    if config.max_len is not None:
        return config.max_len  # TextConfig refuses one above the limit
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    max_len = len(words[longest]) + 1
    if max_len > config.max_len_limit:
        raise BenchError(
            f"dataset.max_len: the longest training sentence (line {train.line_numbers[longest]} of {train.path}) has"
            f" {max_len - 1:,} tokens, so max_len would be {max_len:,}, more than dataset.max_len_limit="
            f"{config.max_len_limit}; set dataset.max_len (longer sentences are then dropped) or raise the limit"
        )
    return max_len


def file_warnings(config: Thresholds, field: str, file: TextFile, words: Sequence[Sequence[str]]) -> list[str]:
    """A byte-order mark, too few sentences, sentences far longer than the split's median."""
    warnings = []
    if file.had_bom:
        warnings.append(f"dataset.{field}: {file.path} starts with a UTF-8 byte-order mark (removed)")
    if len(words) < config.warn_min_sentences:
        warnings.append(
            f"dataset.{field}: {file.path} has {len(words):,} sentences, fewer than dataset.warn_min_sentences="
            f"{config.warn_min_sentences:,}: BLEU against few references reads lower and every figure is noisier"
        )
    median = statistics.median(len(sentence) for sentence in words)
    limit = config.warn_long_factor * max(median, 1)
    long = [i for i, sentence in enumerate(words) if len(sentence) > limit]
    if long:
        worst = max(long, key=lambda i: len(words[i]))
        factor = config.warn_long_factor
        warnings.append(
            f"dataset.{field}: {len(long):,} sentence(s) longer than dataset.warn_long_factor={factor:g}"
            f" x the median ({median:g} tokens), the longest at line {file.line_numbers[worst]} ({len(words[worst]):,}"
            " tokens): a run-on line adds n-grams to every BLEU reference table and inflates BLEU"
        )
    return warnings


def length_warning(config: Thresholds, field: str, overlong: int, total: int, max_len: int) -> list[str]:
    """Sentences dropped or truncated by max_len, beyond warn_dropped_share of the split."""
    if total == 0 or overlong / total <= config.warn_dropped_share:
        return []
    verb = "drops" if config.overlong == "drop" else "truncates"
    return [
        f"dataset.max_len={max_len} {verb} {overlong:,} of {total:,} {field} sentences ({overlong / total:.1%}, more"
        f" than dataset.warn_dropped_share={config.warn_dropped_share:g})"
    ]


def unk_warning(config: Thresholds, field: str, share: float) -> list[str]:
    """A split whose tokens are largely <unk> (never generated, never scored): its NLL covers little of it."""
    if share <= config.warn_unk_share:
        return []
    return [
        f"dataset.{field}: {share:.1%} of its tokens read as <unk> (more than dataset.warn_unk_share="
        f"{config.warn_unk_share:g}); they are left out of NLL_test and never generated (dataset.max_vocab too small?)"
    ]
