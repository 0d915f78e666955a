"""The one LSTM language model: generator of every algorithm, the synthetic oracle, CoT's mediator.

One config class (`GeneratorConfig`) sets its sizes and initialisation for every use: the `model`
node of the root config for the generator, CoT's mediator config, the oracle. Teacher forcing runs
through `nn.LSTM` (fused kernels, cuDNN on GPU); sampling runs the hand-written cell of
`models.sampling` over the same parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.checks import check_finite, check_positive
from models.sampling import LSTMState, Samples, StepTables, check_prefix, sample_chunk
from models.space import SequenceSpace

RECURRENT_INITS = ("normal", "orthogonal")


@dataclass
class GeneratorConfig:
    """Sizes and initialisation of one LSTM language model (docs/design.md §1); the `model` node of
    the root config is one, so are CoT's mediator and the synthetic oracle."""

    emb_dim: int = 32
    """Token embedding size (32 in the synthetic benchmark)."""
    hidden_dim: int = 32
    """LSTM hidden size (32 in the synthetic benchmark)."""
    init_std: float = 0.1
    """Every parameter, biases included, starts N(0, init_std) (SeqGAN, Texygen, CoT)."""
    recurrent_init: str = "normal"
    """normal (N(0, init_std) like the rest) or orthogonal (CoT's mediator: one orthogonal block per gate)."""
    output_dropout: float = 0.0
    """Dropout on the LSTM outputs, active only in training mode (CoT's mediator uses 0.5)."""

    def __post_init__(self) -> None:
        check_finite(self, "model")
        if self.emb_dim < 1 or self.hidden_dim < 1:
            raise ValueError(f"model.emb_dim={self.emb_dim}, model.hidden_dim={self.hidden_dim}: must be positive")
        check_positive(self, "model", "init_std")
        if self.recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"model.recurrent_init={self.recurrent_init!r}: must be normal or orthogonal")
        if not 0.0 <= self.output_dropout < 1.0:
            raise ValueError(f"model.output_dropout={self.output_dropout}: must be in [0, 1)")


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Temporarily put `module` in eval mode (dropout off), restoring its mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class _MaskedLinear(nn.Linear):
    """The output layer of a space with blocked tokens: a linear map plus a fixed (V,) mask.

    The mask is a non-persistent buffer, so state dicts keep the keys of a plain `nn.Linear`;
    every path to the logits (teacher forcing, chunked losses through `out`, sampling) sees it.
    """

    def __init__(self, in_features: int, out_features: int, blocked: Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("blocked", blocked, persistent=False)

    def forward(self, rows: Tensor) -> Tensor:
        return super().forward(rows) + self.blocked


class Generator(nn.Module):
    """One-layer LSTM language model with h0 = c0 = 0 and a fixed start token as the first input."""

    def __init__(self, space: SequenceSpace, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        config = config or GeneratorConfig()
        self.sequences_sampled = 0  # sequences drawn by sample() so far: the loop's generated-data budget
        self.config = config
        self.space = space
        vocab, emb, hidden = space.vocab_size, config.emb_dim, config.hidden_dim
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(config.output_dropout)
        blocked = space.blocked_bias()
        self.out = nn.Linear(hidden, vocab) if blocked is None else _MaskedLinear(hidden, vocab, blocked)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Draw every parameter N(0, init_std); optionally orthogonal recurrent blocks."""
        for parameter in self.parameters():
            parameter.normal_(0.0, self.config.init_std)
        if self.config.recurrent_init == "orthogonal":
            for block in self.lstm.weight_hh_l0.chunk(4, dim=0):  # one (H, H) block per gate
                nn.init.orthogonal_(block)

    # ----- teacher forcing -------------------------------------------------------------------
    def inputs_for(self, tokens: Tensor) -> Tensor:
        """Shift right: the input at step t is token t-1, and the start token at step 0."""
        start = torch.full_like(tokens[:, :1], self.space.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)  # (B, T)

    def hidden(self, tokens: Tensor) -> Tensor:
        """(B, T, H) teacher-forced LSTM outputs, dropout applied: what the output layer reads."""
        hidden, _ = self.lstm(self.embedding(self.inputs_for(tokens)))
        return self.dropout(hidden)

    def forward(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for predicting `tokens` (B, T)."""
        return self.out(self.hidden(tokens))

    def token_log_probs(self, tokens: Tensor, temperature: float = 1.0) -> Tensor:
        """(B, T) log p(x_t | x_<t) at temperature tau, differentiable; PAD positions give 0."""
        logits = self(tokens)
        if temperature != 1.0:
            logits = logits / temperature
        log_probs = logits.log_softmax(dim=-1).gather(2, tokens.unsqueeze(2)).squeeze(2)
        return log_probs.masked_fill(~self.space.mask(tokens), 0.0)

    def sequence_log_probs(self, tokens: Tensor, temperature: float = 1.0) -> Tensor:
        """(B,) log-probability of whole sequences."""
        return self.token_log_probs(tokens, temperature).sum(dim=1)

    @torch.no_grad()
    def score(
        self,
        tokens: Tensor,
        temperature: float = 1.0,
        batch_size: int | None = None,
        between_chunks: Callable[[], None] | None = None,
    ) -> Tensor:
        """(N, T) token log-probabilities of many sequences, in chunks, dropout off, no graph.

        The default chunk holds about 1024 token positions: its (rows, V) logits stay in cache,
        which on a CPU is several times faster than one huge log-softmax. With EOS (text), a chunk
        is run only up to its longest sentence: the LSTM is causal, so the positions after it are
        PAD whatever is computed there, and a long max_len costs only where sentences are long.
        `between_chunks()` is called after each chunk (a caller may raise there to stop early).
        """
        device = self.out.weight.device
        batch_size = batch_size or max(1, 1024 // self.space.seq_len)
        chunks = []
        with evaluating(self):
            for chunk in tokens.split(batch_size):
                chunk = chunk.to(device)
                if self.space.eos_token is None:
                    chunks.append(self.token_log_probs(chunk, temperature))
                else:
                    chunks.append(self._score_through_longest(chunk, temperature))
                if between_chunks is not None:
                    between_chunks()
        return torch.cat(chunks) if chunks else torch.empty(0, self.space.seq_len, device=device)

    def _score_through_longest(self, chunk: Tensor, temperature: float) -> Tensor:
        """token_log_probs of `chunk`, computed through the last position any of its rows scores."""
        scored = self.space.mask(chunk).any(dim=0)  # (T,) positions some row scores
        length = int(scored.nonzero().max()) + 1 if scored.any() else 1
        log_probs = chunk.new_zeros(chunk.shape, dtype=self.out.weight.dtype)
        log_probs[:, :length] = self.token_log_probs(chunk[:, :length], temperature)
        return log_probs

    # ----- sampling --------------------------------------------------------------------------
    def step_tables(self) -> StepTables:
        """The parameters rearranged for `models.sampling` (blocked tokens folded into the output bias)."""
        lstm = self.lstm
        input_gates = torch.addmm(
            lstm.bias_ih_l0 + lstm.bias_hh_l0, self.embedding.weight, lstm.weight_ih_l0.t()
        )  # (V, 4H)
        blocked = getattr(self.out, "blocked", None)  # folded into the bias: sampling costs nothing more
        return StepTables(
            input_gates=input_gates,
            recurrent=lstm.weight_hh_l0.t().contiguous(),
            output=self.out.weight.t().contiguous(),
            output_bias=self.out.bias if blocked is None else self.out.bias + blocked,
        )

    def initial_state(self, n: int) -> LSTMState:
        zeros = self.out.weight.new_zeros(n, self.config.hidden_dim)
        return LSTMState(zeros, zeros.clone())

    @torch.no_grad()
    def sample(
        self,
        n: int,
        rng: torch.Generator,
        temperature: float = 1.0,
        prefix: Tensor | None = None,
        batch_size: int = 1024,
        prefix_lengths: Tensor | None = None,
        between_chunks: Callable[[], None] | None = None,
    ) -> Samples:
        """Draw n sequences from softmax(logits / temperature), in chunks of `batch_size` rows.

        All n x T uniforms are drawn from `rng` up front, so the samples do not depend on
        `batch_size`. With `prefix` (n, t), each row keeps its given first t tokens and the rest is sampled
        (Monte-Carlo completion); the returned log-probabilities cover the sampled part only.
        `prefix_lengths` (n,) lets each row keep its own number of prefix tokens, so completions of
        prefixes of every length run as one batch (SeqGAN's rollouts). After EOS (text setting)
        every position is PAD with log-probability 0, and a chunk stops once all its rows have ended.
        `between_chunks()` is called after each chunk (a caller may raise there to stop early).
        """
        check_positive_temperature(temperature)
        self.sequences_sampled += n
        check_prefix(n, prefix, prefix_lengths)
        tables = self.step_tables()
        uniforms = torch.rand(n, self.space.seq_len, generator=rng, device=rng.device)
        device = self.out.weight.device
        parts = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            part_prefix = None if prefix is None else prefix[rows]
            part_lengths = None if prefix_lengths is None else prefix_lengths[rows].to(device)
            chunk = uniforms[rows].to(device)
            initial = self.initial_state(chunk.shape[0])
            parts.append(sample_chunk(self.space, tables, initial, chunk, temperature, part_prefix, part_lengths))
            if between_chunks is not None:
                between_chunks()
        return Samples(torch.cat([p.tokens for p in parts]), torch.cat([p.token_log_probs for p in parts]))


def check_positive_temperature(temperature: float) -> None:
    """Refuse a temperature that is not a finite number > 0 (NaN included)."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature={temperature}: must be a finite number > 0")
