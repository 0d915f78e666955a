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
    if file.other_line_breaks:
        warnings.append(
            f"dataset.{field}: {file.path} has {file.other_line_breaks:,} character(s) that other readers take for"
            f" line breaks (U+2028, U+0085, a lone CR, ...; the first on line {file.first_other_break_line}):"
            " lines end at \\n only, so they stay inside their sentences and read as spaces"
        )
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
    """Sentences dropped or truncated by max_len: on the training split beyond warn_dropped_share of it;
    on the test split every one, since NLL_test silently leaves out (or cuts) each of them."""
    if total == 0 or overlong == 0:
        return []
    verb = "drops" if config.overlong == "drop" else "truncates"
    counted = f"dataset.max_len={max_len} {verb} {overlong:,} of {total:,} {field} sentences"
    if field == "test":
        effect = "leaves them out" if config.overlong == "drop" else "scores them without their ends"
        return [f"{counted} ({overlong / total:.2%}): NLL_test {effect}; BLEU keeps every test sentence as a reference"]
    if overlong / total <= config.warn_dropped_share:
        return []
    return [f"{counted} ({overlong / total:.1%}, more than dataset.warn_dropped_share={config.warn_dropped_share:g})"]


def unk_warning(config: Thresholds, field: str, share: float) -> list[str]:
    """A split whose tokens are largely <unk> (never generated, never scored): its NLL covers little of it."""
    if share <= config.warn_unk_share:
        return []
    return [
        f"dataset.{field}: {share:.1%} of its tokens read as <unk> (more than dataset.warn_unk_share="
        f"{config.warn_unk_share:g}); they are left out of NLL_test and never generated (dataset.max_vocab too small?)"
    ]
