"""Reports trace their runs: runs from a dirty checkout are refused unless `--allow-dirty` (then the header
says so), runs made by different code are never averaged (the differing files named), and the header
lists the runs' revisions, fingerprints, CPUs and thread counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import main as report_main
from tests.run_folders import make_run
from tests.test_report_inputs import report_error

FILES = {"algorithms/mle.py": "1" * 64, "metrics/nll.py": "2" * 64}
INTEL = {"cpu": "Intel Xeon", "cpu_capability": "AVX512", "cores": 2, "torch_threads": 1, "gpu": "none"}


def code(revision: str = "a" * 40, dirty: bool | None = False, files: dict | None = None) -> dict:
    files = files or FILES
    fingerprint = "".join(sorted(files.values()))[:64].ljust(64, "0")
    return {"revision": revision, "dirty": dirty, "fingerprint": fingerprint, "files": files}


def readme(out: Path) -> str:
    return (out / "README.md").read_text()


def test_runs_from_a_dirty_checkout_are_refused_unless_allowed_and_then_the_header_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, metrics={"code": code(), "machine": INTEL})
    dirty = make_run(tmp_path / "s", "mle", 1, {"nll_oracle": 2.1}, metrics={"code": code(dirty=True)})
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err == (
        f"error: 1 run(s) were made from a checkout with uncommitted changes (e.g. {dirty}), so their code "
        "cannot be traced to a commit; commit and re-run them, or pass --allow-dirty"
    )
    assert not (tmp_path / "out").exists()
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out"), "--allow-dirty"]) == 0
    head = readme(tmp_path / "out").split("## Verdicts")[0]
    assert "- **made from uncommitted code**: 1 run(s) ran from a dirty checkout, admitted with `--allow-dirty`" in head


def test_runs_made_by_different_code_are_never_averaged_and_the_files_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A sweep, then changed and committed code, then one more seed: one row would mix two codes."""
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, metrics={"code": code()})
    changed = {**FILES, "algorithms/mle.py": "3" * 64}
    later = make_run(tmp_path / "s", "mle", 1, {"nll_oracle": 2.1}, metrics={"code": code("b" * 40, files=changed)})
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err.startswith("error: synthetic_tiny/mle: runs were made by different code (")
    assert f"and {later} differ in algorithms/mle.py); refusing to average them" in err
    unknown = make_run(tmp_path / "t", "mle", 0, {"nll_oracle": 2.0})
    make_run(tmp_path / "t", "mle", 1, {"nll_oracle": 2.0}, metrics={"code": code()})
    err = report_error(capsys, str(tmp_path / "t"), "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: synthetic_tiny/mle: {unknown} has no code record, other runs of the row do")


def test_different_code_in_different_rows_is_reported_and_listed_in_the_header(tmp_path: Path) -> None:
    amd = {**INTEL, "cpu": "AMD EPYC", "cpu_capability": "AVX2", "torch_threads": 2}
    for seed in (0, 1):
        make_run(tmp_path / "s", "mle", seed, {"nll_oracle": 2.0}, metrics={"code": code(), "machine": INTEL})
        other = {"code": code("c" * 40, files={"x.py": "9" * 64}), "machine": amd}
        make_run(tmp_path / "s", "cot", seed, {"nll_oracle": 2.0}, metrics=other)
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out")]) == 0
    head = readme(tmp_path / "out").split("## Verdicts")[0]
    assert f"- runs' code: revision `{'a' * 12}` (clean), fingerprint `{code()['fingerprint'][:12]}`: 2 run(s)" in head
    assert f"- runs' code: revision `{'c' * 12}` (clean)" in head
    assert "- runs' machine: `Intel Xeon (AVX512), 1 torch thread(s), GPU none`: 2 run(s)" in head
    assert "- runs' machine: `AMD EPYC (AVX2), 2 torch thread(s), GPU none`: 2 run(s)" in head


def test_runs_made_before_code_was_recorded_are_counted_as_such(tmp_path: Path) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out")]) == 0
    head = readme(tmp_path / "out").split("## Verdicts")[0]
    assert "- runs' code: no code record (made before runs recorded it): 1 run(s)" in head
    assert "- runs' machine: not recorded: 1 run(s)" in head


def test_a_tuning_selection_made_by_other_code_than_its_stage_two_runs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep = tmp_path / "s"
    changed = code("b" * 40, files={**FILES, "algorithms/mle.py": "3" * 64})
    for seed, lr, valid, made_by in ((100, 0.01, 2.0, code()), (100, 0.1, 1.0, code()), (0, 0.1, 1.1, changed)):
        history = [{"step": 0, "nll_valid": valid + 1}, {"step": 10, "nll_valid": valid}]
        config = {"algorithm.lr": lr}
        make_run(sweep, "mle", seed, {"nll_valid": valid}, config=config, history=history, metrics={"code": made_by})
    record = {
        "seeds": [100],
        "final_seeds": [0],
        "grid": {"mle": {"lr": [0.01, 0.1]}},
        "algorithms": {"mle": {"selected": 1}},
        "stage2": {"mle": [{"path": "mle/synthetic_tiny/seed0/algorithm.lr=0.1"}]},
    }
    (sweep / "tuning.json").write_text(json.dumps(record))
    err = report_error(capsys, str(sweep), "--out", str(tmp_path / "out"))
    assert err.startswith("error: synthetic_tiny/mle (tuning stages 1 and 2): runs were made by different code (")
    assert "differ in algorithms/mle.py)" in err


def test_the_reports_own_staging_folder_never_makes_its_commit_read_as_dirty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report written inside a clean checkout (`--out results/NAME`) first builds a hidden folder there;
    the commit is read before that folder exists, as `git status` would see it otherwise."""
    import bench.report.writer as writer

    out = tmp_path / "results" / "name"

    def revision_as_git_sees_it() -> str:  # any file below results/ that git does not know makes it dirty
        return "f" * 40 + ("+dirty" if out.parent.exists() and any(out.parent.iterdir()) else "")

    monkeypatch.setattr(writer, "git_revision", revision_as_git_sees_it)
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, metrics={"code": code(), "machine": INTEL})
    out.parent.mkdir()
    assert report_main([str(tmp_path / "s"), "--out", str(out)]) == 0
    assert f"- report made by commit: `{'f' * 40}`\n" in readme(out)
    assert json.loads((out / "report.json").read_text())["report_revision"] == "f" * 40
