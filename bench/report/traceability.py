"""Which code and which machine made the runs a report shows, and the refusals that keep figures traceable.

Each run records the code that made it (`code`: git revision, whether the checkout was dirty, a
fingerprint of every file that computes figures and those files' hashes) and the machine (`machine`:
CPU model, instruction set, cores, torch threads, GPU) in metrics.json (bench/provenance.py). A run
from a dirty checkout cannot be traced to a commit, so the report refuses it unless told
`--allow-dirty` (and then says so at its top); runs made by different code are never averaged into
one row (the files that differ are named); and the header lists revisions, fingerprints, CPUs and
thread counts with how many runs each, so a reader sees at once whether rows come from one code
and one kind of machine. Runs made before this was recorded are counted as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bench.errors import BenchError
from bench.provenance import changed_files
from bench.report.escape import code, one_line
from bench.report.grouping import Group
from bench.report.runs import RunResult

SHORT = 12
"""Characters of a revision or fingerprint shown (enough to tell them apart)."""


def fingerprint(run: RunResult) -> str | None:
    value = run.code.get("fingerprint")
    return str(value) if isinstance(value, str) and value else None


def dirty_runs(runs: Sequence[RunResult]) -> list[RunResult]:
    """The runs whose checkout had uncommitted or untracked changes when they ran."""
    return [run for run in runs if run.code.get("dirty") is True]


def check_clean(runs: Sequence[RunResult], allow_dirty: bool) -> None:
    """Refuse runs from a dirty checkout (one line naming one and the count) unless `allow_dirty`."""
    dirty = dirty_runs(runs)
    if dirty and not allow_dirty:
        raise BenchError(
            f"{len(dirty)} run(s) were made from a checkout with uncommitted changes (e.g. {dirty[0].path}), "
            "so their code cannot be traced to a commit; commit and re-run them, or pass --allow-dirty"
        )


def check_same_code(groups: dict[Group, list[RunResult]]) -> None:
    """Refuse a group (one table row) whose runs were made by different code, naming the files that differ;
    a run without a code record beside runs with one cannot be shown to match, and is refused too."""
    for group, runs in groups.items():
        prints = {fingerprint(run) for run in runs}
        if len(prints) < 2:
            continue
        where = f"{group.section}/{group.label}"
        if None in prints:
            unknown = next(run for run in runs if fingerprint(run) is None)
            raise BenchError(
                f"{where}: {unknown.path} has no code record, other runs of the row do; refusing to average runs "
                "that cannot be shown to share their code (re-run it, or move it away)"
            )
        first = runs[0]
        other = next(run for run in runs if fingerprint(run) != fingerprint(first))
        files = changed_files(_files(first), _files(other))
        named = ", ".join(one_line(name) for name in files[:6]) + (", ..." if len(files) > 6 else "")
        raise BenchError(
            f"{where}: runs were made by different code ({first.path} and {other.path} differ in "
            f"{named or 'unrecorded files'}); refusing to average them (re-run them with one code)"
        )


def _files(run: RunResult) -> dict[str, str]:
    files = run.code.get("files")
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _short(value: object) -> str:
    return str(value)[:SHORT]


def code_lines(runs: Sequence[RunResult], allow_dirty: bool) -> list[str]:
    """Markdown bullets: each (revision, clean or dirty, fingerprint) with its number of runs."""
    counts = Counter()
    for run in runs:
        if not run.code:
            counts["no code record (made before runs recorded it)"] += 1
            continue
        dirty = {True: "dirty checkout", False: "clean", None: "not a git checkout"}.get(run.code.get("dirty"), "?")
        revision, print_ = code(_short(run.code.get("revision", "?"))), code(_short(fingerprint(run)))
        key = f"revision {revision} ({dirty}), fingerprint {print_}"
        counts[key] += 1
    lines = [f"- runs' code: {key}: {n} run(s)" for key, n in sorted(counts.items())]
    dirty = dirty_runs(runs)
    if dirty and allow_dirty:
        lines.append(
            f"- **made from uncommitted code**: {len(dirty)} run(s) ran from a dirty checkout, admitted with "
            "`--allow-dirty`; their code cannot be traced to a commit"
        )
    return lines


def machine_lines(runs: Sequence[RunResult]) -> list[str]:
    """Markdown bullets: each (CPU, instruction set, torch threads, GPU) the runs ran on, with its number of runs."""
    counts = Counter()
    for run in runs:
        machine = run.machine
        if not machine:
            counts["not recorded"] += 1
            continue
        cpu = f"{machine.get('cpu', '?')} ({machine.get('cpu_capability', '?')})"
        key = f"{cpu}, {machine.get('torch_threads', '?')} torch thread(s), GPU {machine.get('gpu', '?')}"
        counts[code(key)] += 1
    return [f"- runs' machine: {key}: {n} run(s)" for key, n in sorted(counts.items())]


def provenance_record(runs: Sequence[RunResult]) -> list[dict[str, object]]:
    """Per run, what the sidecar JSON keeps: path, seed, revision, dirty, fingerprint, CPU, threads, GPU."""
    return [
        {
            "path": str(run.path),
            "algorithm": run.algorithm,
            "seed": run.seed,
            "revision": run.code.get("revision"),
            "dirty": run.code.get("dirty"),
            "fingerprint": fingerprint(run),
            "cpu": run.machine.get("cpu"),
            "cpu_capability": run.machine.get("cpu_capability"),
            "torch_threads": run.machine.get("torch_threads"),
            "gpu": run.machine.get("gpu"),
        }
        for run in runs
    ]
