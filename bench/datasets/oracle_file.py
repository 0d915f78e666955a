"""Load SeqGAN's oracle parameter pickles without executing code, and map them onto our LSTM.

The pickles are third-party files. `pickle.load` would call any global they name; the restricted
unpickler below admits only what numpy needs to rebuild plain numeric arrays (in protocol 2 as the
reference files are, and in protocol 5 as Python 3.8 and later write them), and we then check that
the result is the 15 float arrays of docs/design.md §2 with the expected shapes.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError
from models import Generator


class OracleFileError(BenchError, ValueError):
    """The oracle file is missing, unreadable, unsafe or not SeqGAN's parameter layout."""


def _numpy_reconstruct():
    from numpy._core import multiarray  # numpy >= 2 keeps the real module here

    return multiarray._reconstruct


_RECONSTRUCT_NAMES = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_FROMBUFFER_NAMES = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
"""What protocol-5 pickles (Python 3.8's default for numpy arrays) call to rebuild an array from its bytes."""


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allowed numpy array machinery."""


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles call (`_codecs.encode(text, "latin1")`) to rebuild a bytes object.

    Only this exact use is admitted: a str turned into bytes, nothing else can be called through it.
    """
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(
            "refusing _codecs.encode with anything but (str, 'latin1'): only numpy arrays are allowed"
        )
    return text.encode("latin1")


def _array_from_bytes(buffer: object, dtype: object, shape: object, order: object = "C") -> np.ndarray:
    """What protocol-5 pickles call (`numpy._core.numeric._frombuffer`) to rebuild an array from its
    bytes, admitted only for numbers: bytes in, a numeric dtype, a shape of whole numbers, C or F order."""
    if not isinstance(buffer, bytes | bytearray | pickle.PickleBuffer) or not isinstance(dtype, np.dtype):
        raise UnsafePickleError(
            "refusing _frombuffer with anything but bytes and a dtype: only numpy arrays are allowed"
        )
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise UnsafePickleError(f"refusing an array of dtype {dtype}: only numeric arrays are allowed")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape) or order not in "CF":
        raise UnsafePickleError("refusing _frombuffer with a malformed shape or order")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-rebuilding globals and refuses everything else."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):  # bytes in protocol-2 pickles
            return _latin1_bytes
        if (module, name) in _RECONSTRUCT_NAMES:
            return _numpy_reconstruct()
        if (module, name) in _FROMBUFFER_NAMES:  # protocol 5
            return _array_from_bytes
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        raise UnsafePickleError(f"refusing to load global {module}.{name}: only numpy arrays are allowed")


def load_numpy_pickle(path: Path) -> object:
    """Unpickle `path` (Python 3 pickles of any protocol, or Python 2 latin-1 ones) admitting only numpy arrays."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OracleFileError(f"dataset.oracle_path={path}: cannot read it ({error.strerror})") from None
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError as error:
        raise OracleFileError(f"{path}: {error}") from None
    except Exception as error:  # truncated or garbled bytes raise many different types
        raise OracleFileError(f"{path}: not a readable pickle ({type(error).__name__}: {error})") from None


def _check_arrays(path: Path, arrays: object, vocab_size: int, hidden: int) -> list[np.ndarray]:
    if not isinstance(arrays, list) or len(arrays) != 15:
        raise OracleFileError(
            f"{path}: expected a list of 15 arrays (SeqGAN target_params), got {type(arrays).__name__}"
        )
    expected = [(vocab_size, hidden)] + [(hidden, hidden), (hidden, hidden), (hidden,)] * 4
    expected += [(hidden, vocab_size), (vocab_size,)]
    for index, (array, shape) in enumerate(zip(arrays, expected, strict=False)):
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise OracleFileError(f"{path}: array {index} is not a float array")
        if array.shape != shape:
            raise OracleFileError(f"{path}: array {index} has shape {array.shape}, expected {shape}")
        if not np.isfinite(array).all():
            raise OracleFileError(f"{path}: array {index} holds non-finite values (NaN or infinity)")
    return arrays


def load_seqgan_oracle(path: Path, oracle: Generator) -> None:
    """Copy SeqGAN's `target_params` arrays into `oracle` (emb = hidden, gate order i, f, g, o)."""
    if path.exists() and not path.is_file():
        raise OracleFileError(
            f"dataset.oracle_path={path}: not a regular file (expected SeqGAN's target_params pickle)"
        )
    if not path.is_file():
        raise OracleFileError(f"dataset.oracle_path={path}: no such file")
    if path.stat().st_size == 0:
        raise OracleFileError(f"dataset.oracle_path={path}: the file is empty (expected SeqGAN's target_params pickle)")
    space, hidden = oracle.space, oracle.config.hidden_dim
    arrays = _check_arrays(path, load_numpy_pickle(path), space.vocab_size, hidden)
    emb, wi, ui, bi, wf, uf, bf, wog, uog, bog, wc, uc, bc, wo, bo = (
        torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in arrays
    )
    with torch.no_grad():
        oracle.embedding.weight.copy_(emb)
        oracle.lstm.weight_ih_l0.copy_(torch.cat([wi.T, wf.T, wc.T, wog.T]))  # (4H, E)
        oracle.lstm.weight_hh_l0.copy_(torch.cat([ui.T, uf.T, uc.T, uog.T]))  # (4H, H)
        oracle.lstm.bias_ih_l0.copy_(torch.cat([bi, bf, bc, bog]))
        oracle.lstm.bias_hh_l0.zero_()
        oracle.out.weight.copy_(wo.T)  # (V, H)
        oracle.out.bias.copy_(bo)
