"""`cotbench-score FILE --dataset NAME [--json OUT] [--no-lm]`: every text figure of a file of samples.

Scores a plain text file of generated sentences, one a line (this suite's samples.txt, or any other
model's output), against a dataset's test split with the figures a run records: BLEU-2..5 against
every test sentence, self-BLEU-2..5, sacreBLEU (with its signature), distinct-1..4, and unless
`--no-lm` the LM and reverse-LM scores (which train LMs: minutes on a CPU; the judge is cached).
The dataset is built from its shipped config (`conf/dataset/NAME.yaml`), so the lines go through
its own normalisation and tokeniser, exactly as its files did. Prints a table; `--json OUT` writes
the figures (keys as in history.csv) with the sacreBLEU signature, the counts and the data's sha256s.
Bad input (a missing, empty or non-UTF-8 file, a line longer than the dataset allows, an unknown
dataset) is one line on stderr and exit status 2, with nothing written. docs/text.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.config.build import build, validated
from bench.config.schema import CONF_DIR, compose_config
from bench.datasets.base import Dataset
from bench.datasets.samples_file import SamplesFile, read_sample_lines
from bench.devices import resolve_device, use_threads
from bench.errors import BenchError
from bench.evaluation.catalogue import BY_NAME
from bench.evaluation.text import TextFigures, TextFiguresConfig
from bench.files import atomic_write_text
from metrics.bleu import sacrebleu_signature

TEXT_FIGURES_TARGET = "bench.evaluation.text.TextFigures"
LM_FIGURES = ("lm_score", "reverse_lm_score", "lm_judge_nll_test")


def text_datasets(config_dir: Path = CONF_DIR) -> list[str]:
    """The shipped datasets whose figures are the text ones (conf/dataset/*.yaml), by name."""
    names = []
    for path in sorted((config_dir / "dataset").glob("*.yaml")):
        node = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if (node.get("figures") or {}).get("_target_") == TEXT_FIGURES_TARGET:
            names.append(path.stem)
    return names


def check_dataset_name(name: str) -> None:
    known = text_datasets()
    if name not in known:
        raise BenchError(f"--dataset {name}: unknown text dataset (available: {', '.join(known)})")


def build_dataset(name: str, data_dir: Path | None) -> tuple[Dataset, Any]:
    """The dataset `name` as its shipped config builds it (files under `data_dir` when given), and its
    `figures` node."""
    check_dataset_name(name)
    overrides = [f"dataset={name}"] + ([f"dataset.data_dir={data_dir}"] if data_dir is not None else [])
    config = compose_config(overrides)
    return build(config.dataset, "dataset"), config.dataset.figures


def score_samples(file: SamplesFile, dataset: Dataset, figures: TextFigures, with_lm: bool = True) -> dict[str, Any]:
    """Every text figure of the file's samples, with the counts and the data they rest on."""
    vocabulary = dataset.vocabulary
    scores: dict[str, Any] = figures.scorer.score_words(file.samples)
    # a sample of max_len words was cut without EOS: encoded so, as the run's own samples were
    tokens = vocabulary.encode(file.samples, dataset.space.seq_len, "truncate", "samples")
    scores["no_eos_share"] = file.no_eos(dataset.space.seq_len) / len(file.samples)
    words = int((tokens != vocabulary.pad_id).sum())
    scores["samples_unk_share"] = int((tokens == vocabulary.unk_id).sum()) / words if words else 0.0
    lm = figures.lm_figures(tokens) if with_lm else dict.fromkeys(LM_FIGURES)
    scores |= lm
    return scores | {
        "sacrebleu_signature": sacrebleu_signature(len(dataset.reference_lines or dataset.references)),
        "n_references": len(dataset.references),
        "empty_samples": file.empty,
        "test_unk_share": figures.scorer.test_unk_share,
        "dataset": dataset.name,
        "samples": file.provenance(),
        "data": dataset.provenance,
        **figures.provenance,
    }


COUNTS = {
    "samples_unk_share": "samples' tokens outside the vocabulary (share)",
    "empty_samples": "empty samples",
    "n_references": "test references",
}
"""The rows of the table that are not run figures (bench/evaluation/catalogue.py names those)."""


def _shown(value: Any) -> str:
    if value is None:
        return "not computed (--no-lm)"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def table(scores: dict[str, Any]) -> str:
    """The figures and counts as a two-column plain-text table, in the order of the JSON keys."""
    rows = []
    for name, value in scores.items():
        if name in BY_NAME and (value is None or isinstance(value, int | float)):
            rows.append((BY_NAME[name].axis_label, _shown(value)))
        elif name in COUNTS:
            rows.append((COUNTS[name], _shown(value)))
    rows.append(("sacreBLEU signature", str(scores["sacrebleu_signature"])))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {shown}" for label, shown in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cotbench-score", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="generated sentences, one a line (UTF-8)")
    parser.add_argument(
        "--dataset", required=True, help=f"the test split to score against ({', '.join(text_datasets())})"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the figures as JSON here")
    parser.add_argument("--no-lm", action="store_true", help="skip the LM and reverse-LM scores (they train LMs)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder of the dataset's files (default: data root)"
    )
    parser.add_argument(
        "--judge-dir", type=Path, default=None, help="folder of cached judges (default: data root/judges)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        device = resolve_device(args.device, "--device")
        use_threads(args.threads)
        check_dataset_name(args.dataset)
        file = read_sample_lines(args.file)
        if len(file.lines) < 2:
            raise BenchError(f"{args.file}: 1 sample; self-BLEU needs at least 2")
        dataset, figures_node = build_dataset(args.dataset, args.data_dir)
        file = file.tokenized(dataset)
        config = validated(figures_node, TextFiguresConfig, "dataset.figures")
        if args.judge_dir is not None:
            config.judge_dir = str(args.judge_dir)
        figures = TextFigures(config, dataset, device)
        for warning in [*dataset.warnings, *file.warnings()]:
            print(f"warning: {warning}", file=sys.stderr)
        scores = score_samples(file, dataset, figures, with_lm=not args.no_lm)
        if scores["samples_unk_share"]:
            print(
                f"warning: {scores['samples_unk_share']:.2%} of the samples' tokens are outside the {dataset.name}"
                " vocabulary: BLEU and distinct-n read them as written, the LM scores leave them out (as NLL_test"
                " leaves out the test split's <unk>)",
                file=sys.stderr,
            )
        if args.json is not None:
            atomic_write_text(args.json, json.dumps(scores, indent=2) + "\n")
    except (BenchError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.file}: {len(file.samples):,} samples against the {dataset.name} test split")
    print(table(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
