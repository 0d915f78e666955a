"""What the divergence figures add to one evaluation's time: `python -m bench.perf.evaluation_cost [threads] [repeats]`.

Times a full evaluation at the canonical size (embedded oracle, V = 5000, T = 20, 10,000 samples
and test sequences) with an untrained generator, then each added part on the same samples: the
prefix JSD (exact J_1 and J_2 over V^2 pairs, Monte Carlo J_3..J_T), the validation NLL and the
entropy. Prints CPU seconds (median of `repeats`) and each part's share of the evaluation without it.
Timings depend on the machine and its load: state both with any figure quoted.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch

from bench.config.schema import EvalConfig
from bench.datasets.synthetic import SyntheticConfig, build_synthetic
from bench.evaluation.evaluator import Evaluator
from bench.evaluation.synthetic import SyntheticFigures, SyntheticFiguresConfig
from metrics.entropy import entropy_from_samples
from metrics.prefix_jsd import prefix_jsd_monte_carlo
from models import Generator, GeneratorConfig


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of `repeats` calls (CPU time: on a shared machine wall-clock measures the others' load)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(threads: int = 1, repeats: int = 3) -> dict[str, float]:
    torch.set_num_threads(threads)
    cpu = torch.device("cpu")
    dataset = build_synthetic(SyntheticConfig(n_train=2))
    torch.manual_seed(0)
    generator = Generator(dataset.space, GeneratorConfig(32, 32, init_std=0.1))
    evaluator = Evaluator(EvalConfig(), dataset, 0, cpu, SyntheticFigures(SyntheticFiguresConfig(), dataset, cpu))
    figures: SyntheticFigures = evaluator.kind
    context = evaluator(generator, 0).context
    per_token = {
        "p_on_p": context.oracle_on_test,
        "g_on_p": context.model_on_test,
        "g_on_g": context.sample_log_probs,
        "p_on_g": context.oracle_on_samples,
    }
    mask = dataset.space.mask(context.samples)
    seconds = {
        "evaluation": median_seconds(lambda: evaluator(generator, 1), repeats),
        "prefix_exact_j1_j2": median_seconds(lambda: figures.exact_prefix_points(generator, 1.0), repeats),
        "prefix_monte_carlo": median_seconds(lambda: prefix_jsd_monte_carlo(**per_token), repeats),
        "nll_valid": median_seconds(lambda: generator.score(figures.valid), repeats),
        "entropy": median_seconds(lambda: entropy_from_samples(context.sample_log_probs, mask), repeats),
    }
    added = sum(value for name, value in seconds.items() if name != "evaluation")
    before = seconds["evaluation"] - added
    print(f"threads={threads} repeats={repeats}: evaluation {seconds['evaluation']:.2f} s, {before:.2f} s without:")
    for name, value in seconds.items():
        if name != "evaluation":
            print(f"  {name:20s} {value:7.3f} s  +{100 * value / before:5.1f} %")
    prefix = seconds["prefix_exact_j1_j2"] + seconds["prefix_monte_carlo"]
    print(f"  prefix JSD in all      {prefix:7.3f} s  +{100 * prefix / before:5.1f} %")
    return seconds


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
