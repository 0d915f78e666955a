"""The report's inputs: a results folder is read without importing anything it names (unless the user
trusts that exact target), and every bad input or failure is one line that leaves the previous report whole."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.report import main as report_main
from bench.training.run import run
from tests.conftest import compose_spec
from tests.run_folders import make_run

PLUGIN = 'from pathlib import Path\nPath(__file__).with_name("MARKER").write_text("ran")\ndef build(c):\n    return c\n'


def report_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert report_main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.strip()


@pytest.mark.parametrize(
    "target", ["cotbench_plugin.build", "this.s", "os.system", "bench", "bench.cli.os.system", "algorithms.mle.os"]
)
def test_a_foreign_target_in_a_saved_config_is_refused_before_any_import(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    sweep = tmp_path / "downloaded"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0}, config={"dataset._target_": target})
    (sweep / "cotbench_plugin.py").write_text(PLUGIN)
    monkeypatch.chdir(sweep)  # as `python -m bench.report .` from inside the folder: it is on sys.path
    monkeypatch.syspath_prepend(str(sweep))
    before = set(sys.modules)
    err = report_error(capsys, ".", "--out", str(tmp_path / "out"))
    assert f"dataset._target_={target} is not a target the suite ships; refusing to import it" in err
    assert not (sweep / "MARKER").exists()
    assert not {"cotbench_plugin", "this"} & (set(sys.modules) - before)
    assert not (tmp_path / "out").exists()


def test_a_target_the_user_trusts_is_admitted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, config={"algorithm._target_": "myalgos.Thing"})
    trusted = ["--allow-target", "myalgos.Thing"]
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out"), *trusted]) == 0
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out2"), "--allow-target", "myalgos")
    assert "algorithm._target_=myalgos.Thing is not a target the suite ships" in err  # exact names, not prefixes


@pytest.mark.parametrize("missing", ["history.csv", "config.yaml"])
def test_a_complete_run_missing_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, missing: str) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    (run_dir / missing).unlink()
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err == f"error: {run_dir}: complete run without {missing} (restore it or move the run away)"


def test_an_unreadable_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    (run_dir / "config.yaml").write_text("dataset: [unclosed\n")
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: {run_dir / 'config.yaml'}: unreadable (")


def test_an_unknown_device_and_an_unwritable_out_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    err = report_error(capsys, str(tmp_path / "s"), "--device", "tpu")
    assert err == "error: --device=tpu: must be auto, cpu, cuda or cuda:N"
    (tmp_path / "file").write_text("a file, not a folder")
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "file" / "reports"))
    assert err.startswith(f"error: --out: cannot write {tmp_path / 'file' / 'reports'}: ")


def test_an_unreadable_model_skips_that_run_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "s"
    for seed in (0, 1):
        quick = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.n_samples=50")
        run(
            compose_spec(f"seed={seed}", *quick, "train.steps=4", "eval.every=4", "progress=false"),
            sweep / f"seed{seed}",
        )
    (sweep / "seed1" / "model.pt").write_bytes(b"garbage")
    args = ["--out", str(tmp_path / "out"), "--temperatures", "1", "--temperature-samples", "50", "--threads", "1"]
    args.append("--allow-dirty")  # runs of the checkout under test, which may have uncommitted changes
    assert report_main([str(sweep), *args]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    left_out = readme.split("## Runs left out")[1]
    assert f"`{sweep / 'seed1'}`: model.pt unreadable, left out of the temperature curves" in left_out
    assert "this suite (n = 2)" in readme  # its final figures still count
    temperature = (tmp_path / "out" / "temperature.csv").read_text().splitlines()
    # columns, seed 0 only: its best nll_valid is its last evaluation, so its final model gives both
    # selections' rows
    assert len(temperature) == 1 + 2


def test_a_report_failing_halfway_leaves_the_previous_report_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    out = tmp_path / "out"
    assert report_main([str(tmp_path / "s"), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = make_run(tmp_path / "s", "cot", 0, {"nll_oracle": 2.0})
    (broken / "history.csv").write_text("step\n")  # found only while the tables are being written
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(out))
    assert err == f"error: {broken / 'history.csv'}: has no evaluation rows with a step column"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s"]  # no staging folder left behind
