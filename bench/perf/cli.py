"""`python -m bench.perf [--device cpu|cuda|auto] [--check] [options]`: how fast the suite samples, trains and
evaluates, against plain baselines.

Every figure is measured in one run on one machine, side by side with a plain implementation
(bench/perf/baselines.py), as the median of several repeats with the min-max range. Targets are
checked against those ratios and the table says plainly which are missed. The table ends with the
projected hours per seed of `experiment=paper_synthetic`, `paper_coco` and `paper_emnlp` on this
machine, evaluation included (the text ones from unit times measured on their own data, when the
files are under the data root). Timings run as a run computes (`deterministic=true`).
It is printed and written to results/perf.md (results/perf_<device>.md off the CPU): in the checkout
the suite runs from, else (an installed wheel) under the current folder.
`--check` (CUDA only) first runs the GPU tests and adds the `cuda_graphs` timings (bench/perf/check.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.config.folders import checkout_root, data_root
from bench.devices import execution_mode, resolve_device
from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.perf import check, figures
from bench.perf.projection import projection_rows
from bench.perf.text_units import TEXT_EXPERIMENTS, text_projection
from bench.perf.timing import Row
from bench.provenance import git_revision, machine_lines


def measure(
    device: torch.device, repeats: int, data_root: Path, sizes: figures.Sizes, graphs: bool = False
) -> list[Row]:
    """Every figure, in order; step times feed the projection at the end (and, with `graphs`, the
    `cuda_graphs` timings and their projection)."""
    bench = figures.synthetic_bench(device, repeats, sizes)
    rows: list[Row] = []
    for name, figure in (
        ("sampling", figures.sampling),
        ("training steps", figures.mle_step),
        ("CoT", figures.cot_iteration),
        ("SeqGAN", figures.seqgan_rewards),
        ("evaluation", figures.evaluation),
    ):
        print(f"{name} ...", file=sys.stderr)
        rows += figure(bench)
    rows += figures.text_metrics(data_root, sizes)
    rows += projection_rows(bench.seconds, bench.seconds["evaluation"], sizes.n_eval)
    if graphs:
        rows += check.graphed_units(bench)
    for experiment in TEXT_EXPERIMENTS:
        rows += text_projection(experiment, data_root, device, repeats, sizes)
    return rows + figures.memory(bench)


def render(rows: Sequence[Row], machine: list[str], command: str) -> str:
    lines = [
        f"<!-- Regenerate: {command} -->",
        "# Performance",
        "",
        f"Regenerate with `{command}`. Median of repeats [min–max]; baselines are the plain",
        "implementations in `bench/perf/baselines.py`, measured in the same run.",
        "",
        *machine,
        "",
        "| figure | cotbench | plain baseline | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.figure} | {r.ours} | {r.baseline} | {r.ratio} | {r.target} | {r.met} |" for r in rows]
    return "\n".join(lines) + "\n"


def default_table(device_type: str) -> Path:
    """results/perf.md (perf_<device>.md off the CPU) in the checkout, else relative to the current folder:
    an installed wheel's folder is site-packages, no place for a table."""
    name = "perf.md" if device_type == "cpu" else f"perf_{device_type}.md"
    return (checkout_root() or Path()) / "results" / name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", default=None, help="device=cpu (default), cuda or auto (as --device)")
    parser.add_argument("--device", dest="device_option", default=None, help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--check", action="store_true", help="CUDA only: the GPU tests, then every timing, in one call")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure (median reported)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, to check the script (not a measurement)")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding coco/ (default: $COTBENCH_DATA, else data/ in the checkout, else the user's cache)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the table's file (default: results/perf[_<device>].md in the checkout the suite runs from, "
        "else under the current folder)",
    )
    return parser


def device_name(args: argparse.Namespace) -> str:
    """The device asked for, by `--device NAME` or the older `device=NAME` (the same if both are given)."""
    positional = args.device.removeprefix("device=") if args.device else None
    if positional and args.device_option and positional != args.device_option:
        raise BenchError(f"device={positional} and --device {args.device_option}: give one device")
    return args.device_option or positional or ("cuda" if args.check else "cpu")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        name = device_name(args)
        if args.check and not torch.cuda.is_available():
            raise BenchError(check.NO_CUDA)
        device = resolve_device(name)
        if args.check and device.type != "cuda":
            raise BenchError(f"--check checks a CUDA device, not {name}: use --device cuda")
        if args.repeats < 1:
            raise BenchError(f"--repeats={args.repeats}: must be at least 1")
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    torch.set_grad_enabled(True)
    started = time.monotonic()
    rows = [check.gpu_tests()] if args.check else []
    sizes = figures.QUICK if args.quick else figures.Sizes()
    with execution_mode(device, deterministic=True):
        rows += measure(device, args.repeats, args.data_root or data_root(), sizes, graphs=args.check)
    command = "python -m bench.perf" + ("" if device.type == "cpu" else f" --device {name}")
    command += " --check" if args.check else ""
    machine = [
        f"- commit: {git_revision()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"measured in {time.monotonic() - started:,.0f} s",
        *machine_lines(),
        f"- device: {device}" + (f" ({check.card_name(device)})" if device.type == "cuda" else ""),
    ]
    if args.quick:
        machine.append("- **--quick: reduced shapes; these figures check the script and measure nothing**")
    text = render(rows, machine, command)
    out = args.out or default_table(device.type)
    atomic_write_text(out, text)
    print(text)
    return 0
