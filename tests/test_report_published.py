"""Published rows in a report: a benchmark is recognised by the sha256 of its data files (never by a
dataset's name), the identities match the shared data files, and config choices map to published algorithms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report.provenance import benchmark
from bench.report.published import COCO_SHA256, EMNLP_TEST_SHA256, SYNTHETIC, benchmark_of, family, published_rows
from bench.report.runs import collect
from tests.conftest import shared_file
from tests.run_folders import make_run

CANONICAL = "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a"


def test_published_rows_are_decided_by_sha256_never_by_name(tmp_path: Path) -> None:
    canonical = {"oracle": "/x/target_params_py3.pkl", "oracle_sha256": CANONICAL, "n_train": 10_000}
    embedded = {"oracle": "embedded", "oracle_seed": 2017}
    make_run(tmp_path / "a", "mle", 0, {"nll_oracle": 9.0}, dataset="synthetic", data=canonical)
    make_run(tmp_path / "b", "mle", 0, {"nll_oracle": 9.0}, dataset="synthetic", data=embedded)
    own_coco = {"files": [{"path": "train.txt", "sha256": "0" * 64}, {"path": "test.txt", "sha256": "1" * 64}]}
    make_run(tmp_path / "c", "mle", 0, {"bleu2": 0.5}, dataset="coco", data=own_coco)
    texygen = {"train": {"sha256": sorted(COCO_SHA256)[0]}, "test": {"sha256": sorted(COCO_SHA256)[1]}}
    make_run(tmp_path / "d", "mle", 0, {"bleu2": 0.5}, dataset="my_corpus", data=texygen)
    assert benchmark(collect(tmp_path / "a")) == "canonical_oracle"
    assert benchmark(collect(tmp_path / "b")) is None  # named "synthetic", but not the canonical oracle
    assert benchmark(collect(tmp_path / "c")) is None  # named "coco", but other files
    assert benchmark(collect(tmp_path / "d")) == "coco"  # Texygen's files under another name
    assert benchmark(collect(tmp_path / "a") + collect(tmp_path / "b")) is None  # mixed: no published rows
    assert published_rows(None) == () and published_rows("canonical_oracle") == SYNTHETIC
    assert benchmark_of({EMNLP_TEST_SHA256}) == "emnlp_news"  # the EMNLP News rows are keyed by its test split


def test_old_runs_without_provenance_are_identified_by_hashing_their_oracle_file(tmp_path: Path) -> None:
    oracle = tmp_path / "oracle.pkl"
    oracle.write_bytes(b"not the canonical oracle")
    make_run(tmp_path / "s", "mle", 0, {"nll_oracle": 9.0}, config={"dataset.oracle_path": str(oracle)})
    assert benchmark(collect(tmp_path / "s")) is None
    canonical = shared_file("oracle", "target_params_py3.pkl")
    make_run(tmp_path / "t", "mle", 0, {"nll_oracle": 9.0}, config={"dataset.oracle_path": str(canonical)})
    assert benchmark(collect(tmp_path / "t")) == "canonical_oracle"


@pytest.mark.parametrize(
    "parts, expected",
    [
        (("coco", "image_coco.txt"), "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5"),
        (("coco", "test_coco.txt"), "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae"),
        (("emnlp_news", "test_emnlp.txt"), EMNLP_TEST_SHA256),
        (("oracle", "target_params_py3.pkl"), CANONICAL),
    ],
)
def test_hard_coded_identities_match_the_shared_data_files(parts: tuple[str, str], expected: str) -> None:
    import hashlib

    digest = hashlib.sha256(shared_file(*parts).read_bytes()).hexdigest()
    assert digest == expected
    assert expected in COCO_SHA256 | {EMNLP_TEST_SHA256, CANONICAL}


def test_family_maps_config_choices_to_published_algorithms() -> None:
    assert [family(a) for a in ("seqgan_tiny", "seqgan", "cot", "mle", "nested_cot", "mlex")] == [
        "seqgan",
        "seqgan",
        "cot",
        "mle",
        "nested_cot",
        "mlex",
    ]
