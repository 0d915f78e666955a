"""The one LSTM language model: generator of every algorithm, the synthetic oracle, CoT's mediator.

Teacher forcing runs through `nn.LSTM` (fused kernels, cuDNN on GPU). Sampling runs a hand-written
cell over the same parameters with the input projection folded into a (V, 4H) table, and draws
each token by inverse-CDF search on the cumulative softmax: one uniform number per row instead of
`torch.multinomial`'s per-call overhead, and exactly the distribution softmax(logits / tau).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from models.checks import check_finite, check_positive

BLOCKED_LOGIT = -1e9
"""Added to the logit of a blocked token. Finite, unlike -inf: exp() of it is exactly 0 in float32, so
sampling never draws it and softmax gives it no mass, while 0 * (log p - log q) stays 0 in a KL (with
-inf it would be NaN). Survives a temperature as low as 1e-29 before overflowing."""


@dataclass(frozen=True)
class SequenceSpace:
    """Which sequences exist: vocabulary, length and the special tokens that shape them.

    The synthetic setting has no EOS or PAD: every sequence has exactly `seq_len` tokens and the
    start token is an ordinary vocabulary id (SeqGAN's convention). The text setting adds EOS
    (a sequence ends at its first EOS, inclusive) and PAD (fills the rest, never scored), and
    blocks the tokens no sentence may contain as a word (PAD, BOS, UNK): a model over this space
    gives them probability zero, so its densities are normalised over what can be generated.
    """

    vocab_size: int
    seq_len: int
    start_token: int = 0
    eos_token: int | None = None
    pad_token: int | None = None
    blocked_tokens: tuple[int, ...] | None = None
    """Ids never generated: their logits are masked for training, scoring and sampling alike, and
    a target that is one of them is not scored. None (synthetic): every id can be generated."""

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size={self.vocab_size}: must be at least 2")
        if self.seq_len < 1:
            raise ValueError(f"seq_len={self.seq_len}: must be at least 1")
        for name in ("start_token", "eos_token", "pad_token"):
            token = getattr(self, name)
            if token is not None and not 0 <= token < self.vocab_size:
                raise ValueError(f"{name}={token}: must be in [0, {self.vocab_size})")
        if (self.eos_token is None) != (self.pad_token is None):
            raise ValueError("eos_token and pad_token must be given together (or neither)")
        if self.blocked_tokens is not None:
            blocked = tuple(self.blocked_tokens)
            object.__setattr__(self, "blocked_tokens", blocked)  # a list from a saved config reads as a tuple
            if not all(0 <= token < self.vocab_size for token in blocked):
                raise ValueError(f"blocked_tokens={blocked}: every id must be in [0, {self.vocab_size})")
            if self.eos_token in blocked or len(set(blocked)) >= self.vocab_size - 1:
                raise ValueError(f"blocked_tokens={blocked}: EOS and at least one other id must stay generable")

    @property
    def size(self) -> int | None:
        """Number of sequences in the space (V^T), or None when sequences end at EOS (variable length)."""
        return self.vocab_size**self.seq_len if self.eos_token is None else None

    def all_sequences(self) -> Tensor:
        """Every sequence of a fixed-length space, (V^T, T) long, in lexicographic order (exact figures)."""
        if self.size is None:
            raise ValueError("all_sequences: a space with EOS has sequences of every length up to seq_len")
        grids = torch.cartesian_prod(*[torch.arange(self.vocab_size)] * self.seq_len)
        return grids.reshape(-1, self.seq_len)

    def mask(self, tokens: Tensor) -> Tensor:
        """(B, T) bool: True for scored positions, i.e. every token up to and including the first EOS,
        except targets that are blocked tokens (a model over this space cannot generate them)."""
        if self.eos_token is None:
            return torch.ones_like(tokens, dtype=torch.bool)
        is_eos = tokens == self.eos_token
        eos_before = is_eos.cumsum(dim=1) - is_eos.long()  # EOS tokens strictly before t
        scored = eos_before == 0
        if self.blocked_tokens:
            scored &= ~torch.isin(tokens, torch.tensor(self.blocked_tokens, device=tokens.device))
        return scored

    def blocked_bias(self) -> Tensor | None:
        """(V,) added to every logit: BLOCKED_LOGIT at blocked ids, 0 elsewhere; None when nothing is blocked."""
        if not self.blocked_tokens:
            return None
        bias = torch.zeros(self.vocab_size)
        bias[list(self.blocked_tokens)] = BLOCKED_LOGIT
        return bias


@dataclass
class ModelConfig:
    """The shared generator architecture (docs/design.md §1), as the `model` node of the root config sets it."""

    emb_dim: int = 32
    """Token embedding size (32 in the synthetic benchmark)."""
    hidden_dim: int = 32
    """LSTM hidden size (32 in the synthetic benchmark)."""
    init_std: float = 0.1
    """Every generator parameter, biases included, starts N(0, init_std) (SeqGAN, Texygen, CoT)."""

    def __post_init__(self) -> None:
        check_finite(self, "model")
        if self.emb_dim < 1 or self.hidden_dim < 1:
            raise ValueError(f"model.emb_dim={self.emb_dim}, model.hidden_dim={self.hidden_dim}: must be positive")
        check_positive(self, "model", "init_std")


@dataclass(frozen=True)
class GeneratorConfig:
    """Sizes and initialisation of one LSTM language model over a `SequenceSpace` (defaults: `ModelConfig`)."""

    space: SequenceSpace
    emb_dim: int = ModelConfig.emb_dim
    hidden_dim: int = ModelConfig.hidden_dim
    init_std: float = ModelConfig.init_std
    """Every parameter, biases included, is drawn N(0, init_std)."""
    recurrent_init: str = "normal"
    """'normal' (N(0, init_std) like the rest) or 'orthogonal' (CoT's mediator: one orthogonal block per gate)."""
    output_dropout: float = 0.0
    """Dropout on the LSTM outputs, active only in training mode (CoT's mediator uses 0.5)."""

    def __post_init__(self) -> None:
        if self.emb_dim < 1 or self.hidden_dim < 1:
            raise ValueError(f"emb_dim={self.emb_dim}, hidden_dim={self.hidden_dim}: must be positive")
        if not (self.init_std > 0 and math.isfinite(self.init_std)):
            raise ValueError(f"init_std={self.init_std}: must be a finite number > 0")
        if self.recurrent_init not in ("normal", "orthogonal"):
            raise ValueError(f"recurrent_init={self.recurrent_init!r}: must be 'normal' or 'orthogonal'")
        if not 0.0 <= self.output_dropout < 1.0:
            raise ValueError(f"output_dropout={self.output_dropout}: must be in [0, 1)")


class Samples(NamedTuple):
    """Sequences drawn from a model, with the per-token log-probabilities they were drawn with."""

    tokens: Tensor  # (n, T) long
    token_log_probs: Tensor  # (n, T) float; 0 at unscored (PAD) positions


class LSTMState(NamedTuple):
    h: Tensor  # (n, H)
    c: Tensor  # (n, H)


class _StepTables(NamedTuple):
    """Parameters rearranged for fast step-by-step inference."""

    input_gates: Tensor  # (V, 4H): embedding @ W_ih^T + b_ih + b_hh, one row per input token
    recurrent: Tensor  # (H, 4H): W_hh^T
    output: Tensor  # (H, V): W_out^T
    output_bias: Tensor  # (V,)


def draw_tokens(logits: Tensor, uniforms: Tensor, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Draw one token per row from softmax(logits / temperature); also return its log-probability.

    Inverse-CDF sampling: given one uniform u in [0, 1) per row, take the first index whose
    cumulative weight exceeds u * total. Exact (up to float rounding), cheaper than torch.multinomial.
    """
    if temperature != 1.0:
        logits = logits / temperature
    shift = logits.max(dim=1, keepdim=True).values  # (n, 1)
    cdf = (logits - shift).exp_().cumsum_(dim=1)  # (n, V) unnormalised cumulative weights
    total = cdf[:, -1:]  # (n, 1)
    index = torch.searchsorted(cdf, uniforms.view(-1, 1) * total, right=True).clamp_(max=logits.shape[1] - 1)  # (n, 1)
    log_prob = logits.gather(1, index) - shift - total.log()
    return index.squeeze(1), log_prob.squeeze(1)


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

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.sequences_sampled = 0  # sequences drawn by sample() so far: the loop's generated-data budget
        self.config = config
        self.space = config.space
        vocab, emb, hidden = config.space.vocab_size, config.emb_dim, config.hidden_dim
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(config.output_dropout)
        blocked = config.space.blocked_bias()
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
    def _step_tables(self) -> _StepTables:
        lstm = self.lstm
        input_gates = torch.addmm(
            lstm.bias_ih_l0 + lstm.bias_hh_l0, self.embedding.weight, lstm.weight_ih_l0.t()
        )  # (V, 4H)
        blocked = getattr(self.out, "blocked", None)  # folded into the bias: sampling costs nothing more
        return _StepTables(
            input_gates=input_gates,
            recurrent=lstm.weight_hh_l0.t().contiguous(),
            output=self.out.weight.t().contiguous(),
            output_bias=self.out.bias if blocked is None else self.out.bias + blocked,
        )

    @staticmethod
    def _advance(tables: _StepTables, inputs: Tensor, state: LSTMState) -> LSTMState:
        """The LSTM state update alone: cheap next to the (n, V) logits, which rows keeping a prefix skip."""
        gates = torch.addmm(tables.input_gates[inputs], state.h, tables.recurrent)  # (n, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # PyTorch gate order
        c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return LSTMState(h, c)

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
        if temperature <= 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature={temperature}: must be a finite number > 0")
        self.sequences_sampled += n
        if prefix is not None and prefix.shape[0] != n:
            raise ValueError(f"prefix has {prefix.shape[0]} rows but n={n}")
        if prefix_lengths is not None:
            if prefix is None or prefix_lengths.shape != (n,):
                raise ValueError("prefix_lengths needs a prefix and one length per row")
            if (
                prefix_lengths.numel()
                and not 0 <= int(prefix_lengths.min()) <= int(prefix_lengths.max()) <= prefix.shape[1]
            ):
                raise ValueError(f"prefix_lengths must lie in [0, {prefix.shape[1]}]")
        tables = self._step_tables()
        uniforms = torch.rand(n, self.space.seq_len, generator=rng, device=rng.device)
        parts = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            part_prefix = None if prefix is None else prefix[rows]
            part_lengths = None if prefix_lengths is None else prefix_lengths[rows].to(self.out.weight.device)
            parts.append(self._sample_chunk(tables, uniforms[rows], temperature, part_prefix, part_lengths))
            if between_chunks is not None:
                between_chunks()
        return Samples(torch.cat([p.tokens for p in parts]), torch.cat([p.token_log_probs for p in parts]))

    def _sample_chunk(
        self, tables: _StepTables, uniforms: Tensor, temperature: float, prefix: Tensor | None, lengths: Tensor | None
    ) -> Samples:
        space, device, n = self.space, self.out.weight.device, uniforms.shape[0]
        tokens = torch.empty(n, space.seq_len, dtype=torch.long, device=device)
        log_probs = torch.zeros(n, space.seq_len, device=device)
        given = 0 if prefix is None else prefix.shape[1]
        if given:
            tokens[:, :given] = prefix.to(device)
        if lengths is not None:  # rows keep different numbers of tokens: all kept before min, none after max
            keep_all, given = (int(lengths.min()), int(lengths.max())) if n else (0, 0)
        else:
            keep_all = given
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        inputs = torch.full((n,), space.start_token, dtype=torch.long, device=device)
        state = self.initial_state(n)
        for t in range(space.seq_len):
            state = self._advance(tables, inputs, state)
            if t < keep_all:  # every row keeps its prefix token: no logits needed
                inputs = tokens[:, t]
            elif t < given:  # only the rows whose prefix has ended sample here
                rows = (lengths <= t).nonzero().squeeze(1)
                logits = torch.addmm(tables.output_bias, state.h[rows], tables.output)  # (rows, V)
                drawn, log_prob = draw_tokens(logits, uniforms[rows, t], temperature)
                tokens[rows, t], log_probs[rows, t] = drawn, log_prob
                inputs = tokens[:, t]
            else:
                logits = torch.addmm(tables.output_bias, state.h, tables.output)  # (n, V)
                inputs, log_probs[:, t] = draw_tokens(logits, uniforms[:, t], temperature)
                tokens[:, t] = inputs
            if space.eos_token is not None:
                tokens[:, t].masked_fill_(finished, space.pad_token)
                log_probs[:, t].masked_fill_(finished, 0.0)
                finished |= tokens[:, t] == space.eos_token
                if t >= given and t + 1 < space.seq_len and bool(finished.all()):
                    tokens[:, t + 1 :] = space.pad_token  # every row has ended: the rest is PAD
                    break
        return Samples(tokens, log_probs)
