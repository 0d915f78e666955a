"""SeqGAN's CNN discriminator (docs/design.md §3.2): it tells real sequences from generated ones.

As in SeqGAN's `discriminator.py`: token embeddings, one convolution per filter size over the
whole embedding (VALID, ReLU), max-over-time pooling, one highway layer (gate bias 0), dropout,
and a two-class output layer whose weights and bias carry an L2 penalty (TensorFlow's
`l2_loss`, i.e. half the sum of squares). Class 1 is "real"; `prob_real` is its softmax probability.

A filter wider than the sequence has no valid position, so only filter sizes <= `seq_len` are
built (on `synthetic_tiny`, T = 5, the filters of sizes 1..5 remain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from algorithms.updates import cross_entropy_mean, optimizer_step
from models import evaluating
from models.capture import GraphedCall


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Sizes of the CNN discriminator; `filter_sizes[i]` gets `num_filters[i]` filters.

    No defaults here: SeqGAN's reference values are the `d_*` defaults of `SeqGANConfig`."""

    vocab_size: int
    seq_len: int
    emb_dim: int
    filter_sizes: tuple[int, ...]
    num_filters: tuple[int, ...]
    dropout_keep: float
    """Probability of keeping a feature in the dropout before the output layer (training only)."""
    l2: float
    """Weight of the L2 penalty on the output layer in the training loss."""

    def __post_init__(self) -> None:
        if len(self.filter_sizes) != len(self.num_filters):
            raise ValueError(
                f"{len(self.filter_sizes)} filter sizes but {len(self.num_filters)} filter counts: they must pair up"
            )
        if not any(size <= self.seq_len for size in self.filter_sizes):
            raise ValueError(f"filter_sizes={list(self.filter_sizes)}: none fits sequences of length {self.seq_len}")

    @property
    def used_filters(self) -> list[tuple[int, int]]:
        """(size, count) of the filters that fit the sequence length."""
        return [(k, n) for k, n in zip(self.filter_sizes, self.num_filters, strict=True) if k <= self.seq_len]


class Highway(nn.Module):
    """y = t * relu(W_h x) + (1 - t) * x with t = sigmoid(W_t x): one highway layer (Srivastava et al.)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """TensorFlow's default (Glorot-uniform) initialiser, as the reference's `linear()` leaves it.

        Weights and biases alike are U(-b, b) with b = sqrt(6 / (fan_in + fan_out)); for a 1-D bias
        TensorFlow takes fan_in = fan_out = size. With the reference's 1,720 features b = 0.042
        (PyTorch's default would be 1 / sqrt(1720) = 0.024).
        """
        bound = glorot_bound(self.transform.in_features, self.transform.out_features)
        for layer in (self.transform, self.gate):
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.uniform_(layer.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.gate(x))
        return gate * F.relu(self.transform(x)) + (1.0 - gate) * x


def glorot_bound(fan_in: int, fan_out: int) -> float:
    """Half-width of Glorot-uniform: sqrt(6 / (fan_in + fan_out))."""
    return math.sqrt(6.0 / (fan_in + fan_out))


class Discriminator(nn.Module):
    """CNN classifier over token sequences: (B, T) long -> (B, 2) logits, class 1 = real."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(config.emb_dim, n, k) for k, n in config.used_filters)
        features = sum(n for _, n in config.used_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(1.0 - config.dropout_keep)
        self.out = nn.Linear(features, 2)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The reference's initialisers: embedding U(-1, 1); conv and output weights truncated N(0, 0.1), biases 0.1."""
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for layer in [*self.convs, self.out]:
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(layer.bias, 0.1)

    def forward(self, tokens: Tensor) -> Tensor:
        embedded = self.embedding(tokens)  # (B, T, E)
        # Measured at one thread, reference sizes (E = 64, T = 20, 1,720 filters), best of 5-20 repeats
        # on a shared 2-core CPU: scoring 1,024 sequences without a graph, Conv1d takes 0.69-0.83 s and
        # unfold + linear 0.74-1.30 s (Conv1d 1.07-1.83x faster); a training step on 64 sequences
        # (forward + backward of the convolutions) takes 96-173 ms by unfold + linear and 183-207 ms by
        # Conv1d (unfold 1.17-1.9x faster). So each path takes its faster form; both compute the same
        # VALID convolution (equal up to float rounding; a test compares them).
        pooled = self._unfolded(embedded) if torch.is_grad_enabled() else self._convolved(embedded)
        features = self.highway(torch.cat(pooled, dim=1))  # (B, sum n_k)
        return self.out(self.dropout(features))  # (B, 2)

    def _convolved(self, embedded: Tensor) -> list[Tensor]:
        """Max-over-time of each ReLU(Conv1d) response: (B, T, E) -> [(B, n_k)]."""
        channels = embedded.transpose(1, 2)  # (B, E, T)
        return [F.relu(conv(channels)).amax(dim=2) for conv in self.convs]

    def _unfolded(self, embedded: Tensor) -> list[Tensor]:
        """The same as `_convolved`, as one matrix product over the unfolded windows of each width."""
        pooled = []
        for conv in self.convs:
            size = conv.kernel_size[0]
            windows = embedded.unfold(1, size, 1).flatten(2)  # (B, T - k + 1, E * k): layout of Conv1d's weight
            responses = F.linear(windows, conv.weight.flatten(1), conv.bias)  # (B, T - k + 1, n_k)
            pooled.append(F.relu(responses).amax(dim=1))  # (B, n_k): max over time
        return pooled

    def output_penalty(self) -> Tensor:
        """TensorFlow's l2_loss of the output layer (half the sum of squares of its weights and bias)."""
        return 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())

    @torch.no_grad()
    def prob_real(self, tokens: Tensor, batch_size: int = 1024) -> Tensor:
        """(N,) probability that each sequence is real, dropout off, in chunks of `batch_size`."""
        device = self.out.weight.device
        with evaluating(self):
            chunks = [self(chunk.to(device)).softmax(dim=1)[:, 1] for chunk in tokens.split(batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, device=device)


class DiscriminatorUpdates:
    """D's update on one batch (forward with dropout, cross-entropy + L2 penalty, backward, Adam), replayed
    from a CUDA graph, one per batch size, when `capture` is set."""

    def __init__(self, discriminator: Discriminator, optimizer: torch.optim.Optimizer, capture: bool = False) -> None:
        self.discriminator, self.optimizer, self.capture = discriminator, optimizer, capture
        self.by_rows: dict[int, GraphedCall] = {}

    def __call__(self, tokens: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Update on `tokens` (b, T) with `labels` (b,); return the batch's cross-entropy (before the
        update, dropout on) and how many it classified right, both on the device."""
        rows = tokens.shape[0]
        if rows not in self.by_rows:
            self.by_rows[rows] = GraphedCall(self._update, enabled=self.capture)
        return self.by_rows[rows](tokens, labels)

    def _update(self, tokens: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        def compute() -> tuple[Tensor, Tensor]:
            logits = self.discriminator(tokens)  # (b, 2), dropout on
            cross_entropy = cross_entropy_mean(logits, labels)
            objective = cross_entropy + self.discriminator.config.l2 * self.discriminator.output_penalty()
            objective.backward()
            return cross_entropy.detach(), (logits.argmax(dim=1) == labels).sum()

        return optimizer_step(self.optimizer, compute, train=self.discriminator)


def train_discriminator(
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    real: Tensor,
    fake: Tensor,
    epochs: int,
    batch_size: int,
    rng: torch.Generator,
    updates: DiscriminatorUpdates | None = None,
) -> dict[str, Tensor]:
    """`epochs` shuffled passes over real (label 1) + fake (label 0), one Adam step per batch.

    Returns the mean cross-entropy (without the L2 term) and the accuracy over the round's training
    batches, each measured on the batch just before its update (dropout on), as float64 values on
    the device (added in the order a Python float sum would). `updates` (default: eager ones) runs
    each batch's update.
    """
    updates = updates or DiscriminatorUpdates(discriminator, optimizer)
    tokens = torch.cat([real, fake])  # (N_real + N_fake, T)
    device = tokens.device
    ones = torch.ones(len(real), dtype=torch.long, device=device)
    labels = torch.cat([ones, torch.zeros(len(fake), dtype=torch.long, device=device)])
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for _ in range(epochs):
        for index in torch.randperm(len(tokens), generator=rng, device=rng.device).split(batch_size):
            index = index.to(device)
            batch_loss, batch_correct = updates(tokens[index], labels[index])
            total_loss += batch_loss.double() * len(index)
            correct += batch_correct
            seen += len(index)
    return {"d_loss": total_loss / seen, "d_acc": correct.double() / seen}
