"""Run folders written by hand, laid out as `bench.training.run` writes them, for the report's tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

SYNTHETIC_TARGET = "bench.datasets.synthetic.build_synthetic"
FIGURES = "bench.evaluation.synthetic.SyntheticFigures"
ALGORITHMS = {
    "mle": "algorithms.mle.MLE",
    "cot": "algorithms.cot.CoT",
    "nested_cot": "algorithms.nested_cot.NestedCoT",
    "seqgan": "algorithms.seqgan.SeqGAN",
}
"""Shipped targets (a saved config naming anything else is refused); other names get MLE's."""


def make_run(
    root: Path,
    algorithm: str,
    seed: int,
    final: dict,
    status: str = "complete",
    dataset: str = "synthetic_tiny",
    config: dict | None = None,
    data: dict | None = None,
    history: list[dict] | None = None,
    metrics: dict | None = None,
) -> Path:
    """A run directory written by hand, laid out as `bench.training.run` writes one (without a model);
    `metrics` adds or replaces fields of its metrics.json (`code`, `machine`, ...)."""
    run_dir = root / algorithm / dataset / f"seed{seed}"
    for extra in config or {}:
        run_dir = run_dir / f"{extra}={(config or {})[extra]}"
    run_dir.mkdir(parents=True)
    record = {"status": status, "final": final, "algorithm": algorithm, "dataset": dataset, "seed": seed}
    record |= {"wall_s": 12.5 + seed, **({"data": data} if data is not None else {})}
    if status != "complete":
        record["reason"] = "step 7: g_loss is nan (training diverged)"
    (run_dir / "metrics.json").write_text(json.dumps(record | (metrics or {})))
    rows = history or [{"step": 0, **{k: v + 1 for k, v in final.items()}}, {"step": 10, **final}]
    pd.DataFrame(rows).to_csv(run_dir / "history.csv", index=False)
    saved = {
        "algorithm": {"_target_": ALGORITHMS.get(algorithm, ALGORITHMS["mle"]), "lr": 0.01},
        "dataset": {
            "_target_": SYNTHETIC_TARGET,
            "name": dataset,
            "oracle_path": None,
            "figures": {"_target_": FIGURES},
        },
        "train": {"steps": 10},
        "eval": {"every": 10},
        "seed": seed,
        "progress": False,
    }
    for dotted, value in (config or {}).items():
        node = saved
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    return run_dir
