"""Faults a probe would try next on the report: two reports at once into one folder, a sweep on a read-only
file system, `--out` on one, a huge history.csv, a metrics.json nested past the parser's depth or that is
a folder, a config that is not UTF-8, a copied run, a tampered tuning.json, control and direction
characters in folder names, a sweep missing seeds, non-finite figures, `--out` pointed at the sweep."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.report import main as report_main
from bench.report.reading import LIMITS
from tests.conftest import REPO_ROOT, cli_env
from tests.mounts import in_private_mounts, report_command
from tests.processes import default_signals
from tests.run_folders import make_run
from tests.test_report_inputs import report_error


def hand_made(sweep: Path, seeds=(0, 1)) -> Path:
    for seed in seeds:
        make_run(sweep, "mle", seed, {"nll_oracle": 2.0 + seed})
        make_run(sweep, "cot", seed, {"nll_oracle": 1.5 + seed})
    return sweep


def test_two_reports_at_once_into_one_folder_end_with_one_whole_report(tmp_path: Path) -> None:
    sweep = hand_made(tmp_path / "s")
    out = tmp_path / "reports" / "out"
    command = report_command(str(sweep), "--out", str(out))
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=cli_env(),
            preexec_fn=default_signals(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    errors = [process.communicate()[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no staging or old folder left
    files = set(json.loads((out / "report.json").read_text())["files"])
    assert files == {p.name for p in out.iterdir()} - {"README.md", "report.json"}


def test_a_sweep_on_a_read_only_file_system_is_reported(tmp_path: Path) -> None:
    sweep = hand_made(tmp_path / "s")
    result = in_private_mounts(
        f"mount --bind {sweep} {sweep} && mount -o remount,bind,ro {sweep}",
        report_command(str(sweep), "--out", str(tmp_path / "out")),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "README.md").is_file()


def test_out_on_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    sweep = hand_made(tmp_path / "s")
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    result = in_private_mounts(
        f"mount --bind {shelf} {shelf} && mount -o remount,bind,ro {shelf}",
        report_command(str(sweep), "--out", str(shelf / "out")),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --out: cannot write {shelf / 'out'}: Read-only file system"


def test_a_huge_history_is_refused_before_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    with open(run_dir / "history.csv", "r+b") as stream:
        stream.truncate(LIMITS["csv"] + 1)  # sparse: no disk used, but larger than the report reads
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    size = LIMITS["csv"] + 1
    assert err == f"error: {run_dir / 'history.csv'}: {size:,} bytes, more than the {LIMITS['csv']:,} a report reads"


def test_a_metrics_json_nested_beyond_the_parser_or_a_folder_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep = hand_made(tmp_path / "s")
    deep = sweep / "deep" / "metrics.json"
    deep.parent.mkdir()
    deep.write_text("[" * 100_000 + "]" * 100_000)
    (sweep / "folder" / "metrics.json").mkdir(parents=True)
    assert report_main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {deep.parent}: unreadable ({deep}: not JSON (" in err
    assert f"{sweep / 'folder' / 'metrics.json'}: not a regular file" in err


def test_a_config_that_is_not_utf8_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    (run_dir / "config.yaml").write_bytes(b"seed: 0\nname: \xff\xfe\n")
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err == f"error: {run_dir / 'config.yaml'}: not UTF-8 text (byte 14)"


def test_a_copied_run_folder_is_refused_rather_than_counted_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    first = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    copy = make_run(tmp_path / "s" / "backup", "mle", 0, {"nll_oracle": 2.0})
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err.startswith("error: synthetic_tiny/mle: seed 0 twice (") and str(first) in err and str(copy) in err


def test_a_tuning_record_that_does_not_follow_from_its_runs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep = tmp_path / "s"
    for seed, lr, valid in ((100, 0.01, 2.0), (100, 0.1, 1.0), (0, 0.1, 1.1)):
        history = [{"step": 0, "nll_valid": valid + 1}, {"step": 10, "nll_valid": valid}]
        make_run(sweep, "mle", seed, {"nll_valid": valid}, config={"algorithm.lr": lr}, history=history)
    record = {
        "seeds": [100],
        "final_seeds": [0],
        "grid": {"mle": {"lr": [0.01, 0.1]}},
        "algorithms": {"mle": {"selected": 0}},  # lr 0.01, whose validation NLL is the worse
        "stage2": {"mle": [{"path": "mle/synthetic_tiny/seed0/algorithm.lr=0.1"}]},
    }
    (sweep / "tuning.json").write_text(json.dumps(record))
    err = report_error(capsys, str(sweep), "--out", str(tmp_path / "out"))
    assert err == (
        f"error: {sweep / 'tuning.json'}: its selection for mle (0) does not follow from the stage-1 runs "
        "(recomputed: 1); run `python -m bench.tune` again"
    )
    record["algorithms"]["mle"]["selected"] = 1
    (sweep / "tuning.json").write_text(json.dumps(record))
    assert report_main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    assert (
        "| mle         | lr=0.1          | 1      | 1          | 1.0000                       | selected   |" in readme
    )
    assert "this suite (n = 1)" in readme


def test_control_and_direction_characters_in_folder_names_are_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep = hand_made(tmp_path / "s")
    odd = sweep / "evil\nname\u202e" / "run"
    make_run(odd, "mle", 7, {"nll_oracle": 2.0}, status="failed")
    assert report_main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "evil\\nname\\u202e" in readme and "\u202e" not in readme
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert any(
        "evil\\nname\\u202e" in line and line.endswith(": failed (step 7: g_loss is nan (training diverged))")
        for line in warnings
    )


def test_a_row_missing_seeds_says_so_on_stderr_and_in_the_readme(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = hand_made(tmp_path / "s", seeds=(0, 1, 2))
    for name in ("metrics.json", "history.csv", "config.yaml"):
        (sweep / "cot" / "synthetic_tiny" / "seed2" / name).unlink()
    (sweep / "multirun.yaml").write_text('hydra:\n  overrides:\n    task: ["seed=0,1,2"]\n')
    assert report_main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning: synthetic_tiny/cot: seeds 2 missing: 2 of 3 seeds" in err
    assert "- `synthetic_tiny/cot`: seeds 2 missing: 2 of 3 seeds" in (tmp_path / "out" / "README.md").read_text()


def test_non_finite_figures_are_shown_as_missing_not_a_crash(tmp_path: Path) -> None:
    for seed, value in ((0, float("nan")), (1, float("inf")), (2, 2.0)):
        make_run(tmp_path / "s", "mle", seed, {"nll_oracle": value})
    assert report_main([str(tmp_path / "s"), "--out", str(tmp_path / "out")]) == 0
    assert "this suite (n = 3)" in (tmp_path / "out" / "README.md").read_text()


def test_out_pointed_at_the_sweep_itself_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = hand_made(tmp_path / "s")
    err = report_error(capsys, str(sweep), "--out", str(sweep))
    assert err == f"error: --out: {sweep} exists and is not a report folder; refusing to replace it"
    assert (sweep / "mle").is_dir()
