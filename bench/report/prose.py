"""The verdict table, its CSVs, and the "What this shows" paragraphs, all generated from the verdicts.

Nothing here is written by hand: each sentence is made from a verdict or a figure of the tables,
and every number it quotes is a value of the report's CSVs (a test reads them back), so the prose
can never say what the tables do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench.report.curves import MATCHED_POINTS, POINT_COLUMNS, CurveComparison
from bench.report.escape import code, markdown
from bench.report.stats import LEVEL, TEST
from bench.report.tables import markdown as markdown_table
from bench.report.verdicts import BETTER_WHERE_DECIDED, DOMINATES, Verdict, name

STATISTICS = (
    f"Every verdict rests on one test: {TEST} on the per-seed figures, as the {100 * LEVEL:.0f} % interval of the "
    "difference of means; a model is better only where that interval excludes zero, and with fewer than two "
    f'seeds on a side the answer is "cannot tell". A curve comparison is made at {MATCHED_POINTS} matched '
    f"points per compared figure, its whole family of tests held at {100 * LEVEL:.0f} % (Bonferroni)."
)


SELECTIONS = {"end": "final models", "best nll_valid": "models at their best nll_valid"}


def verdict_table(verdicts: Sequence[Verdict], with_section: bool) -> str:
    """The Markdown table: (data,) claim, models, selection, verdict, evidence."""
    rows = []
    for verdict in verdicts:
        row = {"data": code(verdict.section, in_table=True)} if with_section else {}
        row |= {"claim": markdown(verdict.claim), "models": f"{name(verdict.a)} vs {name(verdict.b)}"}
        row |= {"selection": markdown(verdict.selection), "verdict": verdict.verdict, "evidence": verdict.evidence}
        rows.append(row)
    return (
        markdown_table(pd.DataFrame(rows), cells_are_markdown=True)
        if rows
        else "No claim or comparison applies to these runs.\n"
    )


def verdicts_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """verdicts.csv: one row per verdict, its text and every number its evidence quotes."""
    rows = []
    for verdict in verdicts:
        row = {"section": verdict.section, "claim": verdict.claim, "model_a": verdict.a, "model_b": verdict.b}
        row |= {"selection": verdict.selection, "verdict": verdict.verdict}
        rows.append(row | verdict.numbers | {"evidence": verdict.evidence})
    return pd.DataFrame(rows)


POINT_KEYS = ("section", "model_a", "model_b", "selection", "matched")


def points_frame(comparisons: Sequence[tuple[str, CurveComparison]]) -> pd.DataFrame:
    """curve_points.csv: every matched point of every (section, curve comparison), with its interval and winner
    (the header alone when no comparison had points)."""
    frames = []
    for section, comparison in comparisons:
        if len(comparison.points):
            where = dict(zip(POINT_KEYS, (section, comparison.a, comparison.b, comparison.selection), strict=False))
            frames.append(comparison.points.assign(**where, matched=comparison.axes.matched))
    if not frames:
        return pd.DataFrame(columns=[*POINT_KEYS, *POINT_COLUMNS])
    return pd.concat(frames, ignore_index=True)[[*POINT_KEYS, *POINT_COLUMNS]]


def _comparison_sentence(verdict: Verdict) -> str:
    a, b, numbers = name(verdict.a), name(verdict.b), verdict.numbers
    if "tests" not in numbers:
        return f"cannot tell {a} from {b} ({verdict.evidence})"
    counts = f"{a} better at {numbers['points_a']}, {b} at {numbers['points_b']} of {numbers['tests']} matched tests"
    if verdict.verdict.endswith(DOMINATES):
        winner, loser = (a, b) if verdict.verdict.startswith(a) else (b, a)
        return f"{winner} dominates {loser} ({counts})"
    if verdict.verdict.endswith(BETTER_WHERE_DECIDED):
        winner, loser = (a, b) if verdict.verdict.startswith(a) else (b, a)
        return f"{winner} is better than {loser} where decided ({counts}; the rest undecided)"
    if verdict.verdict == "curves cross":
        return f"the curves of {a} and {b} cross ({counts})"
    return f"cannot tell {a} from {b} (no difference decided at any of {numbers['tests']} matched tests)"


def what_this_shows(section: str, verdicts: Sequence[Verdict], summary: pd.DataFrame) -> list[str]:
    """The section's paragraph: comparisons by selection, the published claims, the budgets."""
    mine = [v for v in verdicts if v.section == section]
    sentences = []
    for selection in dict.fromkeys(v.selection for v in mine if v.numbers.get("kind") == "comparison"):
        found = [v for v in mine if v.numbers.get("kind") == "comparison" and v.selection == selection]
        by_curve: dict[str, list[Verdict]] = {}
        for verdict in found:
            by_curve.setdefault(verdict.claim, []).append(verdict)
        models = SELECTIONS.get(selection, f"models at {selection}")
        for curve, members in by_curve.items():
            said = "; ".join(_comparison_sentence(v) for v in members)
            sentences.append(
                f"Temperature curves ({markdown(curve.removeprefix('temperature curves: '))}), {models}: {said}."
            )
    claims = [v for v in mine if v.numbers.get("kind") == "claim"]
    tested = [v for v in claims if not v.verdict.startswith("not tested")]
    for verdict in tested:
        sentences.append(
            f"{markdown(verdict.claim)}, {name(verdict.a)} vs {name(verdict.b)} at {verdict.selection}: "
            f"**{verdict.verdict}**."
        )
    if claims and not tested:
        sentences.append("The published claims about these models are not tested here (the table says why).")
    sentences.append(_budgets(summary))
    return [f"**{code(section)}.** " + " ".join(sentences), ""]


def _budgets(summary: pd.DataFrame) -> str:
    end = summary[summary["selection"] == "end"] if len(summary) else summary
    parts = []
    for _, row in end.iterrows():
        cpu = row.get("train_cpu_s_mean", math.nan)
        time = "" if not isinstance(cpu, float) or math.isnan(cpu) else f" ({cpu:,.0f} s training CPU)"
        parts.append(f"{name(row['group'])} {row['steps_mean']:,.0f} steps{time}")
    return f"Budgets at the end: {', '.join(parts)}." if parts else ""


def across_sections(verdicts: Sequence[Verdict], sections: Sequence[str], dataset: str) -> list[str]:
    """Whether the comparisons agree across the data variants (oracles) of one dataset: one line."""
    if len(sections) < 2:
        return []
    comparisons = [v for v in verdicts if v.numbers.get("kind") == "comparison" and v.section in sections]
    by_pair: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for verdict in comparisons:
        by_pair.setdefault((verdict.claim, verdict.a, verdict.b, verdict.selection), {})[verdict.section] = (
            verdict.verdict
        )
    differing = [(key, found) for key, found in by_pair.items() if len(set(found.values())) > 1]
    listed = ", ".join(code(section) for section in sections)
    head = f"Across the data variants of {code(dataset)} ({listed}): "
    if not by_pair:
        return [head + "no comparison was made on them.", ""]
    if not differing and all(v.verdict == "cannot tell" for v in comparisons):
        return [head + "no comparison tells the models apart on any of them.", ""]
    if not differing:
        return [head + "every comparison's verdict is the same on each, so the ranking holds on all of them.", ""]
    parts = []
    for (_, a, b, selection), found in differing:
        each = "; ".join(f"{verdict} on {code(section)}" for section, verdict in found.items())
        parts.append(f"{name(a)} vs {name(b)} at {selection}: {each}")
    return [head + "the ranking does not hold on all of them: " + "; ".join(parts) + ".", ""]
