"""The Python API: a finished run's model, ready to sample, score and evaluate.

    from bench.api import load_run
    run = load_run("outputs/runs/cot/synthetic/seed0")
    sentences = run.sample(5, temperature=0.8)

`load_run` rebuilds the run's dataset from its config.yaml (the same oracle, test set or
vocabulary) and loads `model.pt`, checked against that dataset's vocabulary. Sentences are text as
in samples.txt: words on text datasets, space-separated token ids on synthetic ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf

from bench.config.build import check_saved_targets
from bench.config.schema import EvalConfig
from bench.datasets.base import Dataset
from bench.datasets.tokenizers import tokenize
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.evaluation.evaluator import Evaluator, KindFigures, saved_evaluation_parts
from bench.training.checkpoint import load_model
from bench.training.records import CONFIG, MODEL
from models import Generator


class LoadedRun:
    """A run's final generator with the dataset it was trained on."""

    def __init__(
        self, path: Path, dataset: Dataset, generator: Generator, seed: int, device: torch.device, figures: KindFigures
    ) -> None:
        self.path, self.dataset, self.generator, self.seed, self.device = path, dataset, generator, seed, device
        self.kind_figures = figures

    def sample(self, n: int, temperature: float = 1.0, seed: int = 0) -> list[str]:
        """`n` sentences drawn from softmax(logits / temperature); the same seed gives the same sentences."""
        rng = torch.Generator(device=self.device).manual_seed(seed)
        return self.dataset.decode(self.generator.sample(n, rng, temperature).tokens.cpu())

    def encode(self, sentences: Sequence[str]) -> torch.Tensor:
        """(N, T) token ids of `sentences`, as the model sees them (text: words, EOS, PAD; unknown words UNK)."""
        space, vocabulary = self.dataset.space, self.dataset.vocabulary
        if vocabulary is not None:
            words = [tokenize(sentence, vocabulary.tokenizer) for sentence in sentences]
            return vocabulary.encode(words, space.seq_len, "error", "scored")
        rows = []
        for sentence in sentences:
            try:
                ids = [int(token) for token in sentence.split()]
            except ValueError:
                raise BenchError(f"{sentence!r}: a synthetic sentence is {space.seq_len} token ids") from None
            if len(ids) != space.seq_len or not all(0 <= i < space.vocab_size for i in ids):
                raise BenchError(f"{sentence!r}: must be {space.seq_len} ids in [0, {space.vocab_size})")
            rows.append(ids)
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), space.seq_len)

    def score(self, sentences: Sequence[str], temperature: float = 1.0) -> list[float]:
        """Each sentence's log-probability under the model in nats (its words and EOS; PAD never counts)."""
        tokens = self.encode(sentences).to(self.device)
        per_token = self.generator.score(tokens, temperature) * self.dataset.space.mask(tokens)
        return per_token.sum(1).tolist()

    def figures(self, n_samples: int = 10_000, temperature: float = 1.0) -> dict[str, float]:
        """The run's evaluation figures at `temperature` (NLL_oracle, NLL_test, JSD; or BLEU on text)."""
        evaluator = Evaluator(
            EvalConfig(n_samples=n_samples, temperature=temperature),
            self.dataset,
            self.seed,
            self.device,
            self.kind_figures,
        )
        return evaluator(self.generator, step=-1).figures


def load_run(path: str | Path, device: str = "cpu", trusted_targets: Sequence[str] = ()) -> LoadedRun:
    """The final model of the run folder `path` (its config.yaml and model.pt).

    The saved config is data: only the targets the suite ships are built from it, or the exact ones
    named in `trusted_targets` (your own dataset builder, say)."""
    path = Path(path)
    for name in (CONFIG, MODEL):
        if not (path / name).is_file():
            raise BenchError(f"{path}: no {name} (a complete run folder has {CONFIG} and {MODEL})")
    config = OmegaConf.load(path / CONFIG)
    check_saved_targets(OmegaConf.to_container(config, resolve=False), path / CONFIG, trusted_targets)
    chosen = resolve_device(device)
    dataset, figures = saved_evaluation_parts(config.dataset, chosen)
    generator = load_model(path / MODEL, dataset).to(chosen)
    return LoadedRun(path, dataset, generator, int(config.get("seed", 0)), chosen, figures)
