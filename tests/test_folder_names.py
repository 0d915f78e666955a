"""Run and sweep folder names: one plain path component per name, never climbing out of its folder,
paths and long values as a short hash (the full value in config.yaml), ad-hoc sweeps readable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from bench.config.folders import MAX_NAME_BYTES, run_folder, short_hash, sweep_name
from bench.config.schema import compose_with_hydra
from bench.config.spec import resolve_spec, without_hydra
from bench.errors import BenchError
from bench.training.run import run
from tests.conftest import compose_spec

QUICK = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "train.steps=2", "eval.every=2")
QUICK = (*QUICK, "eval.n_samples=50", "progress=false")


def run_dir_of(*overrides: str) -> str:
    """The run folder `python -m bench OVERRIDES` would write (hydra.run.dir, resolved)."""
    return str(OmegaConf.select(compose_with_hydra(overrides), "hydra.run.dir"))


@pytest.mark.parametrize(
    "override",
    [
        "dataset.oracle_path=/abs/path/to/oracle.pkl",
        "dataset.oracle_path=../../../../etc",
        "dataset.oracle_path='a b/../../c'",
        "dataset.oracle_path='" + "x" * 300 + "'",
        "dataset.oracle_path='tab\there'",
    ],
)
def test_a_path_or_long_value_enters_the_run_folder_as_one_hashed_name(override: str) -> None:
    folder = Path(run_dir_of("dataset=synthetic_tiny", override))
    assert folder.parent == Path("outputs/runs/mle/synthetic_tiny")  # one component: no nesting, no escape
    assert folder.name.startswith("seed0,dataset.oracle_path=sha256-") and ".." not in folder.parts
    assert len(folder.name.encode()) <= MAX_NAME_BYTES


def test_a_data_folder_climbing_up_stays_inside_the_runs_folder() -> None:
    folder = Path(run_dir_of("dataset=coco", "dataset.data_dir=../../.."))
    assert folder.parent == Path("outputs/runs/mle/coco") and folder.name.startswith("seed0,dataset.data_dir=sha256-")


def test_the_full_value_stays_in_config_yaml(tmp_path: Path) -> None:
    oracle = tmp_path / "deep" / "folder" / "oracle.pkl"
    name = run_folder(0, [f"dataset.oracle_path={oracle}"])
    assert name == f"seed0,dataset.oracle_path={short_hash(str(oracle))}"
    spec = compose_spec(*QUICK, f"dataset.oracle_path={oracle}")
    assert spec.resolved["dataset"]["oracle_path"] == str(oracle)
    assert yaml.safe_load(yaml.safe_dump(spec.resolved))["dataset"]["oracle_path"] == str(oracle)


def test_short_plain_values_stay_readable_and_many_overrides_stay_within_the_limit() -> None:
    assert run_folder(3, ["algorithm.lr=0.1", "model.hidden_dim=12"]) == "seed3,algorithm.lr=0.1,model.hidden_dim=12"
    assert run_folder(0, ["algorithm.betas=[0.9,0.99]"]) == "seed0,algorithm.betas=[0.9,0.99]"
    assert run_folder(0, ["dataset.name=données"]) == "seed0,dataset.name=données"  # letters of any script
    many = [f"dataset.n_train={n}" for n in range(60)]
    name = run_folder(0, many)
    assert len(name.encode()) <= MAX_NAME_BYTES and name.startswith("seed0,overrides-sha256-")


def test_ad_hoc_sweeps_get_names_to_read_and_type() -> None:
    name = sweep_name(None, None, "synthetic_tiny", ["eval.every=100", "algorithm.lr=0.1,0.2", "seed=0,1"])
    assert name == "synthetic_tiny__algorithm.lr-0.1+0.2__eval.every-100"
    assert "," not in name and "=" not in name  # Hydra's own overrides split on both
    assert sweep_name(None, None, "coco", ["dataset.data_dir=/data/coco"]) == "coco__dataset.data_dir-" + short_hash(
        "/data/coco"
    )
    assert sweep_name(None, None, "x", ["model.hidden_dim=" + "9" * 40]).startswith("x__model.hidden_dim-sha256-")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("hydra.job.name=../../x", "hydra.job.name='../../x': must be one plain file name"),
        ("hydra.job.name=.hidden", "hydra.job.name='.hidden': may not start with '.'"),
        ("sweep=../..", "sweep='../..': must be one plain folder name"),
        ("sweep=a/b", "sweep='a/b': must be one plain folder name"),
        ("sweep='a\nb'", "sweep='a\\nb': must be one plain folder name"),
        ("experiment=nope/../smoke", "experiment=nope/../smoke: a config name may not contain '..'"),
    ],
)
def test_a_name_that_would_climb_out_of_its_folder_is_refused_before_anything_is_written(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch, override: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = cli_in_process(*QUICK, override)
    assert status == 2 and err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_a_unicode_job_name_names_the_log_file(tmp_path: Path, cli_in_process) -> None:
    status, _, err = cli_in_process(*QUICK, "hydra.job.name='café'", f"hydra.run.dir={tmp_path}")
    assert status == 0, err
    assert (tmp_path / "café.log").is_file() and not (tmp_path / "cotbench.log").exists()


def test_a_job_name_with_a_path_is_refused_whatever_resolves_the_run(tmp_path: Path) -> None:
    cfg = compose_with_hydra(QUICK)
    with pytest.raises(BenchError, match="hydra.job.name='../escape': must be one plain file name"):
        resolve_spec(without_hydra(cfg), "mle", job_name="../escape")
    run(resolve_spec(without_hydra(cfg), "mle", job_name="plain"), tmp_path)
    assert (tmp_path / "plain.log").is_file() and not list(tmp_path.parent.glob("escape*"))


def test_a_sweep_over_a_named_value_keeps_every_job_in_one_sweep_folder(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hydra composes each job again from its own overrides: a sweep named after them must not split
    into one folder per value (`algorithm.lr-0.02`, `algorithm.lr-0.1`)."""
    monkeypatch.chdir(tmp_path)
    status, _, err = cli_in_process("-m", *QUICK, "algorithm.lr=0.02,0.1")
    assert status == 0, err
    [sweep] = (tmp_path / "outputs" / "sweeps").iterdir()
    assert sweep.name.startswith("synthetic_tiny__algorithm.lr-0.02+0.1__")
    runs = sorted(p.parent.name for p in sweep.rglob("metrics.json"))
    assert [name.split(",")[:2] for name in runs] == [["seed0", "algorithm.lr=0.02"], ["seed0", "algorithm.lr=0.1"]]
    assert len((sweep / "sweep_progress.log").read_text().splitlines()) == 2
