"""The report against hostile or broken inputs: strings that would become LaTeX, Markdown or HTML come out
inert; the thread count is bounded; a planted module in the working directory is never imported; FIFOs,
links out of the sweep, alias bombs and `${oc.env:...}` are refused; a full disk, a mount point, a
malformed seed or step, SIGINT and SIGTERM each end in one line and leave nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.devices import visible_cores
from bench.report import main as report_main
from bench.training.run import run
from tests.conftest import REPO_ROOT, cli_env, compose_spec
from tests.mounts import in_private_mounts, report_command
from tests.processes import default_signals, wait_until
from tests.run_folders import make_run
from tests.test_report_inputs import report_error

INJECTED = "train.steps=5\n\\input{/etc/passwd}\n\\immediate\\write18{touch pwned}\n<script>alert(1)</script>-->"
TINY = ("dataset=synthetic_tiny", "dataset.vocab_size=4", "dataset.seq_len=4", "eval.n_samples=50", "progress=false")


def tiny_runs(sweep: Path, seeds=(0, 1)) -> Path:
    for seed in seeds:
        run(compose_spec(*TINY, f"seed={seed}", "train.steps=4", "eval.every=2"), sweep / f"seed{seed}")
    return sweep


def test_a_multirun_override_with_newlines_and_latex_comes_out_inert(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0})
    make_run(sweep, "cot", 0, {"nll_oracle": 2.0}, status="failed", metrics={"reason": "<img src=x onerror=alert(1)>"})
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": ["seed=0", INJECTED]}}}))
    out = tmp_path / "out"
    assert report_main([str(sweep), "--out", str(out)]) == 0
    tex = (out / "table.tex").read_text()
    for line in tex.splitlines():
        if "input{" in line or "write18" in line:
            assert line.startswith("% Regenerate: "), line  # inside the one comment line, or escaped
    assert "\\input{" not in tex.split("\n", 1)[1] and "\\immediate" not in tex.split("\n", 1)[1]
    readme = (out / "README.md").read_text()
    first, rest = readme.split("\n", 1)
    assert first.startswith("<!-- Regenerate: ") and first.endswith(" -->") and first.count("-->") == 1
    for line in rest.splitlines():
        assert not line.lstrip().startswith(("\\input", "<script", "\\immediate")), line
    assert "<img" not in readme and "&lt;img src=x onerror=alert(1)&gt;" in readme
    assert "train.steps=5\\n\\input{/etc/passwd}\\n" in readme  # the newline shown, not kept
    table_md = (out / "table.md").read_text()
    assert table_md.startswith("<!-- ") and table_md.split("\n")[0].count("-->") == 1


def test_threads_beyond_the_visible_cores_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    err = report_error(capsys, str(tmp_path / "s"), "--threads", "1000000")
    cores = visible_cores()
    assert err == f"error: --threads=1000000: must be between 0 (torch's default) and {cores} (visible cores)"


def test_python_m_report_inside_a_sweep_never_imports_a_planted_module(tmp_path: Path) -> None:
    sweep = tmp_path / "downloaded"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0})
    for package in ("metrics", "models"):
        (sweep / package).mkdir()
        (sweep / package / "__init__.py").write_text(f"open({str(tmp_path / package)!r} + '.MARKER', 'w')\n")
    command = [sys.executable, "-m", "bench.report", ".", "--out", str(tmp_path / "out")]
    result = subprocess.run(command, cwd=sweep, env=cli_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("*.MARKER"))
    assert (tmp_path / "out" / "README.md").is_file()


def test_a_fifo_named_like_a_run_file_is_refused_not_waited_on(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tiny_runs(tmp_path / "s")
    (sweep / "seed1" / "model.pt").unlink()
    os.mkfifo(sweep / "seed1" / "model.pt")
    args = ["--out", str(tmp_path / "out"), "--temperatures", "1", "--temperature-samples", "50", "--allow-dirty"]
    assert report_main([str(sweep), *args]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "model.pt unreadable, left out of the temperature curves" in readme and "not a regular file" in readme
    hanging = make_run(tmp_path / "t", "mle", 0, {"nll_oracle": 2.0})
    (hanging / "metrics.json").unlink()
    os.mkfifo(hanging / "metrics.json")
    make_run(tmp_path / "t", "mle", 1, {"nll_oracle": 2.0})
    assert report_main([str(tmp_path / "t"), "--out", str(tmp_path / "out2")]) == 0
    assert "metrics.json: not a regular file (a FIFO, device or folder); not read" in capsys.readouterr().err
    (hanging / "metrics.json").unlink()
    make_run(tmp_path / "u", "mle", 0, {"nll_oracle": 2.0})
    history = tmp_path / "u" / "mle" / "synthetic_tiny" / "seed0" / "history.csv"
    history.unlink()
    os.mkfifo(history)
    err = report_error(capsys, str(tmp_path / "u"), "--out", str(tmp_path / "out3"))
    assert err == f"error: {history}: not a regular file (a FIFO, device or folder); not read"


def test_a_yaml_alias_bomb_in_a_saved_config_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(20)]
    (run_dir / "config.yaml").write_text("\n".join(lines) + "\n")  # 10 * 3^20 strings once expanded
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert (
        err == f"error: {run_dir / 'config.yaml'}: unreadable (line 2: holds a YAML alias, which saved files never do)"
    )


def test_links_out_of_the_sweep_are_never_followed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outside = make_run(tmp_path / "elsewhere", "mle", 5, {"nll_oracle": 2.0}, metrics={"reason": "SECRET-TEXT"})
    sweep = tmp_path / "s"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0})
    linked = sweep / "mle" / "synthetic_tiny" / "seed1"
    linked.mkdir()
    (linked / "metrics.json").symlink_to(outside / "metrics.json")
    (sweep / "whole_run").symlink_to(outside, target_is_directory=True)
    assert report_main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "SECRET-TEXT" not in readme and "a symbolic link out of the sweep folder" in readme
    assert "this suite (n = 1)" in readme  # the linked run folder is not entered, its link file not read
    assert "a symbolic link out of the sweep folder" in capsys.readouterr().err


def test_an_env_interpolation_in_a_saved_config_is_never_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COTBENCH_TEST_SECRET", "hunter2")
    run_dir = make_run(
        tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, config={"dataset.name": "${oc.env:COTBENCH_TEST_SECRET}"}
    )
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert "hunter2" not in err
    expected = "dataset.name holds an interpolation; saved configs are resolved, not evaluated"
    assert err == f"error: {run_dir / 'config.yaml'}: {expected}"


def test_a_seed_that_is_not_an_integer_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, metrics={"seed": "zero"})
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert (
        err
        == f"error: {run_dir / 'metrics.json'}: seed='zero' is not an integer (repair the file or move the run away)"
    )


def test_a_non_numeric_step_is_one_line_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    history = [{"step": 0, "nll_oracle": 3.0}, {"step": "ten", "nll_oracle": 2.0}]
    run_dir = make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0}, history=history)
    err = report_error(capsys, str(tmp_path / "s"), "--out", str(tmp_path / "out"))
    assert err == f"error: {run_dir / 'history.csv'}: line 3: step is 'ten', not a number"


def test_a_full_disk_under_out_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    make_run(sweep, "mle", 0, {"nll_oracle": 2.0})
    disk = tmp_path / "disk"
    disk.mkdir()
    result = in_private_mounts(
        f"mount -t tmpfs -o size=16k tmpfs {disk}", report_command(str(sweep), "--out", str(disk / "out"))
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --out: cannot write {disk}/"), result.stderr
    assert lines[0].endswith(": No space left on device")


def test_out_on_a_mount_point_is_one_line(tmp_path: Path) -> None:
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 2.0})
    point = tmp_path / "mounted"
    point.mkdir()
    command = report_command(str(tmp_path / "s"), "--out", str(point))
    result = in_private_mounts(f"mount -t tmpfs tmpfs {point}", command)
    assert result.returncode == 2 and result.stderr.strip() == (
        f"error: --out: {point} is a mount point; a report replaces its folder whole, so name one inside it"
    )


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_report_is_one_line_and_leaves_no_staging_folder(tmp_path: Path, signum, status) -> None:
    sweep = tiny_runs(tmp_path / "s")
    out = tmp_path / "reports" / "out"
    out.mkdir(parents=True)
    (out / "README.md").write_text("<!-- Regenerate: the previous report -->\n")
    many = ",".join(f"{0.5 + 0.05 * i:g}" for i in range(40))
    arguments = ["--out", str(out), "--temperatures", many, "--temperature-samples", "20000", "--allow-dirty"]
    process = subprocess.Popen(
        report_command(str(sweep), *arguments),
        cwd=REPO_ROOT,
        env=cli_env(),
        preexec_fn=default_signals(),
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: any(p.name.startswith(".out.") for p in out.parent.iterdir()), process)
    process.send_signal(signum)
    _, err = process.communicate()
    assert process.returncode == status
    name = signal.Signals(signum).name
    last = err.strip().splitlines()[-1].split("\r")[-1]  # after any progress bar's carriage returns
    assert last == f"interrupted by {name}; no report written (a previous one is left whole)"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    assert (out / "README.md").read_text() == "<!-- Regenerate: the previous report -->\n"


def test_a_signal_while_the_report_is_put_in_place_waits_until_it_is_whole(tmp_path: Path) -> None:
    """Between the two renames of the swap a signal is held back; taken afterwards, it stops the command
    with its status while the new report is already whole (no half-swapped folders)."""
    from bench.report.writer import SignalAfterWriting, _held

    with pytest.raises(SignalAfterWriting) as raised:
        with _held(tmp_path):
            os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt here, were it not held back
            (tmp_path / "renamed").mkdir()
    assert raised.value.signal_name == "SIGINT" and (tmp_path / "renamed").is_dir()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_just_as_the_staging_folder_is_made_leaves_no_folder(tmp_path: Path, monkeypatch, signum) -> None:
    from bench.report import writer

    sweep = tiny_runs(tmp_path / "s")
    make_folder = writer._staging_folder

    def made_then_signalled(out_dir: Path) -> Path:
        folder = make_folder(out_dir)
        os.kill(os.getpid(), signum)  # the folder exists; its caller has not received its name yet
        return folder

    class Terminated(Exception):
        pass

    def terminate(received, frame):
        raise Terminated()

    monkeypatch.setattr(writer, "_staging_folder", made_then_signalled)
    # Python's own Ctrl-C handler, whatever the tests' runner set (a script's background job ignores SIGINT)
    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: terminate}
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        with pytest.raises(KeyboardInterrupt if signum == signal.SIGINT else Terminated):
            writer.write_report(sweep, tmp_path / "reports" / "out", ["x"], writer.Options(allow_dirty=True))
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert list((tmp_path / "reports").iterdir()) == []
