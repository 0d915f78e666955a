"""Projected wall-clock of the reference-budget experiment per algorithm and seed, evaluation included.

From the step times measured in this run and the experiment file's own budgets and evaluation
schedule (`eval.every`, at step 0 and at the end too, and at each SeqGAN phase end), so the
projection changes when the experiment file does. The evaluation share is printed because the
experiment files are sized to keep it at most 10 % of the projected time.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from algorithms.seqgan import SeqGANConfig
from bench.config.schema import CONF_DIR
from bench.perf.baselines import BATCH
from bench.perf.timing import Row, verdict

EVALUATION_SHARE = 0.10
"""Largest share of an experiment's projected time that evaluation may take."""


def evaluations(steps: int, every: int, phase_ends: int = 0, also_at: Collection[int] = ()) -> int:
    """How many times the loop evaluates: at step 0, every `every` steps, at the `also_at` steps that
    fall between those, at the end, and at phase ends."""
    extra = {step for step in also_at if 0 < step < steps and step % every}
    return 1 + steps // every + (1 if steps % every else 0) + len(extra) + phase_ends


def experiment_config(name: str):
    """The composed root config of `experiment=NAME` (budgets, evaluation schedule, dataset, model)."""
    from hydra import compose, initialize_config_dir

    from bench.config.schema import register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"experiment={name}"])


def plans(step: dict[str, float], budgets: dict[str, int], n_train: int = 10_000) -> dict[str, tuple[int, float, int]]:
    """(steps, training seconds, SeqGAN phase ends) per algorithm from measured step times."""
    reference = SeqGANConfig()
    pretrain = reference.pretrain_g_epochs * math.ceil(n_train / BATCH)
    seqgan_seconds = (
        pretrain * step["mle"]
        + reference.pretrain_d_rounds * step["d_round"]
        + reference.adversarial_rounds
        * (step["rewards"] + step["mle"] + reference.d_rounds_per_adversarial * step["d_round"])
    )
    return {
        "mle": (budgets["mle"], budgets["mle"] * step["mle"], 0),
        "cot": (budgets["cot"], budgets["cot"] * step["cot"], 0),
        "seqgan_reference": (pretrain + reference.pretrain_d_rounds + reference.adversarial_rounds, seqgan_seconds, 2),
    }


def projection_rows(
    step: dict[str, float],
    evaluation_s: float,
    measured_samples: int,
    experiment: str = "paper_synthetic",
    n_train: int = 10_000,
    label: str = "",
) -> list[Row]:
    """One row per algorithm: projected hours per seed on this machine, with the evaluation share checked."""
    cfg = experiment_config(experiment)
    every, n_samples = int(cfg.eval.every), int(cfg.eval.n_samples)
    scale = (
        ""
        if n_samples == measured_samples
        else f"; evaluation timed at {measured_samples:,} samples, not {n_samples:,}"
    )
    rows = []
    for name, (steps, training, phase_ends) in plans(step, dict(cfg.steps_by_algorithm), n_train).items():
        count = evaluations(steps, every, phase_ends, cfg.eval.also_at)
        evaluating = count * evaluation_s
        total = training + evaluating
        share = evaluating / total
        rows.append(
            Row(
                f"projected {experiment}{label}, {name}, one seed "
                f"({steps:,} steps, {count:,} evaluations of {n_samples:,})",
                f"{total / 3600:.2f} h (training {training / 3600:.2f} h, evaluation {evaluating / 3600:.2f} h = "
                f"{100 * share:.1f} %{scale})",
                target=f"evaluation <= {100 * EVALUATION_SHARE:.0f} %",
                met=verdict(share <= EVALUATION_SHARE),
            )
        )
    return rows
