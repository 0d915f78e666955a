"""`python -m bench.data fetch` within limits: no more bytes than expected, an overall deadline, a Content-Length
that is not a number, SIGTERM leaving no partial file, files known only by their git blob id. A local
server in a thread plays each misbehaving host; nothing is downloaded from the network."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.datasets.download import FetchError, RemoteFile, download, git_blob_id, git_blob_id_of, remove_stale_parts
from bench.datasets.fetch import BUNDLES, main
from bench.datasets.text_files import TextFileError, read_text_file
from tests.conftest import REPO_ROOT, cli_env
from tests.processes import default_signals, finish, wait_until

BODY = b"a man riding a bike at night .\n" * 40


class Host(BaseHTTPRequestHandler):
    """Serves `body` for any path, with `length` as Content-Length (None: no header, the body ends at close),
    one `piece` of bytes every `pause` seconds."""

    body, length, piece, pause = BODY, "auto", 1 << 16, 0.0

    def do_GET(self) -> None:  # noqa: N802 (the base class's name)
        self.send_response(200)
        length = str(len(self.body)) if self.length == "auto" else self.length
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        try:
            for start in range(0, len(self.body), self.piece):
                self.wfile.write(self.body[start : start + self.piece])
                self.wfile.flush()
                time.sleep(self.pause)
        except OSError:
            pass  # the client went away: what a limit does

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def host() -> Iterator[tuple[type[Host], str]]:
    handler = type("Configured", (Host,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/file.txt"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def remote_for(body: bytes, **changes: object) -> RemoteFile:
    fields = {"name": "file.txt", "source": "x/y/z/file.txt", "sha256": hashlib.sha256(body).hexdigest()}
    return RemoteFile(**{**fields, "size": len(body), **changes})


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_a_body_longer_than_expected_is_cut_off_and_nothing_kept(host, tmp_path: Path) -> None:
    handler, url = host
    handler.body, handler.length = BODY + b"x" * 100_000, None  # no Content-Length: only the cap stops it
    with pytest.raises(FetchError, match=rf"file.txt: sent more than the expected {len(BODY):,} bytes; file not kept"):
        download(url, remote_for(BODY), tmp_path / "file.txt", progress=False)
    assert leftovers(tmp_path) == []


def test_an_announced_size_above_the_expected_one_is_refused_before_reading(host, tmp_path: Path) -> None:
    handler, url = host
    handler.body = BODY + b"more"
    with pytest.raises(FetchError, match=rf"announces {len(BODY) + 4:,} bytes, more than the expected {len(BODY):,}"):
        download(url, remote_for(BODY), tmp_path / "file.txt", progress=False)
    assert leftovers(tmp_path) == []


def test_a_content_length_that_is_not_a_number_is_ignored(host, tmp_path: Path) -> None:
    handler, url = host
    handler.length = "about a kilobyte"  # once a ValueError traceback
    download(url, remote_for(BODY), tmp_path / "file.txt", progress=False)
    assert (tmp_path / "file.txt").read_bytes() == BODY and leftovers(tmp_path) == ["file.txt"]


def test_a_dribbling_server_meets_the_overall_deadline(host, tmp_path: Path) -> None:
    handler, url = host
    handler.piece, handler.pause = 8, 0.1  # 1,240 bytes at 80 bytes a second: 15 s
    with pytest.raises(FetchError, match=r"not complete after the 0.5 s deadline \(\d+ bytes\); not kept"):
        download(url, remote_for(BODY), tmp_path / "file.txt", progress=False, timeout=5, deadline=0.5)
    assert leftovers(tmp_path) == []


def test_sigterm_during_a_download_leaves_no_partial_file(host, tmp_path: Path) -> None:
    handler, url = host
    handler.body, handler.piece, handler.pause = BODY * 50, 100, 0.2  # minutes to send: stopped long before
    base = url.removesuffix("/file.txt")
    command = [sys.executable, "-m", "bench.data", "fetch", "coco", "--root", str(tmp_path), "--no-progress"]
    process = subprocess.Popen(
        [*command, "--base-url", base],
        cwd=REPO_ROOT,
        env=cli_env(),
        preexec_fn=default_signals(),
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = tmp_path / "coco"
    wait_until(lambda: folder.is_dir() and bool(list(folder.glob(".image_coco.txt.*.part"))), process)
    process.send_signal(signal.SIGTERM)
    status, _, stderr = finish(process)
    assert status == 128 + signal.SIGTERM, stderr  # the message says which path lost the signal
    assert stderr.strip().splitlines() == ["error: interrupted by SIGTERM; no partial file kept"]
    assert leftovers(folder) == []


def test_files_known_by_their_git_blob_id_are_verified_by_it(host, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    assert git_blob_id(tmp_path / "hello.txt") == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`
    assert git_blob_id_of(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    handler, url = host
    by_blob = remote_for(BODY, sha256=None, size=None, git_blob=git_blob_id_of(BODY), max_size=10_000)
    download(url, by_blob, tmp_path / "file.txt", progress=False)
    assert (tmp_path / "file.txt").read_bytes() == BODY
    wrong = remote_for(BODY, sha256=None, size=None, git_blob="0" * 40, max_size=10_000)
    with pytest.raises(FetchError, match=r"checksum mismatch \(git blob [0-9a-f]{40}, expected 0000000000"):
        download(url, wrong, tmp_path / "other.txt", progress=False)
    full = BUNDLES["emnlp_news_full"].files[0]
    assert full.git_blob == "538653e5f946b6f76e2b729c5aaa7507152354a3" and full.sha256 is None
    with pytest.raises(ValueError, match="needs a sha256 or a git blob id"):
        RemoteFile("f", "a/b/c/f", None, 10)


def test_a_file_named_like_the_full_emnlp_file_must_be_that_file(tmp_path: Path) -> None:
    (tmp_path / "emnlp_news.txt").write_text("a few sentences of my own .\n")
    with pytest.raises(
        TextFileError, match=r"emnlp_news.txt: git blob [0-9a-f]{12}\.\.\. is not that of the published"
    ):
        read_text_file(tmp_path / "emnlp_news.txt", "train_file", "emnlp_news")


def test_stale_partial_files_of_a_killed_download_are_removed_once_old(tmp_path: Path) -> None:
    old, fresh = tmp_path / ".image_coco.txt.abc123.part", tmp_path / ".image_coco.txt.def456.part"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    remove_stale_parts(tmp_path, "image_coco.txt", older_than=1800)
    assert leftovers(tmp_path) == [fresh.name]  # a download still under way keeps its file


def test_a_bad_deadline_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["fetch", "coco", "--root", str(tmp_path), "--deadline", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --deadline=0.0: must be > 0 seconds"


def test_the_signal_handlers_are_in_place_before_the_partial_file_exists(
    host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else a SIGTERM that finds the `.part` file could meet the parent's disposition (ignored under
    some launchers): lost, the download would run to its end."""
    import tempfile

    import bench.datasets.download as downloading

    handler, url = host
    before, seen, mkstemp = signal.getsignal(signal.SIGTERM), [], tempfile.mkstemp

    def making_the_part_file(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGTERM))
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(downloading.tempfile, "mkstemp", making_the_part_file)
    download(url, remote_for(BODY), tmp_path / "file.txt", progress=False)
    assert len(seen) == 1 and seen[0] is not before and callable(seen[0])
    assert signal.getsignal(signal.SIGTERM) is before and leftovers(tmp_path) == ["file.txt"]
