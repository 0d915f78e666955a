"""The synthetic benchmark: an oracle LSTM, 10k training, fresh 10k test and validation samples (docs/design.md §2).

The oracle is either the canonical SeqGAN parameter file (`oracle_path`) or, by default, an
embedded oracle of the same shape whose parameters are drawn N(0, 1) from `oracle_seed`, so the
suite runs with no file at all. Train and test sets are sampled with their own fixed seeds, so
every run of every algorithm sees the same data whatever its own seed. The validation sample
(model selection without the test set) has its own seed, derived from the test seed, so adding
it left the training and test sets unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.datasets.base import Dataset
from bench.datasets.oracle_file import load_seqgan_oracle
from bench.seeds import derived_seed
from models import Generator, GeneratorConfig, SequenceSpace

# Salt of the validation seed: derived_seed(test_seed, VALID_SALT) (no config field to collide with).
VALID_SALT = 1


@dataclass
class SyntheticConfig:
    """An oracle language model and data sampled from it."""

    name: str = "synthetic"
    vocab_size: int = 5000
    """Vocabulary size V (5000 in SeqGAN's benchmark)."""
    seq_len: int = 20
    """Sequence length T (20)."""
    oracle_emb_dim: int = 32
    """Oracle embedding size (32; must equal oracle_hidden_dim for SeqGAN's file)."""
    oracle_hidden_dim: int = 32
    """Oracle LSTM size (32)."""
    oracle_path: str | None = None
    """SeqGAN's target_params_py3.pkl or target_params.pkl; null draws an embedded oracle."""
    oracle_seed: int = 2017
    """Seed of the embedded oracle's N(0, 1) parameters (unused with oracle_path)."""
    n_train: int = 10_000
    """Training sequences sampled from the oracle."""
    n_test: int = 10_000
    """Held-out test sequences, sampled independently of the training set."""
    n_valid: int = 10_000
    """Validation sequences (model selection without the test set), a fresh sample with its own derived seed."""
    train_seed: int = 88
    """Seed of the training sample."""
    test_seed: int = 99
    """Seed of the test sample (differs from train_seed: the test set is fresh)."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "seq_len", "oracle_emb_dim", "oracle_hidden_dim", "n_train", "n_test", "n_valid"):
            if getattr(self, name) < 1:
                raise ValueError(f"dataset.{name}={getattr(self, name)}: must be a positive integer")
        if self.vocab_size < 2:
            raise ValueError(f"dataset.vocab_size={self.vocab_size}: must be at least 2")
        if self.train_seed == self.test_seed:
            raise ValueError(f"dataset.test_seed={self.test_seed}: must differ from train_seed")
        if self.oracle_path is not None and self.oracle_emb_dim != self.oracle_hidden_dim:
            raise ValueError("SeqGAN's oracle file has emb = hidden: set oracle_emb_dim = oracle_hidden_dim")


def oracle_model(config: SyntheticConfig) -> Generator:
    """The oracle: SeqGAN's parameters from file, or N(0, 1) parameters drawn from `oracle_seed`."""
    space = SequenceSpace(vocab_size=config.vocab_size, seq_len=config.seq_len, start_token=0)
    model_config = GeneratorConfig(config.oracle_emb_dim, config.oracle_hidden_dim, init_std=1.0)
    oracle = Generator(space, model_config)
    if config.oracle_path is not None:
        load_seqgan_oracle(Path(config.oracle_path).expanduser(), oracle)
    else:
        rng = torch.Generator().manual_seed(config.oracle_seed)
        with torch.no_grad():
            for parameter in oracle.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=rng))
            oracle.lstm.bias_hh_l0.zero_()  # one bias per gate, as in SeqGAN's oracle
    return oracle.eval().requires_grad_(False)


def valid_seed(config: SyntheticConfig) -> int:
    """The validation sample's seed: derived from the test seed, so it never equals train or test seeds by accident."""
    return derived_seed(config.test_seed, VALID_SALT)


def build_synthetic(config: SyntheticConfig) -> Dataset:
    """Build the oracle and sample the training, test and validation sets (on the CPU, seeded)."""
    oracle = oracle_model(config)
    train = oracle.sample(config.n_train, torch.Generator().manual_seed(config.train_seed)).tokens
    test = oracle.sample(config.n_test, torch.Generator().manual_seed(config.test_seed)).tokens
    valid = oracle.sample(config.n_valid, torch.Generator().manual_seed(valid_seed(config))).tokens
    return Dataset(
        name=config.name,
        space=oracle.space,
        train=train,
        test=test,
        oracle=oracle,
        kind="synthetic",
        valid=valid,
        provenance=provenance(config),
    )


def provenance(config: SyntheticConfig) -> dict[str, Any]:
    """Where the data came from: the oracle (embedded and its seed, or file and sha256), seeds and sizes."""
    if config.oracle_path is None:
        oracle: dict[str, Any] = {"oracle": "embedded", "oracle_seed": config.oracle_seed}
    else:
        path = Path(config.oracle_path).expanduser()
        oracle = {"oracle": str(path), "oracle_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        **oracle,
        "vocab_size": config.vocab_size,
        "seq_len": config.seq_len,
        "oracle_emb_dim": config.oracle_emb_dim,
        "oracle_hidden_dim": config.oracle_hidden_dim,
        "n_train": config.n_train,
        "n_test": config.n_test,
        "n_valid": config.n_valid,
        "train_seed": config.train_seed,
        "test_seed": config.test_seed,
        "valid_seed": valid_seed(config),
    }
