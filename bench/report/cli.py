"""`python -m bench.report SWEEP_DIR`: the comparison report of a sweep, under outputs/reports/<name>/.

Only complete runs count; every other run is listed as left out, with its status and reason, and
said on stderr. Runs are grouped by algorithm choice, and runs whose configs differ in anything but
the seed are refused unless `--group-by` says which keys make separate rows; runs from a dirty
checkout are refused unless `--allow-dirty`, runs made by different code are never averaged.
Nothing the results folder names is imported unless it is part of the suite (or trusted with
`--allow-target`). Every problem is one line and exit status 2; Ctrl-C or SIGTERM, 130 or 143,
with the previous report left whole.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.devices import resolve_device, visible_cores
from bench.errors import BenchError
from bench.report.claims import BENCHMARK_NAMES
from bench.report.escape import one_line
from bench.report.writer import Options, SignalAfterWriting, write_report
from bench.training.lifecycle import Interrupted

DEFAULT_OUT = Path("outputs") / "reports"


def _parser() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (e.g. outputs/sweeps/quick_synthetic)")
    parser.add_argument("--name", help=f"report folder name under {DEFAULT_OUT} (default: the sweep folder's name)")
    parser.add_argument("--out", type=Path, help=f"the report folder (default: {DEFAULT_OUT}/<name>)")
    parser.add_argument(
        "--temperatures", default=",".join(f"{t:g}" for t in defaults.temperatures), help="comma-separated τ grid"
    )
    parser.add_argument("--temperature-samples", type=int, default=defaults.temperature_samples)
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="torch CPU threads (0: torch's default; at most the cores)",
    )
    parser.add_argument("--group-by", default="", help="comma-separated config keys that make separate rows")
    parser.add_argument("--allow-target", action="append", default=[], help="a _target_ you trust (exact name)")
    parser.add_argument(
        "--allow-dirty", action="store_true", help="admit runs made from a checkout with uncommitted changes"
    )
    parser.add_argument(
        "--stand-in",
        choices=sorted(BENCHMARK_NAMES),
        help="judge the published claims of this benchmark on these runs' data, stated as a stand-in for it",
    )
    return parser


def options_from(args: argparse.Namespace) -> Options:
    """Validated options: one-line errors naming the value and what is allowed."""
    try:
        temperatures = tuple(float(t) for t in args.temperatures.split(",") if t.strip())
    except ValueError:
        temperatures = ()
    if not temperatures or any(not (t > 0 and math.isfinite(t)) for t in temperatures):
        raise BenchError(f"--temperatures={one_line(args.temperatures)}: must be comma-separated finite numbers > 0")
    if args.temperature_samples < 2:
        raise BenchError(f"--temperature-samples={args.temperature_samples}: must be at least 2")
    resolve_device(args.device, "--device")
    cores = visible_cores()
    if not 0 <= args.threads <= cores:
        raise BenchError(f"--threads={args.threads}: must be between 0 (torch's default) and {cores} (visible cores)")
    group_by = tuple(key.strip() for key in args.group_by.split(",") if key.strip())
    return Options(
        temperatures,
        args.temperature_samples,
        args.device,
        args.threads,
        group_by,
        tuple(args.allow_target),
        args.allow_dirty,
        args.stand_in,
    )


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; print its README. Exit 2 with one line on any problem the user can fix."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if not args.sweep_dir.is_dir():
            raise BenchError(f"{args.sweep_dir}: no such sweep folder")
        options = options_from(args)
        out_dir = args.out or DEFAULT_OUT / (args.name or args.sweep_dir.resolve().name)
        with torch.no_grad():
            readme = write_report(args.sweep_dir, out_dir, argv, options)
    except BenchError as error:
        print(f"error: {one_line(str(error).splitlines()[0] if str(error) else error)}", file=sys.stderr)
        return 2
    except SignalAfterWriting as interrupt:
        print(f"{interrupt} (it is whole)", file=sys.stderr)
        return 128 + signal.Signals[interrupt.signal_name].value
    except KeyboardInterrupt as interrupt:
        name = interrupt.signal_name if isinstance(interrupt, Interrupted) else "SIGINT"
        print(f"interrupted by {name}; no report written (a previous one is left whole)", file=sys.stderr)
        return 128 + signal.Signals[name].value
    except OSError as error:  # reading the sweep (the report's own writes say `--out`)
        print(f"error: cannot read {error.filename or args.sweep_dir}: {error.strerror or error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(readme.read_text(encoding="utf-8"))
    return 0
