"""The one LSTM language model: generator of every algorithm, the synthetic oracle, CoT's mediator.

One config class (`GeneratorConfig`) sets its sizes and initialisation for every use: the `model`
node of the root config for the generator, CoT's mediator config, the oracle. Teacher forcing runs
through `nn.LSTM` (fused kernels, cuDNN on GPU); sampling runs the hand-written cell of
`models.sampling` over the same parameters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.capture import GraphedCall
from models.checks import check_finite, check_positive
from models.sampling import LSTMState, Samples, StepTables, check_prefix, sample_chunk
from models.space import SequenceSpace

RECURRENT_INITS = ("normal", "orthogonal")
SCORED_POSITIONS = {"cpu": 1024}
"""Token positions `score()` computes at once, by device type. On a CPU about 1024 keep a chunk's
(positions, V) logits in cache, several times faster than one huge log-softmax; elsewhere
(`DEVICE_SCORED_POSITIONS`) far more, since there every chunk costs launches, not cache misses."""
DEVICE_SCORED_POSITIONS = 16_384
"""Positions per `score()` chunk off the CPU: (16,384, 5,000) float32 logits are 330 MB."""


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
    bf16_output: bool = False
    """Multiply the output layer (hidden -> V logits) in bfloat16: parameters, bias and everything after the
    product stay float32. Off by default: it changes the figures slightly (docs/gpu.md gives the measurements)."""

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


def output_layer(hidden: int, vocab: int, blocked: Tensor | None, bf16: bool) -> nn.Linear:
    """A plain `nn.Linear` on a space without blocked tokens, in float32; an `OutputLayer` otherwise."""
    if blocked is None and not bf16:
        return nn.Linear(hidden, vocab)
    return OutputLayer(hidden, vocab, blocked, bf16)


class OutputLayer(nn.Linear):
    """The output layer of a space with blocked tokens (a linear map plus a fixed (V,) mask), or one
    multiplied in bfloat16, or both.

    The mask is a non-persistent buffer, so state dicts keep the keys of a plain `nn.Linear`; every
    path to the logits (teacher forcing, chunked losses through `out`, sampling) sees it.
    """

    def __init__(self, in_features: int, out_features: int, blocked: Tensor | None, bf16: bool) -> None:
        super().__init__(in_features, out_features)
        self.bf16 = bf16
        self.register_buffer("blocked", blocked, persistent=False)

    def forward(self, rows: Tensor) -> Tensor:
        if self.bf16:
            logits = F.linear(rows.to(torch.bfloat16), self.weight.to(torch.bfloat16)).float() + self.bias
        else:
            logits = super().forward(rows)
        return logits if self.blocked is None else logits + self.blocked


class Generator(nn.Module):
    """One-layer LSTM language model with h0 = c0 = 0 and a fixed start token as the first input."""

    def __init__(self, space: SequenceSpace, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        config = config or GeneratorConfig()
        self.sequences_sampled = 0  # sequences drawn so far (draw_uniforms): the loop's generated-data budget
        self.config = config
        self.space = space
        vocab, emb, hidden = space.vocab_size, config.emb_dim, config.hidden_dim
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(config.output_dropout)
        self.out = output_layer(hidden, vocab, space.blocked_bias(), config.bf16_output)
        self.capture_graphs = False
        """Replay fixed-shape sampling from CUDA graphs (`models.capture`); the run sets it (`cuda_graphs`)."""
        self._graphed_chunks: dict[tuple[int, float], GraphedCall] = {}
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

        The default chunk holds `SCORED_POSITIONS` token positions (on a CPU its logits stay in
        cache, several times faster than one huge log-softmax). With EOS (text), a chunk
        is run only up to its longest sentence: the LSTM is causal, so the positions after it are
        PAD whatever is computed there, and a long max_len costs only where sentences are long.
        `between_chunks()` is called after each chunk (a caller may raise there to stop early).
        """
        device = self.out.weight.device
        positions = SCORED_POSITIONS.get(device.type, DEVICE_SCORED_POSITIONS)
        batch_size = batch_size or max(1, positions // self.space.seq_len)
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
        output = self.out.weight.t().contiguous()
        return StepTables(
            input_gates=input_gates,
            recurrent=lstm.weight_hh_l0.t().contiguous(),
            output=output.to(torch.bfloat16) if getattr(self.out, "bf16", False) else output,
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
        prefixes of every length run as one batch (SeqGAN's rollouts); they are read on the host
        (give them as a CPU tensor to spare a device read). After EOS (text setting) every position
        is PAD with log-probability 0, and a chunk stops once all its rows have ended.
        `between_chunks()` is called after each chunk (a caller may raise there to stop early).
        """
        check_positive_temperature(temperature)
        lengths = None if prefix_lengths is None else prefix_lengths.cpu()
        check_prefix(n, prefix, lengths)
        uniforms = self.draw_uniforms(n, rng)
        device = self.out.weight.device
        graphed = self.capture_graphs and device.type == "cuda" and prefix is None and self.space.eos_token is None
        tables = None if graphed else self.step_tables()
        parts = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            chunk = uniforms[rows].to(device)
            if graphed:
                parts.append(Samples(*self._graphed_chunk(chunk.shape[0], temperature)(chunk)))
            else:
                part_prefix = None if prefix is None else prefix[rows]
                part_lengths = None if lengths is None else lengths[rows]
                initial = self.initial_state(chunk.shape[0])
                parts.append(sample_chunk(self.space, tables, initial, chunk, temperature, part_prefix, part_lengths))
            if between_chunks is not None:
                between_chunks()
        return Samples(torch.cat([p.tokens for p in parts]), torch.cat([p.token_log_probs for p in parts]))

    def draw_uniforms(self, n: int, rng: torch.Generator) -> Tensor:
        """The (n, T) uniforms that drive n samples, drawn from `rng` (on its device), counted as n sequences
        sampled: what `sample` draws first, and what a captured training step draws outside its graph."""
        self.sequences_sampled += n
        return torch.rand(n, self.space.seq_len, generator=rng, device=rng.device)

    @torch.no_grad()
    def sample_from(self, uniforms: Tensor, temperature: float = 1.0) -> Samples:
        """The samples that `uniforms` (n, T) drive (as `sample` would draw them), in one chunk, eagerly.

        Nothing is drawn or counted: a training step captured in a CUDA graph calls this inside the
        graph, with uniforms drawn outside it by `draw_uniforms`."""
        initial = self.initial_state(uniforms.shape[0])
        return sample_chunk(self.space, self.step_tables(), initial, uniforms, temperature, None, None)

    def _graphed_chunk(self, rows: int, temperature: float) -> GraphedCall:
        """The sampling of one `rows`-row chunk at `temperature`, replayed from a CUDA graph.

        The body is a bound method (not a closure), so a deep copy of the model (SeqGAN's delayed
        rollout copy) samples from the copy."""
        key = (rows, temperature)
        if key not in self._graphed_chunks:
            body = functools.partial(self._samples_as_tuple, temperature=temperature)
            self._graphed_chunks[key] = GraphedCall(body, enabled=True)
        return self._graphed_chunks[key]

    def _samples_as_tuple(self, uniforms: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
        return tuple(self.sample_from(uniforms, temperature))


def check_positive_temperature(temperature: float) -> None:
    """Refuse a temperature that is not a finite number > 0 (NaN included)."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature={temperature}: must be a finite number > 0")
