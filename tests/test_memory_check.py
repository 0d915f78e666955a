"""A run that cannot fit in memory is refused before its networks exist, with its estimate and what is
available, instead of dying by the out-of-memory killer with its status left `running`; `memory_check=false`
tries anyway."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from algorithms.seqgan.algorithm import discriminator_config
from algorithms.seqgan.discriminator import Discriminator
from bench.training.memory import (
    MemoryCheckError,
    available_memory,
    check_memory,
    discriminator_parameters,
    estimate,
    lstm_parameters,
)
from models import Generator, GeneratorConfig, SequenceSpace
from tests.conftest import compose_spec
from tests.endless import QUICK
from tests.processes import one_error_line, start_cli

CPU = torch.device("cpu")
SYNTHETIC = SequenceSpace(vocab_size=5000, seq_len=20, start_token=0)
"""The shapes of the synthetic benchmark."""
HUGE = "model.hidden_dim=200000"
"""An LSTM of 4 x 200,000^2 weights: terabytes, beyond any machine this runs on."""


def algorithm_config(*overrides: str):
    return compose_spec(*overrides).algorithm.config


def test_a_large_hidden_size_under_a_small_limit_is_refused_with_its_estimate() -> None:
    model = GeneratorConfig(hidden_dim=8000)
    limit = (3 * 2**29, "cgroup limit 1.50 GiB")
    with pytest.raises(MemoryCheckError) as refused:
        check_memory(model, algorithm_config(), SYNTHETIC, 10_000, CPU, available=limit)
    message = str(refused.value)
    assert message.startswith("this run needs about ") and "(networks " in message
    assert message.endswith(
        "but 1.50 GiB is available (cgroup limit 1.50 GiB); use smaller shapes (model.hidden_dim, eval.n_samples, "
        "batch sizes), or memory_check=false to try anyway"
    )
    check_memory(GeneratorConfig(), algorithm_config(), SYNTHETIC, 10_000, CPU, available=limit)  # the default fits


def test_the_estimate_counts_every_network_each_algorithm_builds() -> None:
    model = GeneratorConfig(hidden_dim=256)
    networks = {
        name: estimate(model, algorithm_config(f"algorithm={name}"), SYNTHETIC, 100, chunked=True).networks
        for name in ("mle", "cot", "nested_cot", "seqgan")
    }
    assert networks["mle"] < networks["cot"] < networks["nested_cot"]  # a mediator, then a second one
    assert networks["seqgan"] > networks["mle"]  # the discriminator and a second generator optimiser
    wider = estimate(GeneratorConfig(hidden_dim=512), algorithm_config(), SYNTHETIC, 100, chunked=True)
    assert wider.networks > networks["mle"]
    more_samples = estimate(model, algorithm_config(), SYNTHETIC, 100_000, chunked=True)
    assert more_samples.evaluation > estimate(model, algorithm_config(), SYNTHETIC, 100, chunked=True).evaluation


def test_parameters_are_counted_as_the_networks_built_have_them() -> None:
    space = SequenceSpace(vocab_size=50, seq_len=12, start_token=0)
    generator = Generator(space, GeneratorConfig(emb_dim=8, hidden_dim=16))
    assert lstm_parameters(space, 8, 16) == sum(parameter.numel() for parameter in generator.parameters())
    seqgan = algorithm_config("algorithm=seqgan")
    discriminator = Discriminator(discriminator_config(seqgan, space))  # filters longer than 12 are left out
    assert discriminator_parameters(seqgan, space) == sum(parameter.numel() for parameter in discriminator.parameters())


def test_this_machine_says_how_much_memory_is_left() -> None:
    found = available_memory()
    if found is None:
        pytest.skip("neither a cgroup limit nor MemAvailable is readable here")
    size, where = found
    assert size > 0 and where


def test_the_command_line_refuses_a_run_that_cannot_fit_before_writing_a_status(tmp_path: Path) -> None:
    process = start_cli(*QUICK, "train.steps=2", HUGE, f"hydra.run.dir={tmp_path}")
    _, err = process.communicate()
    assert process.returncode == 2
    line = one_error_line(err)
    assert line.startswith("error: this run needs about ") and "GiB is available" in line
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.skipif(
    not Path("/proc/sys/vm/overcommit_memory").is_file()
    or Path("/proc/sys/vm/overcommit_memory").read_text().strip() not in ("0", "2"),
    reason="needs a kernel that refuses an allocation larger than the machine (overcommit 0 or 2)",
)
def test_memory_check_false_skips_the_check_and_the_allocation_fails_instead(tmp_path: Path) -> None:
    process = start_cli(*QUICK, "train.steps=2", HUGE, "memory_check=false", f"hydra.run.dir={tmp_path}")
    _, err = process.communicate()
    assert process.returncode == 2
    assert one_error_line(err).startswith("error: out of memory")
