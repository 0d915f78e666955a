"""Write one report: verdicts, prose, tables, plots, temperature curves, a README and a sidecar JSON, all or none.

The report is built in a hidden folder beside its destination and swapped in at the end, under a lock
on the destination's parent and with SIGINT/SIGTERM held back for the two renames, so an error or a
signal halfway (a bad run, a full disk, Ctrl-C) leaves the previous report whole and no new file
behind, and two reports written to one place at once end with one of them whole. Runs left out,
models skipped and groups with fewer seeds than asked are listed in the README and said on stderr,
so a partial report never looks complete.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench.errors import BenchError
from bench.files import umask
from bench.provenance import git_revision
from bench.report import prose, traceability, tuned
from bench.report.curves import MATCHED_POINTS
from bench.report.escape import code, html_comment, markdown, one_line
from bench.report.grouping import Group, group_runs, sections
from bench.report.header import header_lines, regenerate_command, swept_seeds
from bench.report.runs import RunResult, check_complete_runs, check_targets, collect
from bench.report.sections import Section, write_csv, write_section
from bench.report.stats import LEVEL, TEST
from bench.report.temperature import DEFAULT_TEMPERATURES

MARKER = "<!-- Regenerate: "
"""How a report's README starts: the only kind of folder a new report may replace."""
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Signals held back while a finished report is put in place."""
SIDECAR = "report.json"
"""The command, options, provenance of every run and the files, as data."""


@dataclass(frozen=True)
class Options:
    """How a report is made (the command line's defaults live here)."""

    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    temperature_samples: int = 2000
    """Samples per model and temperature."""
    device: str = "cpu"
    threads: int = 0
    """torch CPU threads for the temperature curves; 0 keeps torch's default."""
    group_by: tuple[str, ...] = ()
    """Config keys whose values split runs into separate rows instead of being refused."""
    allowed_targets: tuple[str, ...] = ()
    """`_target_`s outside the suite that a saved config may still build (the user trusts them by exact name)."""
    allow_dirty: bool = False
    """Admit runs made from a checkout with uncommitted changes (the report says so at its top)."""
    stand_in: str | None = None
    """A published benchmark these runs' data stand in for, so that its claims are judged on them."""


def write_report(sweep_dir: Path, out_dir: Path, report_args: Sequence[str], options: Options = Options()) -> Path:
    """Write the report of `sweep_dir` into `out_dir` (replacing an older report whole); return its README."""
    runs = collect(sweep_dir)
    if not runs:
        raise BenchError(f"{sweep_dir}: no runs found (no metrics.json below it)")
    check_complete_runs(runs)
    tuning = tuned.load(sweep_dir, runs)
    compared, outside = tuned.split(tuning, runs, sweep_dir) if tuning else (runs, [])
    complete = [run for run in compared if run.complete]
    for run in complete:
        check_targets(run, options.allowed_targets)  # before anything is built or imported
    traceability.check_clean([run for run in runs if run.complete], options.allow_dirty)  # stage-1 runs too
    if not complete:
        first = next(iter(compared or outside), None)
        listed = f"; the first: {first.path}: {first.status}" if first is not None else ""
        raise BenchError(f"{sweep_dir}: no complete run to report ({len(runs)} found{listed})")
    groups = group_runs(compared, options.group_by)
    traceability.check_same_code(groups)
    if tuning:
        traceability.check_same_code(tuned.protocol_groups(tuning, runs, sweep_dir))
    command = regenerate_command(sweep_dir, report_args, tuning.command if tuning else None, compared)
    left_out = _left_out(compared, outside, groups, tuning.plan.final_seeds if tuning else swept_seeds(sweep_dir))
    if options.threads:
        torch.set_num_threads(options.threads)
    revision = git_revision()  # before the staging folder exists: inside the checkout it would read as a change
    staging: Path | None = None
    try:
        with _signals_deferred():  # a signal while the folder is made still finds `staging` set below
            staging = _staging_folder(out_dir)
        written = (complete, groups, command, options, tuning, left_out, revision)
        skipped = _write(staging, out_dir.name, sweep_dir, *written)
        _swap(staging, out_dir)
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise BenchError(f"--out: cannot write {error.filename or out_dir}: {error.strerror or error}") from None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    for where, what in [*left_out, *skipped]:
        print(f"warning: {one_line(where)}: {one_line(what)}", file=sys.stderr)
    return out_dir / "README.md"


def _left_out(
    compared: Sequence[RunResult], outside: Sequence[RunResult], groups: dict[Group, list[RunResult]], seeds
) -> list[tuple[str, str]]:
    """(where, what) per run left out and per group with fewer seeds than asked (or than its section's largest)."""
    lines = [(str(run.path), run.status + (f" ({run.reason})" if run.reason else "")) for run in compared]
    lines = [line for line, run in zip(lines, compared, strict=True) if not run.complete]
    lines += [(str(run.path), "not a stage-2 run of tuning.json, left out") for run in outside]
    asked = set(seeds or ())
    for section, members in sections(groups).items():
        largest = max(len(runs) for runs in members.values())
        for group, runs in members.items():
            have = {run.seed for run in runs}
            where = f"{section}/{group.label}"
            if asked - have:
                missing = ", ".join(map(str, sorted(asked - have)))
                lines.append((where, f"seeds {missing} missing: {len(runs)} of {len(asked | have)} seeds"))
            elif len(runs) < largest:
                lines.append((where, f"{len(runs)} seeds, fewer than the {largest} of other rows"))
    return lines


def _staging_folder(out_dir: Path) -> Path:
    if os.path.ismount(out_dir):
        raise BenchError(
            f"--out: {out_dir} is a mount point; a report replaces its folder whole, so name one inside it"
        )
    if out_dir.exists() and not _is_report(out_dir):
        raise BenchError(f"--out: {out_dir} exists and is not a report folder; refusing to replace it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    except OSError as error:
        raise BenchError(f"--out: cannot write {out_dir}: {error.strerror or error}") from None


def _is_report(folder: Path) -> bool:
    readme = folder / "README.md"
    if folder.is_symlink() or not folder.is_dir():
        return False
    if not any(folder.iterdir()):
        return True
    if readme.is_symlink() or not readme.is_file():
        return False
    with open(readme, "rb") as stream:
        return stream.read(len(MARKER)) == MARKER.encode()


class SignalAfterWriting(KeyboardInterrupt):
    """SIGINT or SIGTERM that arrived while the finished report was being put in place: the report is whole,
    then the command stops with the signal's status."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name} after the report was written")


@contextmanager
def _signals_recorded() -> Iterator[list[int]]:
    """SIGINT and SIGTERM only recorded inside, into the list it yields (Python runs signal handlers in the
    main thread, whichever thread the signal reached); the caller decides what a recorded one does once the
    previous handlers are back."""
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda s, _: received.append(s)) for signum in HELD_SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """A signal inside is raised again on leaving, to the handler it would have met (so it acts as it would
    have, one step later)."""
    received: list[int] = []
    try:
        with _signals_recorded() as received:
            yield
    finally:
        for signum in received[:1]:
            signal.raise_signal(signum)


@contextmanager
def _held(parent: Path) -> Iterator[None]:
    """An exclusive lock on the destination's parent folder, with SIGINT and SIGTERM only recorded meanwhile;
    one that arrived is raised afterwards as `SignalAfterWriting`."""
    with _signals_recorded() as received:
        handle = os.open(parent, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)
    if received:
        raise SignalAfterWriting(received[0])


def _swap(staging: Path, out_dir: Path) -> None:
    """Put the finished report in place of the old one (each rename is atomic on one file system)."""
    os.chmod(staging, 0o777 & ~umask())
    with _held(out_dir.parent):
        if out_dir.exists() and not _is_report(out_dir):
            raise BenchError(f"--out: {out_dir} exists and is not a report folder; refusing to replace it")
        old = None
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old.{os.getpid()}"
            os.replace(out_dir, old)
        try:
            os.replace(staging, out_dir)
        except OSError:
            if old is not None:
                os.replace(old, out_dir)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _write(
    folder: Path,
    name: str,
    sweep_dir: Path,
    runs: Sequence[RunResult],
    groups: dict[Group, list[RunResult]],
    command: str,
    options: Options,
    tuning: tuned.Tuned | None,
    left_out: Sequence[tuple[str, str]],
    revision: str,
) -> list[tuple[str, str]]:
    """Every file of the report, into `folder`; returns the lines of models the temperature curves skipped."""
    found = sections(groups)
    made: list[Section] = []
    for section, members in found.items():
        suffix = "" if len(found) == 1 else f"_{next(iter(members)).slug}"
        made.append(write_section(folder, name, section, members, suffix, options, command))
    verdicts = [verdict for section in made for verdict in section.verdicts]
    files = [path for section in made for path in section.files]
    files.append(write_csv(folder / "verdicts.csv", prose.verdicts_frame(verdicts)))
    points = [(section.name, comparison) for section in made for comparison in section.comparisons]
    files.append(write_csv(folder / "curve_points.csv", prose.points_frame(points)))
    lines = [f"{MARKER}{html_comment(command)} -->", f"# Report: {markdown(name)}", ""]
    lines += header_lines(command, revision, runs, options.allow_dirty)
    lines += ["## Verdicts", "", prose.STATISTICS, "", prose.verdict_table(verdicts, len(made) > 1), ""]
    lines += ["## What this shows", ""]
    for section in made:
        lines += prose.what_this_shows(section.name, verdicts, section.summary)
    for dataset in dict.fromkeys(section.dataset for section in made):
        variants = [section.name for section in made if section.dataset == dataset]
        lines += prose.across_sections(verdicts, variants, dataset)
    if tuning is not None:
        table = tuned.tuning_frame(tuning)
        files.append(write_csv(folder / "tuning.csv", table))
        lines += tuned.section_lines(tuning, table)
    for section in made:
        lines += section.lines
    skipped = [line for section in made for line in section.skipped]
    lines += ["## Files", "", *[f"- [{path.name}]({path.name})" for path in files], f"- [{SIDECAR}]({SIDECAR})", ""]
    lines += ["## Runs left out", "", *[f"- {code(where)}: {markdown(what)}" for where, what in [*left_out, *skipped]]]
    lines += ["" if left_out or skipped else "none", ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
    sidecar = {
        "command": command,
        "report_revision": revision,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sweep": str(sweep_dir),
        "options": asdict(options),
        "statistics": {"test": TEST, "level": LEVEL, "matched_points": MATCHED_POINTS},
        "runs": traceability.provenance_record(runs),
        "left_out": [{"where": where, "what": what} for where, what in [*left_out, *skipped]],
        "files": [path.name for path in files],
    }
    (folder / SIDECAR).write_text(json.dumps(sidecar, indent=1, default=str) + "\n", encoding="utf-8")
    return skipped
