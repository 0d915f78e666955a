"""`python -m bench.data fetch`: downloads from a local HTTP server, verified by sha256, atomic, clear errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.datasets.fetch import BUNDLES, FetchError, fetch, main, sha256_of
from tests.conftest import DATA_ROOT, REPO_ROOT, cli_env, shared_file


class QuietHandler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        QuietHandler.requests.append(self.path)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder laid out as <owner>/<repo>/<commit>/<path>, served on 127.0.0.1 at an ephemeral port."""
    root = tmp_path / "mirror"
    shared_file("coco", "image_coco.txt")  # without the reference data there is nothing to serve
    for bundle in BUNDLES.values():
        for remote in bundle.files:
            source = DATA_ROOT / bundle.folder / remote.name
            if source.is_file():  # emnlp_news.txt (the full EMNLP training file) is not in the reference data
                target = root / remote.source
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    QuietHandler.requests = []
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_fetch_downloads_every_file_and_verifies_it(mirror: tuple[Path, str], tmp_path: Path, name: str) -> None:
    _, base_url = mirror
    bundle = BUNDLES[name]
    for remote in bundle.files:
        shared_file(bundle.folder, remote.name)
    paths = fetch(name, tmp_path / "data", base_url, progress=False)
    assert [p.name for p in paths] == [r.name for r in bundle.files]
    for path, remote in zip(paths, bundle.files, strict=True):
        assert path.parent == tmp_path / "data" / bundle.folder
        assert path.read_bytes() == shared_file(bundle.folder, remote.name).read_bytes()
        assert sha256_of(path) == remote.sha256 and path.stat().st_size == remote.size
    downloads = len(QuietHandler.requests)
    assert downloads == len(bundle.files)
    fetch(name, tmp_path / "data", base_url, progress=False)  # everything present and verified: no download
    assert len(QuietHandler.requests) == downloads


def test_checksum_mismatch_keeps_nothing(mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, base_url = mirror
    remote = BUNDLES["coco"].files[1]
    served = root / remote.source
    data = bytearray(served.read_bytes())
    data[100] ^= 1  # one flipped bit
    served.write_bytes(bytes(data))
    with pytest.raises(FetchError, match=r"test_coco.txt: checksum mismatch \(sha256 [0-9a-f]{64}, expected 72e25c"):
        fetch("coco", tmp_path / "data", base_url, progress=False)
    folder = tmp_path / "data" / "coco"
    assert sorted(p.name for p in folder.iterdir()) == ["image_coco.txt"]  # the good file, no partial file


def test_a_corrupt_local_copy_is_downloaded_again(mirror: tuple[Path, str], tmp_path: Path) -> None:
    _, base_url = mirror
    stale = tmp_path / "data" / "coco" / "image_coco.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("not the captions\n")
    fetch("coco", tmp_path / "data", base_url, progress=False)
    assert sha256_of(stale) == BUNDLES["coco"].files[0].sha256


def test_missing_remote_file_is_a_clear_error(mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, base_url = mirror
    (root / BUNDLES["coco"].files[0].source).unlink()
    with pytest.raises(FetchError, match=r"image_coco.txt: download failed \(HTTP Error 404"):
        fetch("coco", tmp_path / "data", base_url, progress=False)
    assert not (tmp_path / "data" / "coco").exists() or not any((tmp_path / "data" / "coco").iterdir())


def test_command_line_fetch_and_its_one_line_error(mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, base_url = mirror
    command = [sys.executable, "-m", "bench.data", "fetch", "coco", "--root", str(tmp_path / "d")]
    command += ["--no-progress", "--base-url"]
    ok = subprocess.run([*command, base_url], cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "d" / "coco" / "test_coco.txt").is_file()
    (root / BUNDLES["coco"].files[0].source).write_text("tampered\n")
    command[6] = str(tmp_path / "e")
    bad = subprocess.run([*command, base_url], cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "checksum mismatch" in lines[0]
    assert not (tmp_path / "e" / "coco" / "image_coco.txt").exists()


def test_downloaded_files_get_the_ordinary_mode_of_a_new_file(mirror: tuple[Path, str], tmp_path: Path) -> None:
    _, base_url = mirror
    previous = os.umask(0o022)
    try:
        paths = fetch("coco", tmp_path / "data", base_url, progress=False)
    finally:
        os.umask(previous)
    assert [oct(path.stat().st_mode & 0o777) for path in paths] == ["0o644", "0o644"]


@pytest.mark.parametrize("kind", ["file", "under_a_file", "cannot_create"])
def test_a_bad_root_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    (tmp_path / "a_file").write_text("x\n")
    root, message = {
        "file": (tmp_path / "a_file", "not a folder"),
        "under_a_file": (tmp_path / "a_file" / "below", "a_file: not a folder"),
        "cannot_create": (Path("/proc/cotbench-no-such-root"), "cannot create the data folder"),
    }[kind]
    assert main(["fetch", "coco", "--root", str(root), "--no-progress", "--base-url", "http://127.0.0.1:9"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
