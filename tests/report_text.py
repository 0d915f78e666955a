"""Reading a written report back: its generated prose, the numbers in it, and the numbers of its CSVs.

The report's verdict table and "What this shows" paragraphs are generated; every number they quote
must be a value (rounded as printed) of one of the report's CSVs. Names in code spans (`seqgan_tiny`,
`bleu5`) are not numbers and are skipped; `N %` may be a percentage column or a share.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

NUMBER = re.compile(r"[+\-−]?\d[\d,]*(?:\.\d+)?")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)*?\1")


def generated_prose(readme: str) -> str:
    """The verdict table and "What this shows" (the method statement before the table excluded)."""
    start = readme.index("## Verdicts")
    rest = readme[start:].split("\n## ")
    kept = [part for part in rest[1:] if part.startswith("What this shows")]
    table = rest[0].split("\n| ", 1)[1] if "\n| " in rest[0] else ""
    return CODE_SPAN.sub(" ", table + "\n" + "\n".join(kept))


def numbers(text: str) -> list[tuple[str, float, int, bool]]:
    """(as printed, value, decimals, followed by `%`) of every number that is not part of a word."""
    found = []
    for match in NUMBER.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        printed = match.group().rstrip(",")
        if before.isalnum() or before in "._" or after.isalpha() or after == "_":
            continue
        digits = printed.lstrip("+-−").replace(",", "")
        value = float(digits) * (-1 if printed[0] in "-−" else 1)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        percent = text[match.end() : match.end() + 2].strip().startswith("%")
        found.append((printed, value, decimals, percent))
    return found


def csv_values(folder: Path) -> list[float]:
    """Every number in every CSV of the report: numeric cells, and numbers inside text cells."""
    values: list[float] = []
    for path in sorted(folder.glob("*.csv")):
        for cell in pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel():
            try:
                values.append(float(cell))
            except ValueError:
                values += [value for _, value, _, _ in numbers(CODE_SPAN.sub(" ", cell))]
    return values


def missing_numbers(readme: str, folder: Path) -> list[str]:
    """The numbers of the generated prose that no CSV value gives when rounded as printed."""
    values = csv_values(folder)
    missing = []
    for printed, value, decimals, percent in numbers(generated_prose(readme)):
        candidates = (value, value / 100) if percent else (value,)
        if not any(
            abs(round(v, decimals + (2 if wanted != value else 0)) - wanted) < 1e-9
            for wanted in candidates
            for v in values
        ):
            missing.append(printed)
    return missing
