"""What makes the suite correct and reproducible on CUDA, checked on the CPU: deterministic mode set
and recorded, the deterministic forms of the sampler's scan and of the cross-entropy, resuming a
checkpoint made on another device, optimiser options kept across devices, the opt-in bf16 output
layer, CUDA-graph bookkeeping, and GPU job slots for the local launcher."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from algorithms.updates import IGNORED, Adam, gathered_cross_entropy_sum
from bench.config.keys import left_out_of_folder_names
from bench.config.schema import compose_with_hydra
from bench.devices import execution_mode, jobs_for
from bench.gpu_slots import claim_slot
from bench.perf import main as perf_main
from bench.training import checkpoint
from bench.training.records import CHECKPOINT, file_record
from bench.training.resume import stream_device
from bench.training.run import run
from models import Generator, GeneratorConfig, SequenceSpace
from models.capture import GraphedCall
from models.sampling import fixed_point_cumsum
from tests.conftest import TINY_RUN, compose_spec, make_generator, run_cli

CLOCKS = ["wall_s", "train_s", "train_cpu_s"]


def figures_of(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv").drop(columns=CLOCKS)


# ----- deterministic mode -----------------------------------------------------------------------
def test_execution_mode_sets_deterministic_algorithms_and_restores_them() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    for wanted in (True, False):
        with execution_mode(torch.device("cpu"), wanted):
            assert torch.are_deterministic_algorithms_enabled() is wanted
            assert torch.utils.deterministic.fill_uninitialized_memory is False
        assert torch.are_deterministic_algorithms_enabled() is before


def test_deterministic_changes_no_cpu_figure_and_each_run_records_its_mode(tmp_path: Path) -> None:
    for flag in ("true", "false"):
        run(compose_spec(*TINY_RUN, "algorithm=cot", "train.steps=20", f"deterministic={flag}"), tmp_path / flag)
        metrics = json.loads((tmp_path / flag / "metrics.json").read_text())
        assert metrics["execution"] == {"deterministic": flag == "true", "cuda_graphs": False}
        assert f"deterministic: {flag}" in (tmp_path / flag / "config.yaml").read_text()
    pd.testing.assert_frame_equal(figures_of(tmp_path / "true"), figures_of(tmp_path / "false"))


def test_the_fixed_point_scan_matches_the_float_sums_and_draws_the_same_tokens() -> None:
    """CUDA's deterministic sampler scan, run here on the CPU: within V * 2^-39 of the exact float64
    sums, drawing what the float32 scan draws (a token of weight 0 never)."""
    noise = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, 5000, generator=noise) * 3
    logits[:, ::7] = -1e9  # blocked tokens: weight exactly 0
    weights = (logits - logits.max(dim=1, keepdim=True).values).exp()
    fixed = fixed_point_cumsum(weights)
    assert fixed.dtype == torch.float64
    assert (fixed - weights.double().cumsum(dim=1)).abs().max() <= 5000 * 2.0**-39
    uniforms = torch.rand(2000, 1, generator=noise)
    drawn_fixed = torch.searchsorted(fixed, uniforms.double() * fixed[:, -1:], right=True)
    floats = weights.cumsum(dim=1)
    drawn_float = torch.searchsorted(floats, uniforms * floats[:, -1:], right=True)
    assert (drawn_fixed == drawn_float).float().mean() >= 0.999
    assert (drawn_fixed % 7 != 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_gathered_cross_entropy_is_cross_entropy_with_its_gradient(dtype: torch.dtype) -> None:
    noise = torch.Generator().manual_seed(1)
    logits = torch.randn(40, 11, generator=noise, dtype=dtype, requires_grad=True)
    targets = torch.randint(0, 11, (40,), generator=noise)
    targets[::5] = IGNORED
    expected = F.cross_entropy(logits, targets, ignore_index=IGNORED, reduction="sum")
    (expected_grad,) = torch.autograd.grad(expected, logits)
    value = gathered_cross_entropy_sum(logits, targets)
    (grad,) = torch.autograd.grad(value, logits)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(grad, expected_grad, atol=1e-6)


# ----- resuming on another device ---------------------------------------------------------------
def checkpoint_from_another_device(run_dir: Path, saved_device: str | None) -> None:
    """Rewrite the checkpoint's sampling stream as a CUDA generator saves it (a 16-byte seed and offset)."""
    saved = checkpoint.load_run_checkpoint(run_dir / CHECKPOINT)
    saved["rng"]["run"] = torch.zeros(16, dtype=torch.uint8)
    if saved_device is None:
        saved["rng"].pop("run_device")  # a checkpoint written before the device was recorded
    else:
        saved["rng"]["run_device"] = saved_device
    checkpoint.save(run_dir / CHECKPOINT, {key: value for key, value in saved.items() if key != "format"})
    metrics = json.loads((run_dir / "metrics.json").read_text())  # the run as that device completed it
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "files": file_record(run_dir)}))


@pytest.mark.parametrize("recorded", ["cuda", None])
def test_a_checkpoint_from_another_device_resumes_reseeded_and_says_so(tmp_path: Path, recorded: str | None) -> None:
    """A CUDA run's checkpoint continued on the CPU: no crash; the sampling stream is re-seeded from
    (seed, step), the same way each time, and metrics.json says which stream, from where, at which step."""
    overrides = (*TINY_RUN, "algorithm=cot", "eval.every=10")
    for name in ("first", "second"):
        run(compose_spec(*overrides, "train.steps=20"), tmp_path / name)
        checkpoint_from_another_device(tmp_path / name, recorded)
        run(compose_spec(*overrides, "train.steps=40"), tmp_path / name)
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["status"] == "complete" and metrics["resumed_from_step"] == 20
        assert metrics["rng_reseeded"] == [{"stream": "run", "from": "cuda", "to": "cpu", "step": 20}]
    pd.testing.assert_frame_equal(figures_of(tmp_path / "first"), figures_of(tmp_path / "second"))
    assert stream_device(torch.Generator().get_state()) == "cpu"


def test_an_optimizer_keeps_its_own_device_options_when_loading_a_state_saved_elsewhere() -> None:
    """A CUDA optimiser is fused and capturable; a CPU one is not: each keeps its own on loading the other's."""
    model = make_generator()
    plain = Adam(model.parameters(), torch.device("cpu"), lr=0.01)
    model(torch.randint(0, 6, (3, 4))).sum().backward()
    plain.step()
    fused = Adam(model.parameters(), torch.device("cpu"), lr=0.01, fused=True)
    fused.load_state_dict(plain.state_dict())
    assert all(group["fused"] for group in fused.param_groups)
    fused.step()  # runs with the loaded state
    assert all(state["step"].item() == 2 for state in fused.state.values())


# ----- bf16 output layer ------------------------------------------------------------------------
def test_the_bf16_output_layer_moves_the_nll_only_slightly_and_is_in_the_run_config(tmp_path: Path) -> None:
    """At the canonical V = 5000 with oracle-sized weights (N(0, 1)), bf16 products move each token's
    log-probability by up to about 0.05 nats but the mean NLL by about 1e-4 (measured: 1e-5 to 1.2e-4)."""
    space = SequenceSpace(vocab_size=5000, seq_len=20)
    torch.manual_seed(0)
    exact = Generator(space, GeneratorConfig(32, 32, init_std=1.0))
    rounded = Generator(space, GeneratorConfig(32, 32, init_std=1.0, bf16_output=True))
    rounded.load_state_dict(exact.state_dict())
    tokens = exact.sample(500, torch.Generator().manual_seed(1)).tokens
    on_exact, on_rounded = exact.score(tokens), rounded.score(tokens)
    assert abs(on_exact.mean() - on_rounded.mean()) < 5e-4  # nats per token
    assert (on_exact - on_rounded).abs().max() < 0.1
    assert not torch.equal(on_exact, on_rounded)  # it does compute in bf16
    run(compose_spec(*TINY_RUN, "train.steps=5", "model.bf16_output=true"), tmp_path)
    assert "bf16_output: true" in (tmp_path / "config.yaml").read_text()


# ----- CUDA graphs ------------------------------------------------------------------------------
def test_cuda_graphs_without_cuda_is_a_one_line_error_before_any_work(tmp_path: Path) -> None:
    result = run_cli(*TINY_RUN, "cuda_graphs=true", run_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: cuda_graphs=true: needs a CUDA device (this run's device is cpu)"
    assert not (tmp_path / "metrics.json").exists()


def test_a_graphed_call_off_cuda_is_its_body_and_a_copied_model_samples_from_the_copy() -> None:
    calls = []
    call = GraphedCall(lambda x: (calls.append(1) or x * 2,), enabled=True)
    assert torch.equal(call(torch.ones(3))[0], torch.full((3,), 2.0)) and calls == [1] and call.graph is None
    model = make_generator(seed=0)
    model.capture_graphs = True
    graphed = model._graphed_chunk(5, 1.0)  # built before the copy, as a model that sampled already has it
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.out.bias.add_(3.0 * torch.arange(6.0))
    uniforms = torch.rand(5, 4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(twin._graphed_chunk(5, 1.0)(uniforms)[1], twin.sample_from(uniforms).token_log_probs)
    assert not torch.equal(graphed(uniforms)[1], twin.sample_from(uniforms).token_log_probs)


def test_the_device_check_says_plainly_that_there_is_no_cuda(capsys: pytest.CaptureFixture) -> None:
    assert perf_main(["--device", "cuda", "--check"]) == 2
    assert "--check: no CUDA device is present on this machine" in capsys.readouterr().err


# ----- several jobs per GPU ---------------------------------------------------------------------
def test_job_slots_spread_processes_over_the_gpus_and_free_with_them(tmp_path: Path) -> None:
    gpus = ["GPU-a", "GPU-b"]
    held = [claim_slot(gpus, 2, tmp_path) for _ in range(4)]
    assert [slot.gpu for slot in held] == [0, 1, 0, 1]  # every GPU's first slot before any second one
    crowded = claim_slot(gpus, 2, tmp_path)
    assert crowded.lock is None and crowded.gpu in (0, 1)  # none free: shares a GPU, holds nothing
    held[1].lock.close()  # that process ended
    assert claim_slot(gpus, 2, tmp_path).gpu == 1


def test_the_local_launcher_runs_jobs_per_gpu_and_the_setting_names_no_folder() -> None:
    assert (jobs_for(3, 2), jobs_for(1, 4), jobs_for(3, 0)) == (6, 4, 2)
    cfg = compose_with_hydra(["hydra/launcher=local", "jobs_per_gpu=3"])
    assert cfg.hydra.launcher.n_jobs == (2 if not torch.cuda.is_available() else 3 * torch.cuda.device_count())
    assert left_out_of_folder_names("jobs_per_gpu") and left_out_of_folder_names("cuda_graphs")
    assert not left_out_of_folder_names("deterministic")  # a run's numbers on CUDA depend on it
    with pytest.raises(Exception, match="jobs_per_gpu=0: must be a positive integer"):
        compose_spec("jobs_per_gpu=0")
