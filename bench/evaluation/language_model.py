"""LM score and reverse-LM score (Caccia et al. 2020 §4; Zhao et al. 2018's reverse perplexity), docs/text.md.

    LM score         = per-token NLL of the generated samples under a judge LM trained by MLE on the
                       real training split (quality: do the samples read like the data?)
    reverse-LM score = per-token NLL of the real test set under an LM trained by MLE on the generated
                       samples (coverage: do the samples hold what the data holds?)

Both LMs are the suite's own LSTM (`models.Generator`) trained by one fixed recipe (`LMRecipe`):
Adam, a batch of real (or generated) sequences per step, the same chunked teacher-forcing loss as
MLE, early stopping on a validation part carved from the LM's own training data by a seeded
permutation, and the weights of the epoch with the lowest validation NLL. Per-token means run over
scored positions (words and EOS, never PAD or UNK), pooled over all sentences like NLL_test; Caccia
et al. average per-sentence means instead, and their LMs were far larger (2 x 512 units), trained on
~270k sentences: compare levels only between runs of this recipe.

Training an LM costs minutes of CPU, so the figures are recorded only where asked
(`dataset.figures.lm_scores`); the judge is trained once per training split and recipe and cached
(bench/evaluation/judge_cache.py). The reverse LM is trained on each evaluation's own samples, so its
score depends on how many there are (more samples, a better reverse LM): compare it at equal
`n_samples`. Training runs with the global RNG forked and its own seeded generators, so switching
the figures on changes no other figure of a run.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from algorithms.updates import chunk_size_for, optimizer_step, teacher_forcing_backward
from metrics.nll import mean_token_nll
from models import Generator, GeneratorConfig, SequenceSpace
from models.checks import check_at_least, check_finite, check_positive


@dataclass
class LMRecipe:
    """How the judge and the reverse LM are trained (`dataset.figures.lm_recipe`); the defaults are the
    suite's recipe, chosen by measurement on EMNLP News (docs/text.md)."""

    emb_dim: int = 64
    """Token embedding size (the generators use 32: the judge is the larger model)."""
    hidden_dim: int = 64
    """LSTM units."""
    batch_size: int = 64
    """Sequences per step (capped at the training part's size)."""
    lr: float = 0.01
    """Adam learning rate (MLE's)."""
    grad_clip: float = 5.0
    """Largest global gradient norm (MLE's)."""
    max_epochs: int = 30
    """Epochs at most over the training part."""
    patience: int = 2
    """Stop once this many epochs in a row bring no lower validation NLL."""
    valid_share: float = 0.1
    """Share of the LM's training data held out for early stopping (at least one sequence)."""
    seed: int = 0
    """Seeds the initialisation, the validation carve-out and the batch order."""

    def __post_init__(self) -> None:
        check_finite(self, "dataset.figures.lm_recipe")
        check_at_least(
            self, "dataset.figures.lm_recipe", 1, "emb_dim", "hidden_dim", "batch_size", "max_epochs", "patience"
        )
        check_at_least(self, "dataset.figures.lm_recipe", 0, "seed", "grad_clip")
        check_positive(self, "dataset.figures.lm_recipe", "lr")
        if not 0 < self.valid_share < 1:
            raise ValueError(f"dataset.figures.lm_recipe.valid_share={self.valid_share}: must be in (0, 1)")


@dataclass
class TrainedLM:
    """A trained LM and how its training went (NLLs in nats per scored token)."""

    model: Generator
    epochs: int
    """Epochs run (early stopping included)."""
    best_epoch: int
    """The epoch whose weights were kept (0: the initial weights)."""
    fit_sequences: int
    valid_sequences: int
    valid_nll: float
    seconds: float


def split_for_early_stopping(data: Tensor, recipe: LMRecipe) -> tuple[Tensor, Tensor]:
    """(training part, validation part) of `data` by a permutation seeded with `recipe.seed`."""
    if data.shape[0] < 2:
        raise ValueError(f"an LM needs at least 2 sequences to train and validate on, got {data.shape[0]}")
    n_valid = min(data.shape[0] - 1, max(1, round(data.shape[0] * recipe.valid_share)))
    order = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(recipe.seed))
    return data[order[n_valid:].to(data.device)], data[order[:n_valid].to(data.device)]


def corpus_nll(model: Generator, data: Tensor, between: Callable[[], None] | None = None) -> float:
    """Per-token NLL of `data` under `model` (dropout off), over its scored positions."""
    return mean_token_nll(model.score(data, between_chunks=between), model.space.mask(data))


def train_language_model(
    space: SequenceSpace,
    data: Tensor,
    recipe: LMRecipe,
    device: torch.device,
    between: Callable[[], None] | None = None,
) -> TrainedLM:
    """An LSTM trained by MLE on `data` (N, T) with early stopping, as `recipe` says.

    `between()` is called after every step (a caller may raise there to stop). The global RNG is
    left as it was: the initial weights come from a forked, seeded RNG, batches from their own generator.
    """
    started = time.perf_counter()
    fit, valid = split_for_early_stopping(data.to(device), recipe)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = Generator(space, GeneratorConfig(emb_dim=recipe.emb_dim, hidden_dim=recipe.hidden_dim)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    order_rng = torch.Generator().manual_seed(recipe.seed + 1)
    batch_size, chunk = min(recipe.batch_size, fit.shape[0]), chunk_size_for(device)
    best_nll, best_state, best_epoch, epoch, waited = corpus_nll(model, valid), None, 0, 0, 0
    while epoch < recipe.max_epochs and waited < recipe.patience:
        epoch += 1
        order = torch.randperm(fit.shape[0], generator=order_rng).to(device)
        for start in range(0, fit.shape[0] - batch_size + 1, batch_size):
            batch = fit[order[start : start + batch_size]]
            step = lambda b=batch: teacher_forcing_backward(model, b, chunk)  # noqa: E731
            with torch.enable_grad():  # also when the caller evaluates under no_grad (a report's temperature sweep)
                optimizer_step(optimizer, step, clip=recipe.grad_clip)
            if between is not None:
                between()
        nll = corpus_nll(model, valid, between)
        if nll < best_nll:
            best_nll, best_state, best_epoch, waited = nll, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainedLM(
        model, epoch, best_epoch, fit.shape[0], valid.shape[0], best_nll, round(time.perf_counter() - started, 3)
    )


def lm_score(judge: Generator, samples: Tensor, between: Callable[[], None] | None = None) -> float:
    """Per-token NLL of generated `samples` under the judge (lower: the samples read more like the data)."""
    return corpus_nll(judge, samples.to(judge.out.weight.device), between)


def reverse_lm_score(
    space: SequenceSpace,
    samples: Tensor,
    test: Tensor,
    recipe: LMRecipe,
    device: torch.device,
    between: Callable[[], None] | None = None,
) -> tuple[float, TrainedLM]:
    """Per-token NLL of the real `test` set under an LM trained on `samples` (lower: the samples cover
    more of the data), and that LM."""
    reverse = train_language_model(space, samples, recipe, device, between)
    return corpus_nll(reverse.model, test.to(device), between), reverse
