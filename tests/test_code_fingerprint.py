"""Runs know the code that computed their figures: recorded, compared on resume, refused when it changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench import provenance
from bench.errors import BenchError
from bench.training import checkpoint
from bench.training.records import CHECKPOINT, file_record
from bench.training.run import run
from tests.conftest import compose_spec

TINY = ("dataset=synthetic_tiny", "train.steps=4", "eval.every=2", "eval.n_samples=50", "progress=false")


def test_the_fingerprint_covers_every_figure_computing_file_tracked_or_not(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "src"
    for folder in provenance.FIGURE_CODE:
        (source / folder).mkdir(parents=True)
    (source / "models" / "generator.py").write_text("A = 1\n")
    (source / "bench" / "report").mkdir(parents=True)
    (source / "bench" / "report" / "tables.py").write_text("B = 1\n")  # presents figures, computes none
    monkeypatch.setattr(provenance, "PACKAGE_PARENT", source)
    files = provenance.code_files()
    assert files == {"models/generator.py": hashlib.sha256(b"A = 1\n").hexdigest()}
    before = provenance.code_fingerprint(files)
    (source / "bench" / "report" / "tables.py").write_text("B = 2\n")
    assert provenance.code_fingerprint(provenance.code_files()) == before
    (source / "metrics" / "new.py").write_text("C = 1\n")  # a new, untracked file counts
    after = provenance.code_files()
    assert provenance.code_fingerprint(after) != before
    assert provenance.changed_files(files, after) == ["metrics/new.py"]


def test_a_run_records_its_code_and_machine(tmp_path: Path) -> None:
    run(compose_spec(*TINY), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    code = metrics["code"]
    assert code["fingerprint"] == provenance.code_fingerprint(code["files"])
    assert "algorithms/mle.py" in code["files"] and isinstance(code["dirty"], bool | None)
    machine = metrics["machine"]
    assert machine["torch_threads"] == 1 and machine["cores"] >= 1 and machine["cpu"]
    assert checkpoint.load(tmp_path / CHECKPOINT)["code"]["fingerprint"] == code["fingerprint"]


@pytest.mark.parametrize("budget", ["train.steps=4", "train.steps=6"])
def test_a_run_made_by_other_code_is_neither_continued_nor_called_complete(tmp_path: Path, budget: str) -> None:
    run(compose_spec(*TINY), tmp_path)
    saved = checkpoint.load(tmp_path / CHECKPOINT)
    saved["code"]["files"]["algorithms/mle.py"] = "0" * 64  # as if mle.py had changed since
    saved["code"]["fingerprint"] = provenance.code_fingerprint(saved["code"]["files"])
    checkpoint.save(tmp_path / CHECKPOINT, {k: v for k, v in saved.items() if k != "format"})
    metrics = json.loads((tmp_path / "metrics.json").read_text())  # the run as that code completed it
    (tmp_path / "metrics.json").write_text(json.dumps({**metrics, "files": file_record(tmp_path)}))
    before = (tmp_path / "metrics.json").read_text()
    overrides = [o for o in TINY if not o.startswith("train.steps")] + [budget]
    with pytest.raises(BenchError, match=r"made by other code \(changed since: algorithms/mle\.py\); resume=never"):
        run(compose_spec(*overrides), tmp_path)
    assert (tmp_path / "metrics.json").read_text() == before  # nothing touched
    final = run(compose_spec(*overrides, "resume=never"), tmp_path)
    assert final["step"] == int(budget.split("=")[1])
