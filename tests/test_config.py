"""Config files: each composes into its typed dataclass, holds only what differs, and a typo fails.

Also the command-line behaviour that depends on the config alone: an algorithm is named by its
config choice, every field is settable without a `+`, and the run folder's name.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bench.config.build import NODE_ONLY_KEYS, config_class_of, resolve_target, validated
from bench.config.schema import compose_config
from bench.config.spec import compose_spec as resolve
from bench.training.run import run
from tests.conftest import CONF_DIR, TINY_RUN, compose_spec


def config_files(conf_dir: Path, group: str) -> list[str]:
    return sorted(path.stem for path in (conf_dir / group).glob("*.yaml"))


def check_config_file(conf_dir: Path, group: str, name: str) -> None:
    """Compose `group=name` and validate every node against its dataclass; AssertionError naming the file."""
    where = f"conf/{group}/{name}.yaml"
    try:
        cfg = compose_config([f"{group}={name}"], conf_dir)
        for node_group in ("algorithm", "dataset", "logger"):
            node = cfg[node_group]
            config_class = config_class_of(resolve_target(node, node_group))
            assert issubclass(OmegaConf.get_type(node), config_class), f"{where}: {node_group} extends another schema"
            validated(node, config_class, node_group)
        resolve([f"{group}={name}"], conf_dir)  # the root fields too, as a run resolves them
    except AssertionError:
        raise
    except Exception as error:  # BenchError, or Hydra's and OmegaConf's own
        lines = [line.strip() for line in str(error).splitlines() if line.strip()][:3]  # Hydra: where, what, which key
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        raise AssertionError(f"{where}: {' '.join(lines)}{cause}") from error


@pytest.mark.parametrize("group", ["algorithm", "dataset", "experiment"])
def test_every_config_file_composes_into_its_dataclass(group: str) -> None:
    names = config_files(CONF_DIR, group)
    assert names, f"no configs in conf/{group}"
    for name in names:
        check_config_file(CONF_DIR, group, name)


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("algorithm/seqgan.yaml", "d_epochs: 1", "d_epoch: 1"),
        ("dataset/synthetic_tiny.yaml", "n_train: 2000", "n_trian: 2000"),
        ("experiment/smoke.yaml", "  every: 20", "  evry: 20"),
        ("algorithm/cot_no_dropout.yaml", "m_dropout: 0.0", "m_dropout: none"),
    ],
)
def test_a_typo_in_a_config_file_fails_naming_file_and_key(tmp_path: Path, file: str, old: str, new: str) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    group, name = file.removesuffix(".yaml").split("/")
    check_config_file(conf, group, name)  # the intact copy passes
    text = (conf / file).read_text()
    assert old in text
    (conf / file).write_text(text.replace(old, new))
    with pytest.raises(AssertionError) as failed:
        check_config_file(conf, group, name)
    key = new.split(":")[0].strip()
    assert f"conf/{file}" in str(failed.value) and key in str(failed.value)


def field_defaults(config_class: type) -> dict:
    """Each field's default, read off the dataclass (constructing one may check the machine, e.g. a package)."""
    return {
        item.name: item.default if item.default_factory is dataclasses.MISSING else item.default_factory()
        for item in dataclasses.fields(config_class)
    }


@pytest.mark.parametrize("group", ["algorithm", "dataset", "logger"])
def test_config_files_hold_only_values_that_differ_from_the_dataclass(group: str) -> None:
    for name in config_files(CONF_DIR, group):
        raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / group / f"{name}.yaml"))
        config_class = config_class_of(resolve_target(OmegaConf.create(raw), group))
        assert raw.pop("defaults") == [f"/schema/{group}/{config_class.__name__}@_here_", "_self_"], name
        defaults = field_defaults(config_class)
        for key, value in raw.items():
            if isinstance(value, str) and value.startswith("${"):  # where the data are: resolved per machine
                continue
            if key in NODE_ONLY_KEYS and key not in defaults:
                continue
            default = defaults[key]
            default = list(default) if isinstance(default, tuple) else default
            assert value != default, f"conf/{group}/{name}.yaml restates the default {key}: {value}"


def test_every_dataclass_field_is_settable_without_a_plus() -> None:
    cfg = compose_config(["algorithm=seqgan", "algorithm.d_lr=0.001", "steps_by_algorithm.mle=5"])
    assert cfg.algorithm.d_lr == 0.001 and cfg.steps_by_algorithm == {"mle": 5}
    for name in config_files(CONF_DIR, "algorithm"):
        config_class = config_class_of(resolve_target(compose_config([f"algorithm={name}"]).algorithm, "algorithm"))
        overrides = []
        for item in dataclasses.fields(config_class):
            value = getattr(config_class(), item.name)
            shown = "[" + ",".join(map(str, value)) + "]" if isinstance(value, list | tuple) else value
            overrides.append(f"algorithm.{item.name}={'null' if value is None else shown}")
        assert compose_config([f"algorithm={name}", *overrides])  # every field at once, none with a `+`


def test_a_yaml_only_variant_records_its_own_name(tmp_path: Path) -> None:
    overrides = ["algorithm=cot_no_dropout", *TINY_RUN[:1], "eval.every=3", "eval.n_samples=200", "progress=false"]
    spec = compose_spec(*overrides, "steps_by_algorithm.cot=50", "steps_by_algorithm.cot_no_dropout=4")
    assert spec.name == "cot_no_dropout" and spec.algorithm.config.m_dropout == 0.0
    final = run(spec, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["algorithm"] == "cot_no_dropout"
    assert final["step"] == 4  # its own steps_by_algorithm entry, not its parent's


def test_run_folder_names_siblings_and_leaves_out_the_budget(
    tmp_path: Path, cli_in_process, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tiny = ["dataset=synthetic_tiny", "eval.every=2", "eval.n_samples=50", "progress=false"]
    runs = tmp_path / "outputs" / "runs" / "mle" / "synthetic_tiny"
    assert cli_in_process(*tiny, "train.steps=2").status == 0
    assert cli_in_process(*tiny, "train.steps=4").status == 0  # a larger budget: the same run, continued
    assert cli_in_process(*tiny, "steps_by_algorithm.mle=6").status == 0
    assert cli_in_process(*tiny, "train.steps=2", "algorithm.lr=0.02").status == 0
    plain = "seed0,eval.every=2,eval.n_samples=50"  # progress (how it runs) and the budget never enter
    sibling = "seed0,algorithm.lr=0.02,eval.every=2,eval.n_samples=50"
    assert sorted(path.name for path in runs.iterdir()) == [sibling, plain]
    metrics = json.loads((runs / plain / "metrics.json").read_text())
    assert metrics["final"]["step"] == 6 and metrics["resumed_from_step"] == 4
    assert (runs / plain / "cotbench.log").is_file()


def test_help_and_job_are_named_cotbench(cli_in_process) -> None:
    result = cli_in_process("--help")
    assert result.status == 0 and result.out.startswith("cotbench: a benchmark of discrete sequence generators")
    cfg = cli_in_process("--cfg", "hydra", "--package", "hydra.job")
    assert "name: cotbench" in cfg.out


def test_not_a_number_never_reaches_a_config() -> None:
    from algorithms.cot import CoTConfig
    from algorithms.seqgan import SeqGANConfig
    from models import GeneratorConfig

    for make, field in [
        (lambda: CoTConfig(g_lr=math.inf), "algorithm.g_lr"),
        (lambda: CoTConfig(m_lr=math.inf), "algorithm.m_lr"),
        (lambda: SeqGANConfig(g_lr=math.inf), "algorithm.g_lr"),
        (lambda: SeqGANConfig(grad_clip=math.nan), "algorithm.grad_clip"),
        (lambda: SeqGANConfig(d_l2=math.nan), "algorithm.d_l2"),
        (lambda: GeneratorConfig(init_std=math.inf), "model.init_std"),
    ]:
        with pytest.raises(ValueError, match=rf"^{field}=(inf|nan): must be a finite number$"):
            make()
