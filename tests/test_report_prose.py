"""A report of a real sweep on two oracles: one section per oracle and a line across them, every number of
the generated prose found in the report's CSVs, CSVs that are data only, and the sidecar JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.report import main
from bench.report.prose import _comparison_sentence, across_sections
from bench.report.verdicts import Verdict
from bench.training.run import run
from tests.conftest import compose_spec
from tests.report_text import generated_prose, missing_numbers
from tests.test_report_sweep import TINY

REPORT = ["--temperatures", "0.5,1,2,4", "--temperature-samples", "100", "--threads", "1", "--allow-dirty"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MLE and CoT x 2 seeds on two oracles of synthetic_tiny, and their report."""
    root = tmp_path_factory.mktemp("oracles")
    for oracle in (1, 2):
        for algorithm in ("mle", "cot"):
            for seed in (0, 1):
                overrides = (*TINY, f"algorithm={algorithm}", f"seed={seed}", f"dataset.oracle_seed={oracle}")
                run(compose_spec(*overrides), root / "sweep" / algorithm / f"seed{seed},oracle{oracle}")
    assert main([str(root / "sweep"), "--out", str(root / "report"), *REPORT]) == 0
    return root / "report"


def test_each_oracle_is_a_section_and_a_line_says_whether_the_ranking_holds_on_both(report: Path) -> None:
    readme = (report / "README.md").read_text()
    for oracle in (1, 2):
        assert f"## synthetic_tiny (dataset.oracle_seed={oracle}): figures" in readme
        for stem in ("table", "runs", "temperature"):
            assert (report / f"{stem}_synthetic_tiny_dataset_oracle_seed_{oracle}.csv").is_file()
        for stem in ("learning_curves", "prefix_jsd", "cot_jsd", "temperature_curves"):
            assert (report / f"{stem}_synthetic_tiny_dataset_oracle_seed_{oracle}.png").is_file()
    assert "Across the data variants of `synthetic_tiny` (`synthetic_tiny (dataset.oracle_seed=1)`" in readme
    verdicts = pd.read_csv(report / "verdicts.csv")
    assert set(verdicts["section"]) == {f"synthetic_tiny (dataset.oracle_seed={oracle})" for oracle in (1, 2)}
    shows = readme.split("## What this shows")[1].split("\n## ")[0]
    assert shows.count("**`synthetic_tiny (dataset.oracle_seed=") == 2


def test_every_number_of_the_generated_prose_is_in_the_reports_csvs(report: Path) -> None:
    readme = (report / "README.md").read_text()
    assert missing_numbers(readme, report) == []
    assert "What this shows" in readme and len(generated_prose(readme)) > 200
    planted = readme.replace("## What this shows\n", "## What this shows\n\nNLL_oracle 12.345 at τ = 0.77.\n")
    assert missing_numbers(planted, report) == ["12.345", "0.77"]  # the check can fail


def test_every_csv_is_data_only_and_its_numeric_columns_are_numbers(report: Path) -> None:
    written = sorted(report.glob("*.csv"))
    assert {"verdicts.csv", "curve_points.csv"} <= {path.name for path in written} and len(written) >= 8
    for path in written:
        assert not path.read_text().startswith("#"), path
        table = pd.read_csv(path)
        for column in table.columns:
            values = table[column].dropna()
            parses = pd.to_numeric(values, errors="coerce").notna()
            if parses.any() and column not in ("configuration",):
                assert parses.all() and pd.api.types.is_numeric_dtype(table[column]), (path.name, column)
    runs = pd.read_csv(report / "runs_synthetic_tiny_dataset_oracle_seed_1.csv")
    assert runs["seed"].dtype.kind == "i" and runs["nll_oracle"].dtype.kind == "f"


def test_the_sidecar_json_holds_the_command_and_every_runs_provenance(report: Path) -> None:
    sidecar = json.loads((report / "report.json").read_text())
    assert sidecar["command"].startswith("python -m bench.report ") and "--allow-dirty" in sidecar["command"]
    assert sidecar["statistics"] == {"test": "Welch's t", "level": 0.95, "matched_points": 5}
    assert len(sidecar["runs"]) == 8 and all(len(r["fingerprint"]) == 64 for r in sidecar["runs"])
    assert {r["torch_threads"] for r in sidecar["runs"]} == {1} and all(r["cpu"] for r in sidecar["runs"])
    assert set(sidecar["files"]) == {path.name for path in report.iterdir()} - {"README.md", "report.json"}


def verdict(section: str, a: str, b: str, said: str) -> Verdict:
    claim = "temperature curves: NLL_oracle and NLL_test at matched entropy"
    return Verdict(section, claim, a, b, "end", said, "", {"kind": "comparison"})


def test_the_line_across_oracles_names_each_comparison_that_differs() -> None:
    same = [verdict(s, "cot", "mle", "`cot` dominates") for s in ("x (o=1)", "x (o=2)")]
    [line, _] = across_sections(same, ["x (o=1)", "x (o=2)"], "x")
    assert line.endswith("every comparison's verdict is the same on each, so the ranking holds on all of them.")
    undecided = [verdict(s, "cot", "mle", "cannot tell") for s in ("x (o=1)", "x (o=2)")]
    [line, _] = across_sections(undecided, ["x (o=1)", "x (o=2)"], "x")
    assert line.endswith("no comparison tells the models apart on any of them.")
    differ = [verdict("x (o=1)", "cot", "mle", "`cot` dominates"), verdict("x (o=2)", "cot", "mle", "cannot tell")]
    [line, _] = across_sections(differ, ["x (o=1)", "x (o=2)"], "x")
    assert "the ranking does not hold on all of them: `cot` vs `mle` at end: `cot` dominates on `x (o=1)`" in line
    assert line.endswith("cannot tell on `x (o=2)`.")
    assert across_sections(same, ["x (o=1)"], "x") == []


@pytest.mark.parametrize(
    ("said", "sentence"),
    [
        ("`a` dominates", "`a` dominates `b` (`a` better at 10, `b` at 0 of 10 matched tests)"),
        (
            "`b` better where decided",
            "`b` is better than `a` where decided (`a` better at 0, `b` at 2 of 10 matched tests; the rest undecided)",
        ),
    ],
)
def test_one_sided_verdicts_read_as_their_counts_allow(said: str, sentence: str) -> None:
    found = verdict("s", "a", "b", said)
    wins_a = 10 if said.endswith("dominates") else 0
    found.numbers.update(tests=10, points_a=wins_a, points_b=2 if wins_a == 0 else 0)
    assert _comparison_sentence(found) == sentence
