"""`python -m bench.perf --device cuda --check`: everything a GPU machine must show, in one call.

On a machine with CUDA, in a few minutes: the GPU tests (`pytest -m gpu`: resuming across devices,
two runs with the same numbers, CPU and CUDA figures in agreement, CUDA graphs equal to eager
steps, no host synchronisation inside a training step), then the units of results/perf.md timed on
the GPU, eagerly and with `cuda_graphs`, and the projected hours per seed of `paper_synthetic`,
`paper_coco` and `paper_emnlp` on it. The table goes to results/perf_cuda.md with the card's name.
Without CUDA it says so and exits 2.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import torch

from algorithms.base import TrainingContext
from algorithms.cot import CoT, CoTConfig
from algorithms.mle import MLE, MLEConfig
from bench.config.folders import checkout_root
from bench.perf.figures import Bench
from bench.perf.projection import projection_rows
from bench.perf.timing import Row, seconds, timed, verdict
from models import Generator
from models.capture import WARMUP

GPU_TESTS_TIMEOUT_S = 300
"""The GPU tests' share of the check's time (it must end within 8 minutes)."""
NO_CUDA = (
    "--check: no CUDA device is present on this machine (torch.cuda.is_available() is False); run it where a GPU is"
)


def gpu_tests() -> Row:
    """`pytest -m gpu` from the source tree, in a subprocess: its summary line and whether all passed."""
    print("GPU tests (pytest -m gpu) ...", file=sys.stderr)
    checkout = checkout_root()
    if checkout is None:  # an installed wheel ships no tests
        return Row("GPU tests (pytest -m gpu)", "skipped: the tests live in a checkout of the suite", met="n/a")
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    try:
        result = subprocess.run(
            command, cwd=checkout, env=env, capture_output=True, text=True, timeout=GPU_TESTS_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return Row(
            "GPU tests (pytest -m gpu)", f"stopped after {GPU_TESTS_TIMEOUT_S} s", target="all pass", met=verdict(False)
        )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0:
        print(result.stdout[-6000:], file=sys.stderr)
    summary = lines[-1].strip("= ") if lines else f"exit status {result.returncode}"
    elapsed = time.monotonic() - started
    return Row(
        "GPU tests (pytest -m gpu)",
        f"{summary} ({elapsed:.0f} s)",
        target="all pass",
        met=verdict(result.returncode == 0),
    )


def graphed_units(bench: Bench) -> list[Row]:
    """The MLE step and the CoT iteration with `cuda_graphs`, beside the eager times measured before,
    and the projection of paper_synthetic with them."""
    print("cuda_graphs ...", file=sys.stderr)
    train = bench.dataset.train.to(bench.device)

    def context() -> TrainingContext:
        return TrainingContext(bench.fresh_generator(), train, bench.rng, bench.device, capture=True)

    try:
        mle = MLE(MLEConfig(), context())
        mle_step = timed(mle.step, bench.device, bench.repeats, warmup=WARMUP + 2)
        cot, k = CoT(CoTConfig(), context()), bench.sizes.cot_iterations
        cot_step = timed(
            lambda: [cot.step() for _ in range(k)], bench.device, bench.repeats, warmup=WARMUP + 2, per_call=k
        )
    except RuntimeError as error:  # a capture the GPU refused: said in the table, not a crash of the check
        return [
            Row(
                "cuda_graphs: MLE step, CoT iteration",
                f"failed: {str(error).splitlines()[0][:200]}",
                met=verdict(False),
            )
        ]
    rows = []
    for name, timing in (("MLE step", mle_step), ("CoT iteration", cot_step)):
        eager = bench.seconds["mle" if name == "MLE step" else "cot"]
        rows.append(
            Row(f"cuda_graphs: {name}", str(timing), seconds(eager) + " eager", f"{eager / timing.median:.1f}x")
        )
    step = bench.seconds | {"mle": mle_step.median, "cot": cot_step.median}
    rows += projection_rows(step, bench.seconds["evaluation"], bench.sizes.n_eval, label=" with cuda_graphs")
    return rows + [bf16_cot_iteration(bench)]


def bf16_cot_iteration(bench: Bench) -> Row:
    """A CoT iteration with `model.bf16_output=true` (eager), beside the float32 one measured before."""
    config = dataclasses.replace(bench.generator.config, bf16_output=True)
    generator = Generator(bench.dataset.space, config).to(bench.device)
    context = TrainingContext(generator, bench.dataset.train.to(bench.device), bench.rng, bench.device)
    cot, k = CoT(CoTConfig(), context), bench.sizes.cot_iterations
    timing = timed(lambda: [cot.step() for _ in range(k)], bench.device, bench.repeats, per_call=k)
    eager = bench.seconds["cot"]
    ratio = f"{eager / timing.median:.2f}x"
    return Row("model.bf16_output=true: CoT iteration", str(timing), seconds(eager) + " float32", ratio)


def card_name(device: torch.device) -> str:
    """The GPU's name, as the table's title says it."""
    return torch.cuda.get_device_name(device)
