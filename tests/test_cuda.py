"""On a CUDA device (`pytest -m gpu`, or `python -m bench.perf --device cuda --check`): a run moves
between the CPU and the GPU, the same config and seed give the same numbers twice, the CPU and the
GPU agree on every figure of an evaluation, CUDA graphs replay the eager steps exactly, and no
training step waits for the device. Without CUDA every test here skips, saying so.

Tolerances between the CPU and the GPU: float32 kernels round differently on each, so a figure
computed from fixed inputs (the test set, the enumerated space) agrees to 1e-5 (absolute, plus
1e-5 relative); a figure estimated from samples (each device draws its own) agrees within 6 of its
standard errors; the same uniforms drawn on the CPU give the same tokens on at least 99.9% of
positions (a uniform within rounding of a boundary of the inverse CDF may fall either side).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from algorithms.base import Algorithm
from bench.devices import execution_mode
from bench.evaluation.evaluator import Evaluator
from bench.gpu_slots import claim_slot, gpu_names
from bench.seeds import seed_everything
from bench.training import checkpoint
from bench.training.records import CHECKPOINT
from bench.training.run import build_figures, build_run, run
from metrics.prefix_jsd import prefix_jsd_monte_carlo
from models import draw_tokens
from tests.conftest import DATA_ROOT, TINY_RUN, compose_spec, shared_file

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)"),
]

CUDA = torch.device("cuda")
ALGORITHMS = ("mle", "cot", "nested_cot", "seqgan_tiny")
CLOCKS = ("wall_s", "train_s", "train_cpu_s")
EXACT = ("nll_test", "nll_valid", "jsd", "jsd_stepwise_bound", "jsd_prefix_mean", "jsd_mediator_bound")
"""Figures from fixed inputs on synthetic_tiny (test set, validation set, every sequence of the space)."""


def figures_of(run_dir: Path) -> list[dict[str, str]]:
    """history.csv's rows as written (text: compared exactly), without the clocks."""
    with open(run_dir / "history.csv", encoding="utf-8") as file:
        return [{key: value for key, value in row.items() if key not in CLOCKS} for row in csv.DictReader(file)]


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_a_run_moves_from_the_cpu_to_the_gpu_and_back_saying_how_its_stream_continued(tmp_path: Path) -> None:
    overrides = (*TINY_RUN, "algorithm=cot", "eval.every=10")
    run(compose_spec(*overrides, "train.steps=20", "device=cpu"), tmp_path)
    run(compose_spec(*overrides, "train.steps=40", "device=cuda"), tmp_path)
    assert metrics_of(tmp_path)["rng_reseeded"] == [{"stream": "run", "from": "cpu", "to": "cuda", "step": 20}]
    assert metrics_of(tmp_path)["device"].startswith("cuda")
    run(compose_spec(*overrides, "train.steps=60", "device=cpu"), tmp_path)
    metrics = metrics_of(tmp_path)
    assert metrics["rng_reseeded"] == [{"stream": "run", "from": "cuda", "to": "cpu", "step": 40}]
    assert metrics["status"] == "complete" and metrics["execution"]["deterministic"] is True
    history = figures_of(tmp_path)
    assert [int(row["step"]) for row in history] == [0, 10, 20, 30, 40, 50, 60]
    assert all(math.isfinite(float(value)) for row in history for key, value in row.items() if key != "phase")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_same_config_and_seed_give_the_same_numbers_on_the_gpu(tmp_path: Path, algorithm: str) -> None:
    steps = 40 if algorithm == "seqgan_tiny" else 20  # seqgan_tiny: through its adversarial phase
    overrides = (*TINY_RUN, f"algorithm={algorithm}", f"train.steps={steps}", "eval.every=10", "device=cuda")
    for name in ("first", "second"):
        run(compose_spec(*overrides), tmp_path / name)
    assert figures_of(tmp_path / "first") == figures_of(tmp_path / "second")
    assert (tmp_path / "first" / "samples.txt").read_text() == (tmp_path / "second" / "samples.txt").read_text()


def test_the_same_numbers_twice_on_text_too(tmp_path: Path) -> None:
    shared_file("coco", "test_coco.txt")
    overrides = ("algorithm=cot", "dataset=coco", f"paths.data_root={DATA_ROOT}", "train.steps=6", "eval.every=3")
    overrides += ("eval.n_samples=300", "model.emb_dim=16", "model.hidden_dim=16", "progress=false", "device=cuda")
    for name in ("first", "second"):
        run(compose_spec(*overrides), tmp_path / name)
    assert figures_of(tmp_path / "first") == figures_of(tmp_path / "second")


def evaluated_on(device: torch.device, run_dir: Path, spec) -> tuple[dict[str, float], Algorithm, object]:
    """Every figure of one evaluation of the run's last state (the algorithm's own included) on `device`."""
    saved = checkpoint.load_run_checkpoint(run_dir / CHECKPOINT)
    dataset, algorithm = build_run(spec, device, seed_everything(0, device))
    algorithm.load_state_dict(saved["algorithm"])
    evaluator = Evaluator(spec.root.eval, dataset, 0, device, build_figures(spec, dataset, device))
    evaluation = evaluator(algorithm.generator, int(saved["loop"]["step"]))
    return evaluation.figures | algorithm.evaluation_figures(evaluation.context), algorithm, evaluation.context


def per_sequence_se(per_token: torch.Tensor) -> float:
    """Standard error of a per-token mean estimated from (n, T) per-token values, by sequence."""
    per_sequence = per_token.double().mean(dim=1)
    return float(per_sequence.std() / math.sqrt(per_sequence.numel()))


def test_the_cpu_and_the_gpu_agree_on_every_figure(tmp_path: Path) -> None:
    spec = compose_spec(*TINY_RUN, "algorithm=cot", "train.steps=30", "eval.n_samples=4000", "device=cpu")
    run(spec, tmp_path)
    on_cpu, cpu_cot, cpu_context = evaluated_on(torch.device("cpu"), tmp_path, spec)
    with execution_mode(CUDA, deterministic=True):
        on_gpu, gpu_cot, gpu_context = evaluated_on(CUDA, tmp_path, spec)
    assert on_cpu.keys() == on_gpu.keys()
    for name in (name for name in on_cpu if name.removesuffix("_se") in EXACT):
        assert on_gpu[name] == pytest.approx(on_cpu[name], abs=1e-5, rel=1e-5), name
    sampled = {
        "entropy": (on_cpu["entropy_se"], on_gpu["entropy_se"]),
        "nll_oracle": (per_sequence_se(cpu_context.oracle_on_samples), per_sequence_se(gpu_context.oracle_on_samples)),
        "m_balanced_nll": (  # half of M's NLL of G's samples (the test-set half is fixed)
            0.5 * per_sequence_se(cpu_cot.mediator.score(cpu_context.samples)),
            0.5 * per_sequence_se(gpu_cot.mediator.score(gpu_context.samples)),
        ),
    }
    for name, (se_cpu, se_gpu) in sampled.items():
        assert abs(on_gpu[name] - on_cpu[name]) <= 6 * math.hypot(se_cpu, se_gpu), name
    assert set(on_cpu) <= set(EXACT) | {f"{name}_se" for name in EXACT} | set(sampled) | {"entropy_se"}
    # the same uniforms, drawn on the CPU, give the same samples on the GPU
    cpu_model, gpu_model = cpu_cot.generator, gpu_cot.generator
    cpu_draw = cpu_model.sample(4000, torch.Generator().manual_seed(9))
    gpu_draw = gpu_model.sample(4000, torch.Generator().manual_seed(9))
    same = gpu_draw.tokens.cpu() == cpu_draw.tokens
    assert same.float().mean() >= 0.999
    rows = same.all(dim=1)
    assert torch.allclose(gpu_draw.token_log_probs.cpu()[rows], cpu_draw.token_log_probs[rows], atol=1e-5)


def trained(
    algorithm: str, capture: bool, steps: int, data: tuple[str, ...] = TINY_RUN
) -> tuple[list[dict[str, float]], list[torch.Tensor]]:
    """Each step's losses and the final parameters of `steps` steps on the GPU (synthetic_tiny by default)."""
    spec = compose_spec(*data, f"algorithm={algorithm}", "device=cuda", f"cuda_graphs={str(capture).lower()}")
    _, trainer = build_run(spec, CUDA, seed_everything(0, CUDA))
    losses = [{name: float(value) for name, value in trainer.step().items()} for _ in range(steps)]
    return losses, [
        parameter.detach().cpu() for network in trainer.networks().values() for parameter in network.parameters()
    ]


@pytest.mark.parametrize(("algorithm", "steps"), [("mle", 12), ("cot", 12), ("seqgan_tiny", 40)])
def test_cuda_graphs_replay_exactly_the_eager_steps(algorithm: str, steps: int) -> None:
    """The same kernels on the same memory: the same losses and parameters, bit for bit (seqgan_tiny's
    40 steps cover MLE pretraining, discriminator rounds and the adversarial phase)."""
    with execution_mode(CUDA, deterministic=True):
        eager_losses, eager_parameters = trained(algorithm, False, steps)
        graphed_losses, graphed_parameters = trained(algorithm, True, steps)
    assert graphed_losses == eager_losses
    assert all(torch.equal(a, b) for a, b in zip(eager_parameters, graphed_parameters, strict=True))


def test_cuda_graphs_replay_the_eager_steps_on_text_too() -> None:
    """On text the captured samples run every position (a graph cannot stop at EOS): the same samples."""
    shared_file("coco", "test_coco.txt")
    coco = ("dataset=coco", f"paths.data_root={DATA_ROOT}", "model.emb_dim=16", "model.hidden_dim=16")
    with execution_mode(CUDA, deterministic=True):
        eager_losses, eager_parameters = trained("cot", False, 6, coco)
        graphed_losses, graphed_parameters = trained("cot", True, 6, coco)
    assert graphed_losses == eager_losses
    assert all(torch.equal(a, b) for a, b in zip(eager_parameters, graphed_parameters, strict=True))


def test_the_graphed_sampler_draws_what_the_eager_one_draws() -> None:
    spec = compose_spec(*TINY_RUN, "device=cuda")
    with execution_mode(CUDA, deterministic=True):
        _, mle = build_run(spec, CUDA, seed_everything(0, CUDA))
        model = mle.generator
        eager = [model.sample(3000, torch.Generator(CUDA).manual_seed(seed)) for seed in range(4)]
        model.capture_graphs = True
        graphed = [model.sample(3000, torch.Generator(CUDA).manual_seed(seed)) for seed in range(4)]
    for a, b in zip(eager, graphed, strict=True):
        assert torch.equal(a.tokens, b.tokens) and torch.equal(a.token_log_probs, b.token_log_probs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_training_steps_never_wait_for_the_device(algorithm: str) -> None:
    """With CUDA's sync debug mode set to "error", any step that reads a value back (`.item()`, `int()`,
    `bool()`, a data-dependent shape) raises. The first step runs before it: lazy initialisations."""
    spec = compose_spec(*TINY_RUN, f"algorithm={algorithm}", "device=cuda")
    with execution_mode(CUDA, deterministic=True):
        _, trainer = build_run(spec, CUDA, seed_everything(0, CUDA))
        trainer.step()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(39):
                if not trainer.finished:
                    trainer.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_the_deterministic_forms_run_on_the_gpu_and_agree_with_the_cpu() -> None:
    noise = torch.Generator().manual_seed(0)
    logits, uniforms = torch.randn(4096, 5000, generator=noise) * 3, torch.rand(4096, generator=noise)
    per_token = {name: -torch.rand(3000, 20, generator=noise) * 5 for name in ("p_on_p", "g_on_p", "g_on_g", "p_on_g")}
    on_cpu = prefix_jsd_monte_carlo(**per_token)
    with execution_mode(CUDA, deterministic=True):
        drawn, log_probs = draw_tokens(logits.to(CUDA), uniforms.to(CUDA))
        again, _ = draw_tokens(logits.to(CUDA), uniforms.to(CUDA))
        on_gpu = prefix_jsd_monte_carlo(**{name: values.to(CUDA) for name, values in per_token.items()})
    expected, expected_log_probs = draw_tokens(logits, uniforms)
    assert torch.equal(drawn, again)
    assert (drawn.cpu() == expected).float().mean() >= 0.999
    agree = drawn.cpu() == expected
    assert torch.allclose(log_probs.cpu()[agree], expected_log_probs[agree], atol=1e-5)
    assert torch.allclose(on_gpu.values, on_cpu.values, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_job_slots_put_two_processes_on_two_gpus(tmp_path: Path) -> None:
    names = gpu_names()
    assert len(set(names)) == len(names)
    assert [claim_slot(names, 1, tmp_path).gpu for _ in range(2)] == [0, 1]
