"""The synthetic oracle: canonical SeqGAN parameters, the safe loader, and the tiny space."""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.config.build import build
from bench.datasets.oracle_file import OracleFileError, load_numpy_pickle
from bench.datasets.synthetic import SyntheticConfig, build_synthetic, oracle_model
from bench.errors import BenchError
from bench.training.run import run
from metrics.nll import mean_token_nll
from tests.conftest import compose_config, compose_spec, shared_file

ORACLE = ("dataset=synthetic", "dataset.vocab_size=6", "dataset.seq_len=4", "dataset.n_train=64", "dataset.n_test=64")
ORACLE_SHAPE = ("dataset.oracle_emb_dim=8", "dataset.oracle_hidden_dim=8")


def read_id_file(path: Path) -> torch.Tensor:
    return torch.tensor([[int(t) for t in line.split()] for line in path.read_text().splitlines() if line.strip()])


def test_canonical_oracle_nll_on_seqgan_real_data() -> None:
    oracle = oracle_model(SyntheticConfig(oracle_path=str(shared_file("oracle", "target_params_py3.pkl"))))
    data = read_id_file(shared_file("oracle", "seqgan_real_data_4152436.txt"))
    assert data.shape == (9984, 20)
    assert mean_token_nll(oracle.score(data)) == pytest.approx(5.761, abs=1e-3)


def test_the_python_2_pickle_of_the_oracle_holds_the_same_parameters() -> None:
    """SeqGAN's original target_params.pkl (Python 2) loads to exactly the oracle of the Python 3 copy."""
    python3, python2 = (
        oracle_model(SyntheticConfig(oracle_path=str(shared_file("oracle", name))))
        for name in ("target_params_py3.pkl", "target_params.pkl")
    )
    pairs = zip(python3.state_dict().items(), python2.state_dict().items(), strict=True)
    assert all(name == other and torch.equal(a, b) for (name, a), (other, b) in pairs)


class _Payload:
    """Unpickling this calls `Path.touch(marker)`: the classic code-execution pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([np.zeros(3), _Payload(marker)]))
    with pytest.raises(OracleFileError, match="refusing to load global pathlib"):
        load_numpy_pickle(evil)
    assert not marker.exists()
    with pytest.raises(OracleFileError, match="refusing"):
        oracle_model(SyntheticConfig(oracle_path=str(evil)))
    assert not marker.exists()


def test_os_system_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "os-system-ran"
    evil = tmp_path / "evil2.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(OracleFileError, match="refusing to load global os.system"):
        load_numpy_pickle(evil)
    assert not marker.exists()


def test_missing_corrupt_and_misshapen_oracle_files(tmp_path: Path) -> None:
    with pytest.raises(OracleFileError, match="no such file"):
        oracle_model(SyntheticConfig(oracle_path=str(tmp_path / "absent.pkl")))
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x03this is not a pickle")
    with pytest.raises(OracleFileError, match="not a readable pickle"):
        oracle_model(SyntheticConfig(oracle_path=str(garbage)))
    wrong = tmp_path / "wrong.pkl"
    wrong.write_bytes(pickle.dumps([np.zeros((3, 3), dtype=np.float32)] * 15))
    with pytest.raises(OracleFileError, match="array 0 has shape"):
        oracle_model(SyntheticConfig(oracle_path=str(wrong)))


def test_embedded_oracle_is_deterministic_and_seeded() -> None:
    config = SyntheticConfig(vocab_size=50, seq_len=6, n_train=100, n_test=100)
    first, again = build_synthetic(config), build_synthetic(config)
    assert torch.equal(first.train, again.train) and torch.equal(first.test, again.test)
    assert not torch.equal(first.train, first.test)
    other = oracle_model(SyntheticConfig(vocab_size=50, seq_len=6, oracle_seed=1))
    assert not torch.equal(other.out.weight, first.oracle.out.weight)
    weights = torch.cat([p.flatten() for name, p in first.oracle.named_parameters() if name != "lstm.bias_hh_l0"])
    assert weights.std().item() == pytest.approx(1.0, rel=0.05)


def test_tiny_oracle_probabilities_sum_to_one() -> None:
    config = SyntheticConfig(vocab_size=8, seq_len=5, oracle_emb_dim=16, oracle_hidden_dim=16, n_train=10, n_test=10)
    dataset = build_synthetic(config)
    assert dataset.enumerable
    every = dataset.space.all_sequences()
    assert every.shape == (8**5, 5) and len({tuple(r) for r in every[:1000].tolist()}) == 1000
    total = dataset.oracle.score(every).double().sum(1).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-6)


def test_synthetic_config_rejects_equal_train_and_test_seeds() -> None:
    with pytest.raises(ValueError, match="test_seed=5"):
        SyntheticConfig(train_seed=5, test_seed=5)


def seqgan_arrays(vocab: int, hidden: int, fill: float | None = None) -> list[np.ndarray]:
    """The 15 arrays of a SeqGAN oracle file (embedding, 4 gates x 3, output), random; `fill` in array 7."""
    shapes = [(vocab, hidden)] + [(hidden, hidden), (hidden, hidden), (hidden,)] * 4 + [(hidden, vocab), (vocab,)]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    if fill is not None:
        arrays[7][0, 0] = fill
    return arrays


def test_an_oracle_file_holding_nan_is_refused_before_a_run_starts(tmp_path: Path) -> None:
    oracle = tmp_path / "oracle.pkl"
    oracle.write_bytes(pickle.dumps(seqgan_arrays(6, 8, fill=math.nan)))
    overrides = (*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={oracle}", "train.steps=4", "progress=false")
    with pytest.raises(BenchError, match=r"array 7 holds non-finite values \(NaN or infinity\)"):
        run(compose_spec(*overrides), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


class _SystemPayload:
    """Runs `touch marker` when unpickled: what a hostile oracle file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_pickle(tmp_path: Path, arrays: list, protocol: int) -> tuple[Path, Path]:
    """An oracle pickle whose last array is replaced by a payload, and the file the payload would create."""
    marker = tmp_path / "pwned"
    hostile = tmp_path / f"hostile_p{protocol}.pkl"
    hostile.write_bytes(pickle.dumps([*arrays[:14], _SystemPayload(marker)], protocol=protocol))
    return hostile, marker


def test_a_protocol_2_pickle_of_plain_arrays_is_admitted_and_one_calling_anything_else_never_runs(
    tmp_path: Path,
) -> None:
    arrays = seqgan_arrays(6, 8)
    oracle = tmp_path / "oracle_p2.pkl"
    oracle.write_bytes(pickle.dumps(arrays, protocol=2))
    assert b"_codecs" in oracle.read_bytes()  # protocol 2 rebuilds array bytes through _codecs.encode
    dataset = build(compose_config(*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={oracle}").dataset, "dataset")
    assert torch.equal(dataset.oracle.embedding.weight, torch.from_numpy(arrays[0]))

    hostile, marker = hostile_pickle(tmp_path, arrays, protocol=2)
    with pytest.raises(BenchError, match="refusing to load global"):
        build(compose_config(*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={hostile}").dataset, "dataset")
    assert not marker.exists()


def test_a_protocol_5_pickle_of_plain_arrays_is_admitted_and_anything_else_in_it_is_refused(tmp_path: Path) -> None:
    arrays = seqgan_arrays(6, 8)
    oracle = tmp_path / "oracle_p5.pkl"
    oracle.write_bytes(pickle.dumps(arrays, protocol=5))
    assert b"_frombuffer" in oracle.read_bytes()  # protocol 5 rebuilds an array from its bytes
    dataset = build(compose_config(*ORACLE, *ORACLE_SHAPE, f"dataset.oracle_path={oracle}").dataset, "dataset")
    assert torch.equal(dataset.oracle.out.bias, torch.from_numpy(arrays[14]))

    hostile, marker = hostile_pickle(tmp_path, arrays, protocol=5)
    with pytest.raises(BenchError, match="refusing to load global posix.system"):
        load_numpy_pickle(hostile)
    assert not marker.exists()


def test_a_protocol_5_array_call_with_anything_but_numeric_bytes_is_refused(tmp_path: Path) -> None:
    """`_frombuffer` is admitted as the one call protocol 5 makes, and only with bytes, a numeric dtype and a shape."""
    forged = tmp_path / "forged.pkl"

    class ObjectArray:  # pickles as numpy's _frombuffer called with an object dtype
        def __reduce__(self):
            from numpy._core.numeric import _frombuffer

            return (_frombuffer, (b"\0" * 8, np.dtype(object), (1,), "C"))

    forged.write_bytes(pickle.dumps([ObjectArray()], protocol=5))
    with pytest.raises(OracleFileError, match="refusing an array of dtype object"):
        load_numpy_pickle(forged)
