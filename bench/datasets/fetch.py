"""Where data files live, and `python -m bench.data fetch coco|emnlp_news|emnlp_news_full|seqgan_oracle`.

Each file comes from a fixed commit of its public repository and must match the sha256 recorded
below (or, for EMNLP News' full training file, whose bytes are not mirrored here, git's blob id as
the repository records it), or it is not kept. Downloads (bench/datasets/download.py) go to a
temporary file next to the target and are renamed into place only once verified, bounded in size
and time, so an interrupted or corrupted download never leaves a file that looks complete; the file
then gets the ordinary mode of a new file (0666 less the umask). Files already present with the
right checksum are not downloaded again. A bad root (a file, not writable) is a one-line error.
Datasets look up the published checksums here (`published_file`) and refuse a file that carries a
published name with another content.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.config.folders import DATA_ENV, data_root
from bench.datasets.download import (
    DEFAULT_DEADLINE,
    FetchError,
    FetchInterrupted,
    RemoteFile,
    download,
    mismatch,
    remove_stale_parts,
    sha256_of,
)
from bench.errors import BenchError

__all__ = ["BUNDLES", "FetchError", "RemoteFile", "fetch", "main", "published_file", "sha256_of"]

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
"""Raw file server of GitHub: <base>/<owner>/<repo>/<commit>/<path>."""
_TEXYGEN = "geek-ai/Texygen/3104e22ac75f3cc2070da2bf5e2da6d2bef149ad"
_GANS_FALLING_SHORT = "pclucas14/GansFallingShort/e6be915b1aed7843d83f7d543bfb8de9f3d3461f"
_SEQGAN = "LantaoYu/SeqGAN/e2b52fb6309851b14765290e8a972ccac09f1bec"
_SEQGAN_FIRST = "LantaoYu/SeqGAN/4152436cb6fed67d3dec0512639d9f6967a7b2de"


@dataclass(frozen=True)
class Bundle:
    """What `fetch NAME` downloads, into <root>/<folder>/."""

    folder: str
    files: tuple[RemoteFile, ...]


BUNDLES = {
    "coco": Bundle(
        "coco",
        (
            RemoteFile(
                "image_coco.txt",
                f"{_TEXYGEN}/data/image_coco.txt",
                "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5",
                546_442,
            ),
            RemoteFile(
                "test_coco.txt",
                f"{_TEXYGEN}/data/testdata/test_coco.txt",
                "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae",
                536_184,
            ),
        ),
    ),
    "emnlp_news": Bundle(
        "emnlp_news",
        (
            RemoteFile(
                "test_emnlp.txt",
                f"{_TEXYGEN}/data/testdata/test_emnlp.txt",
                "03c646d08f766f4140443db4419b1f0ee292bc0db514208873e9f2e166b95bd2",
                1_742_757,
            ),
            RemoteFile(
                "gfs_news_valid.txt",
                f"{_GANS_FALLING_SHORT}/real_data_experiments/data/news/valid.txt",
                "e66a6fdd1f6cb15cb8f851051e5c49062270e0de1e69213289ce50b88a1d7281",
                1_350_298,
            ),
            RemoteFile(
                "gfs_news_test.txt",
                f"{_GANS_FALLING_SHORT}/real_data_experiments/data/news/test.txt",
                "e1ba37a752bc8fba6d9743898b30bb36119cc665cd35b229060bf5f75a94837d",
                1_326_837,
            ),
        ),
    ),
    "emnlp_news_full": Bundle(
        "emnlp_news",
        (
            RemoteFile(
                "emnlp_news.txt",
                f"{_TEXYGEN}/data/emnlp_news.txt",
                sha256=None,
                size=None,
                git_blob="538653e5f946b6f76e2b729c5aaa7507152354a3",
                max_size=200_000_000,  # ~270k sentences; its size is not recorded anywhere we could read
            ),
        ),
    ),
    "caccia_curves": Bundle(
        "published/gansfallingshort",
        (
            RemoteFile(
                "oracle_cot_oracle.csv",
                f"{_GANS_FALLING_SHORT}/csv/oracle/cot_oracle.csv",
                "419a9de75714ab22b050d26874962faa56bbac07601443ef3b2af9384818056c",
                2_786,
            ),
            RemoteFile(
                "oracle_cot_test.csv",
                f"{_GANS_FALLING_SHORT}/csv/oracle/cot_test.csv",
                "fa16e20b98d1dd67d0ab793c973c77f37051811c484308a95063643d484217ef",
                2_795,
            ),
        ),
    ),
    "seqgan_oracle": Bundle(
        "oracle",
        (
            RemoteFile(
                "target_params_py3.pkl",
                f"{_SEQGAN}/save/target_params_py3.pkl",
                "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a",
                1_334_000,
            ),
            RemoteFile(
                "target_params.pkl",
                f"{_SEQGAN}/save/target_params.pkl",
                "6a0b3b967aa03a952b353709493e2b430fc261d15f9dd658823019b4eaab6c1c",
                3_749_852,
            ),
            RemoteFile(
                "seqgan_real_data_4152436.txt",
                f"{_SEQGAN_FIRST}/MLE_SeqGAN/save/real_data.txt",
                "c0338b2bc2a29802154c81058b8aafed488ee55bda3aaba3849289c59a7a8e22",
                952_006,
            ),
        ),
    ),
}


def published_file(name: str) -> tuple[str, RemoteFile] | None:
    """(bundle name, file) of the published file called `name`, or None for a file of one's own."""
    for bundle_name, bundle in BUNDLES.items():
        for remote in bundle.files:
            if remote.name == name:
                return bundle_name, remote
    return None


def _prepare_folder(folder: Path) -> None:
    """Create `folder` (and parents) or fail with one line: a path that is a file, or no permission."""
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise FetchError(f"{parent}: not a folder (the data root must be a folder or not exist yet)")
        if parent.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FetchError(f"{folder}: cannot create the data folder ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FetchError(f"{folder}: not writable (choose another --root or ${DATA_ENV})")


def fetch(
    name: str,
    root: Path,
    base_url: str = DEFAULT_BASE_URL,
    progress: bool = True,
    deadline: float = DEFAULT_DEADLINE,
) -> list[Path]:
    """Download bundle `name` into root/<folder>/, skipping files already there with the right checksum."""
    if name not in BUNDLES:
        raise FetchError(f"unknown data set {name!r}: choose one of {', '.join(BUNDLES)}")
    bundle, paths = BUNDLES[name], []
    folder = root / bundle.folder
    _prepare_folder(folder)
    for remote in bundle.files:
        target = folder / remote.name
        remove_stale_parts(folder, remote.name, older_than=deadline)
        if target.is_file() and mismatch(target, remote) is None:
            print(f"{target}: present, checksum ok", file=sys.stderr)
        else:
            url = f"{base_url.rstrip('/')}/{remote.source}"
            download(url, remote, target, progress, deadline=deadline)
            print(f"{target}: downloaded, checksum ok", file=sys.stderr)
        paths.append(target)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="download and verify a published data set")
    fetch_parser.add_argument("name", choices=sorted(BUNDLES))
    fetch_parser.add_argument("--root", type=Path, default=None, help=f"data root (default: ${DATA_ENV} or data/)")
    fetch_parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="raw file server (default: GitHub's)")
    fetch_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch_parser.add_argument(
        "--deadline", type=float, default=DEFAULT_DEADLINE, help="seconds one file may take in all (default: 1800)"
    )
    args = parser.parse_args(argv)
    if not args.deadline > 0:
        print(f"error: --deadline={args.deadline}: must be > 0 seconds", file=sys.stderr)
        return 2
    try:
        fetch(args.name, args.root or data_root(), args.base_url, not args.no_progress, args.deadline)
    except FetchInterrupted as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except (BenchError, OSError) as error:  # OSError: e.g. an unreadable file already in place
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
