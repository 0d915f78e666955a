"""The report end to end on a real synthetic_tiny sweep made in-process, and its plots on hand-made curves."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.report import main
from bench.report.grouping import group_runs
from bench.report.plots import final_prefix_curves, plot_cot_jsd, plot_prefix_jsd
from bench.report.runs import collect
from bench.training.run import run
from tests.conftest import REPO_ROOT, compose_spec
from tests.run_folders import make_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = (
    "dataset=synthetic_tiny",
    "train.steps=20",
    "eval.every=10",
    "eval.n_samples=200",
    "progress=false",
    "threads=1",
)
FAST = ["--temperatures", "0.9,1", "--temperature-samples", "100", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MLE and CoT x 2 seeds on synthetic_tiny, 20 steps each, laid out as a sweep."""
    sweep = tmp_path_factory.mktemp("sweeps") / "tiny"
    for algorithm in ("mle", "cot"):
        for seed in (0, 1):
            cfg = compose_spec(f"algorithm={algorithm}", f"seed={seed}", *TINY)
            run(cfg, sweep / algorithm / "synthetic_tiny" / f"seed{seed}")
    return sweep


def test_report_of_a_real_sweep_writes_every_file_with_its_header(
    tiny_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "reports"
    assert main([str(tiny_sweep), "--out", str(out), *FAST]) == 0
    folder = out
    readme = (folder / "README.md").read_text()
    assert capsys.readouterr().out.strip() == readme.strip()
    head = readme.split("## What this shows")[0]
    assert head.startswith(f"<!-- Regenerate: python -m bench.report {tiny_sweep} --out {out}")
    for needle in ("- commit: ", "- date: ", "- CPU: ", "torch threads: 1", "- GPU: ", "torch 2.", "pandas "):
        assert needle in head
    shows = readme.split("## What this shows")[1].split("## synthetic_tiny")[0]
    assert "CoT reaches a lower NLL_oracle than MLE" in shows and "at end" in shows
    assert "SeqGAN" not in shows  # no SeqGAN run: its claim is not discussed
    assert "No published rows" in readme  # an embedded oracle is not the published benchmark
    table = pd.read_csv(folder / "table.csv", comment="#")
    assert set(table["source"]) == {"this suite"} and set(table["selection"]) == {"end", "best nll_valid"}
    end = table[table["selection"] == "end"]
    assert sorted(end["algorithm"]) == ["cot", "mle"]
    assert (end["n"] == 2).all() and (end["steps_mean"] == 20).all() and (end["wall_s_mean"] > 0).all()
    for name in ("entropy_mean", "nll_valid_mean", "jsd_prefix_mean_mean"):
        assert table[name].notna().all()
    finals = [r.final["nll_oracle"] for r in collect(tiny_sweep) if r.algorithm == "mle"]
    mle = end.set_index("algorithm").loc["mle"]
    assert mle["nll_oracle_mean"] == pytest.approx(sum(finals) / 2)
    assert mle["nll_oracle_std"] == pytest.approx(abs(finals[0] - finals[1]) / math.sqrt(2))
    tex = (folder / "table.tex").read_text()
    assert r"\toprule" in tex and r"\caption{" in tex and r"\label{tab:reports-synthetic_tiny}" in tex
    for name in ("learning_curves.png", "temperature_curves.png", "prefix_jsd.png", "cot_jsd.png"):
        png = (folder / name).read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) > 5000
    temperature = pd.read_csv(folder / "temperature.csv", comment="#")
    # one row per run, temperature and selection (the final model and the one at the best nll_valid)
    assert len(temperature) == 4 * 2 * 2 and set(temperature["temperature"]) == {0.9, 1.0}
    assert set(temperature["selection"]) == {"end", "best nll_valid"}
    assert not list(tmp_path.glob(".reports*"))  # no staging folder left behind


def test_default_output_is_outputs_reports_never_results(tiny_sweep: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([str(tiny_sweep), *FAST, "--temperatures", "1", "--name", "mine"]) == 0
    assert (tmp_path / "outputs" / "reports" / "mine" / "README.md").is_file()
    assert not (tmp_path / "results").exists()


def test_rerunning_replaces_a_report_whole(tiny_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir(parents=True)
    (out / "README.md").write_text("<!-- Regenerate: old -->\n")
    (out / "stale.png").write_bytes(b"old")
    assert main([str(tiny_sweep), "--out", str(out), *FAST, "--temperatures", "1"]) == 0
    assert not (out / "stale.png").exists() and (out / "table.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_a_folder_that_is_not_a_report_is_never_replaced(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("x")
    assert main([str(tiny_sweep), "--out", str(tmp_path / "precious"), *FAST]) == 2
    assert "exists and is not a report folder; refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "x"


def _history(steps, **curves) -> list[dict]:
    return [{"step": s, "wall_s": 2.0 * s, **{k: v[i] for k, v in curves.items()}} for i, s in enumerate(steps)]


def test_prefix_jsd_curves_are_the_last_evaluation_mean_over_seeds(tmp_path: Path) -> None:
    for seed, shift in ((0, 0.0), (1, 0.02)):
        run_dir = make_run(tmp_path, "mle", seed, {"nll_oracle": 2.0})
        rows = [
            {"step": step, "t": t, "jsd": 0.1 * t + shift + (0.5 if step == 0 else 0.0), "se": 0.01, "exact": t == 1}
            for step in (0, 10)
            for t in (1, 2, 3)
        ]
        pd.DataFrame(rows).to_csv(run_dir / "prefix_jsd.csv", index=False)
    groups = group_runs(collect(tmp_path))
    [runs] = groups.values()
    curves = final_prefix_curves(runs)
    assert curves.shape == (3, 2)
    assert curves.mean(axis=1).tolist() == pytest.approx([0.11, 0.21, 0.31])  # step 10 only, mean of 2 seeds
    [png, pdf] = plot_prefix_jsd(groups, tmp_path / "prefix_jsd")
    assert png.read_bytes().startswith(PNG_MAGIC) and pdf.read_bytes().startswith(b"%PDF")


def test_cot_jsd_figure_shows_the_three_curves_only_where_the_mediator_bound_exists(tmp_path: Path) -> None:
    for seed in (0, 1):
        history = _history(
            (0, 10, 20), jsd=[0.6, 0.5, 0.4], jsd_stepwise_bound=[0.9, 0.8, 0.7], jsd_mediator_bound=[0.7, 0.55, 0.45]
        )
        make_run(tmp_path, "cot", seed, {k: v for k, v in history[-1].items() if k != "wall_s"}, history=history)
        make_run(tmp_path, "mle", seed, {"jsd": 0.3}, history=_history((0, 10), jsd=[0.6, 0.3]))
    groups = group_runs(collect(tmp_path))
    [png, _] = plot_cot_jsd(groups, ("jsd",), tmp_path / "cot_jsd")
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 5000
    assert plot_cot_jsd(groups, ("nll_oracle",), tmp_path / "none") == []  # jsd saturated: no such figure


def test_parallel_sweep_through_joblib_processes(tmp_path: Path) -> None:
    """Two jobs in two processes at once: separate run directories, both complete, the report counts both."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable,
        "-m",
        "bench",
        "--multirun",
        "hydra/launcher=local",
        "hydra.launcher.n_jobs=2",
        "dataset=synthetic_tiny",
        "seed=0,1",
        "train.steps=30",
        "eval.every=15",
        "eval.n_samples=300",
        "progress=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = collect(tmp_path / "sweep")
    assert sorted(r.seed for r in runs) == [0, 1] and all(r.complete for r in runs)
    assert len({r.path for r in runs}) == 2
    assert all("threads: 1" in (r.path / "config.yaml").read_text() for r in runs)
    assert len({(r.path / ".lock").read_text() for r in runs}) == 2  # really two worker processes
    assert [len(members) for members in group_runs(runs).values()] == [2]
