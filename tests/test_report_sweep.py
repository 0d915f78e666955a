"""The report end to end: on a real sweep made in-process (its tables, claims, temperature curves and the
data its plots show), where it writes, how it replaces a report, and a sweep run by parallel processes."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.evaluation.catalogue import axis_label
from bench.report import main
from bench.report.grouping import group_runs
from bench.report.plots import COT_CURVES
from bench.report.runs import collect
from bench.training.run import run
from tests.conftest import REPO_ROOT, cli_env, compose_spec
from tests.plotted import Plot
from tests.run_folders import make_run

TINY = (
    "dataset=synthetic_tiny",
    "dataset.vocab_size=4",
    "dataset.seq_len=4",
    "train.steps=20",
    "eval.every=10",
    "eval.n_samples=200",
    "progress=false",
)
FAST = ["--temperatures", "0.9,1", "--temperature-samples", "100", "--threads", "1", "--allow-dirty"]
"""`--allow-dirty`: these runs are made by the checkout under test, which may have uncommitted changes."""


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
    tiny_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture, plots_saved: dict[str, Plot]
) -> None:
    out = tmp_path / "reports"
    assert main([str(tiny_sweep), "--out", str(out), *FAST]) == 0
    folder = out
    readme = (folder / "README.md").read_text()
    assert capsys.readouterr().out.strip() == readme.strip()
    head = readme.split("## Verdicts")[0]
    assert head.startswith(f"<!-- Regenerate: python -m bench.report {tiny_sweep} --out {out}")
    for needle in ("- report made by commit: ", "- date: ", "- CPU: ", "torch threads: 1", "- GPU: ", "torch 2."):
        assert needle in head
    assert "- runs' code: revision `" in head and "fingerprint `" in head and ": 4 run(s)" in head
    assert "- runs' machine: `" in head and "1 torch thread(s)" in head
    verdicts = pd.read_csv(folder / "verdicts.csv")
    cot_claim = verdicts[verdicts["claim"].str.startswith("CoT reaches a lower NLL_oracle than MLE")]
    assert set(cot_claim["selection"]) == {"end", "best nll_valid"}  # one verdict per claim, pair and selection
    assert cot_claim["verdict"].str.startswith("not tested: these data are not its benchmark").all()
    assert not verdicts["claim"].str.contains("SeqGAN reaches").any()  # no SeqGAN run: its claim is not discussed
    assert "No published rows" in readme  # an embedded oracle is not the published benchmark
    table = pd.read_csv(folder / "table.csv")
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
    temperature = pd.read_csv(folder / "temperature.csv")
    # one row per run, temperature and selection (the final model and the one at the best nll_valid)
    assert len(temperature) == 4 * 2 * 2 and set(temperature["temperature"]) == {0.9, 1.0}
    assert set(temperature["selection"]) == {"end", "best nll_valid"}
    assert not list(tmp_path.glob(".reports*"))  # no staging folder left behind
    assert {"learning_curves", "learning_curves_wall_clock", "prefix_jsd", "cot_jsd", "temperature_curves"} <= set(
        plots_saved
    )
    assert all((folder / f"{stem}.png").is_file() and (folder / f"{stem}.pdf").is_file() for stem in plots_saved)
    assert_plots_show_the_runs(plots_saved, tiny_sweep, temperature)


def mean_by(frames: list[pd.DataFrame], key: str, column: str) -> pd.Series:
    """`column`'s mean over runs at each value of `key`."""
    return pd.concat([frame.set_index(key)[column] for frame in frames], axis=1).mean(axis=1)


def assert_plots_show_the_runs(plots: dict[str, Plot], sweep: Path, temperature: pd.DataFrame) -> None:
    """The learning curves, prefix-JSD curves, CoT JSD figure and temperature curves show the runs' means."""
    histories = {a: [pd.read_csv(p) for p in sorted(sweep.glob(f"{a}/*/*/history.csv"))] for a in ("mle", "cot")}
    learning = plots["learning_curves"]
    assert learning.columns == 4 and len(learning.panels) == 8  # the eight synthetic figures, two rows of four
    assert learning.panels[0].ylabel == axis_label("nll_oracle")
    assert [sorted(labels) for labels in learning.legends] == [["cot (n = 2)", "mle (n = 2)"]]
    for algorithm, frames in histories.items():
        expected = mean_by(frames, "step", "nll_oracle")
        x, y = learning.panel(axis_label("nll_oracle")).curves[f"{algorithm} (n = 2)"]
        assert x == expected.index.tolist() and y == pytest.approx(expected.tolist())
    [cot_panel] = plots["cot_jsd"].panels  # MLE has no mediator, so no panel
    x, y = cot_panel.curves[COT_CURVES["jsd_mediator_bound"]]
    assert y == pytest.approx(mean_by(histories["cot"], "step", "jsd_mediator_bound").tolist())

    prefix = [pd.read_csv(p) for p in sorted(sweep.glob("mle/*/*/prefix_jsd.csv"))]
    last = [frame[frame["step"] == frame["step"].max()] for frame in prefix]
    x, y = plots["prefix_jsd"].panels[0].curves["mle (n = 2)"]
    assert y == pytest.approx(mean_by(last, "t", "jsd").tolist())

    end, best = plots["temperature_curves"].panels  # the final models, then those at the best nll_valid
    assert "final models" in end.title and "best nll_valid" in best.title
    for panel, selection in ((end, "end"), (best, "best nll_valid")):
        for algorithm in ("mle", "cot"):
            rows = temperature[(temperature["selection"] == selection) & (temperature["algorithm"] == algorithm)]
            means = rows.groupby("temperature")[["nll_test", "nll_oracle"]].mean()
            x, y = panel.curves[algorithm]
            assert x == pytest.approx(means["nll_test"].tolist()) and y == pytest.approx(means["nll_oracle"].tolist())


def test_default_output_is_outputs_reports_never_results(tmp_path: Path, monkeypatch) -> None:
    make_run(tmp_path / "sweep", "mle", 0, {"nll_oracle": 2.0})
    monkeypatch.chdir(tmp_path)
    assert main([str(tmp_path / "sweep"), "--name", "mine"]) == 0
    assert (tmp_path / "outputs" / "reports" / "mine" / "README.md").is_file()
    assert not (tmp_path / "results").exists()


def test_rerunning_replaces_a_report_whole(tmp_path: Path) -> None:
    make_run(tmp_path / "sweep", "mle", 0, {"nll_oracle": 2.0})
    out = tmp_path / "reports"
    out.mkdir(parents=True)
    (out / "README.md").write_text("<!-- Regenerate: old -->\n")
    (out / "stale.png").write_bytes(b"old")
    assert main([str(tmp_path / "sweep"), "--out", str(out)]) == 0
    assert not (out / "stale.png").exists() and (out / "table.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "sweep"]


def test_a_folder_that_is_not_a_report_is_never_replaced(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("x")
    assert main([str(tiny_sweep), "--out", str(tmp_path / "precious"), *FAST]) == 2
    assert "exists and is not a report folder; refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "x"


@pytest.mark.slow
def test_parallel_sweep_through_joblib_processes(tmp_path: Path) -> None:
    """Two jobs in two processes at once: separate run directories, both complete, the report counts both."""
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
    result = subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    runs = collect(tmp_path / "sweep")
    assert sorted(r.seed for r in runs) == [0, 1] and all(r.complete for r in runs)
    assert len({r.path for r in runs}) == 2
    assert all("threads: 1" in (r.path / "config.yaml").read_text() for r in runs)
    assert len({(r.path / ".lock").read_text() for r in runs}) == 2  # really two worker processes
    assert [len(members) for members in group_runs(runs).values()] == [2]
