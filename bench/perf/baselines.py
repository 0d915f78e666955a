"""The plain baselines every speed-up is measured against, written the obvious way.

Step-by-step `nn.LSTM`, softmax and `torch.multinomial`, fresh tensors every call; loops over
rollouts and time steps. They hold a copy of the suite's weights, so both sides compute the same thing.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from algorithms.cot import generator_loss
from metrics.jsd import jsd_monte_carlo
from metrics.nll import mean_token_nll
from models import Generator

BATCH = 64


class PlainLM(nn.Module):
    """The same LSTM language model written the plain way, holding a copy of a Generator's weights."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        config, space = generator.config, generator.space
        self.start_token = space.start_token
        self.seq_len = space.seq_len
        self.embedding = nn.Embedding(space.vocab_size, config.emb_dim)
        self.lstm = nn.LSTM(config.emb_dim, config.hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(config.output_dropout)
        self.out = nn.Linear(config.hidden_dim, space.vocab_size)
        self.load_state_dict(generator.state_dict(), strict=False)
        self.to(next(generator.parameters()).device)

    def forward(self, tokens: Tensor) -> Tensor:
        start = torch.full_like(tokens[:, :1], self.start_token)
        hidden, _ = self.lstm(self.embedding(torch.cat([start, tokens[:, :-1]], dim=1)))
        return self.out(self.dropout(hidden))

    def sample(self, n: int, prefix: Tensor | None = None, prefix_length: int = 0) -> tuple[Tensor, Tensor]:
        """n sequences (and their log-probabilities), one `nn.LSTM` call and one multinomial per step."""
        device = self.out.weight.device
        token = torch.full((n, 1), self.start_token, dtype=torch.long, device=device)
        state, tokens, log_probs = None, [], []
        for t in range(self.seq_len):
            hidden, state = self.lstm(self.embedding(token), state)
            probs = torch.softmax(self.out(hidden[:, -1]), dim=-1)
            if t < prefix_length:
                token = prefix[:, t : t + 1]
            else:
                token = torch.multinomial(probs, 1)
            tokens.append(token)
            log_probs.append(probs.gather(1, token).log())
        return torch.cat(tokens, dim=1), torch.cat(log_probs, dim=1)

    def score(self, tokens: Tensor) -> Tensor:
        return self(tokens).log_softmax(-1).gather(2, tokens.unsqueeze(2)).squeeze(2)


def plain_evaluation(oracle: PlainLM, model: PlainLM, test: Tensor, oracle_on_test: Tensor, n: int) -> float:
    with torch.no_grad():
        samples, log_g = model.sample(n)
        oracle_on_samples = torch.cat([oracle.score(chunk) for chunk in samples.split(500)])
        model_on_test = torch.cat([model.score(chunk) for chunk in test.split(500)])
        mean_token_nll(oracle_on_samples)
        mean_token_nll(model_on_test)
        return jsd_monte_carlo(oracle_on_test, model_on_test.sum(1), log_g.sum(1), oracle_on_samples.sum(1))[0]


def plain_cot_iteration(g: PlainLM, m: PlainLM, g_opt, m_opt, real: Tensor) -> tuple[float, float]:
    """One CoT iteration the plain way; returns (generator seconds, mediator seconds)."""
    start = time.perf_counter()
    with torch.no_grad():
        tokens, _ = g.sample(BATCH)
        m.eval()
        m_logits = m(tokens)
    loss = generator_loss(g(tokens), m_logits, torch.ones_like(tokens, dtype=torch.bool))
    g_opt.zero_grad()
    loss.backward()
    g_opt.step()
    middle = time.perf_counter()
    with torch.no_grad():
        fake, _ = g.sample(BATCH)
    m.train()
    batch = torch.cat([real, fake])
    m_loss = -m.score(batch).mean()
    m_opt.zero_grad()
    m_loss.backward()
    m_opt.step()
    return middle - start, time.perf_counter() - middle


def plain_rewards(policy: PlainLM, discriminator, sequences: Tensor, n_rollouts: int) -> Tensor:
    """SeqGAN's reference structure: for each rollout, for each prefix length, complete and score."""
    batch, length = sequences.shape
    rewards = torch.zeros(batch, length, device=sequences.device)
    with torch.no_grad():
        for _ in range(n_rollouts):
            for t in range(1, length):
                completion, _ = policy.sample(batch, prefix=sequences, prefix_length=t)
                rewards[:, t - 1] += discriminator.prob_real(completion) / n_rollouts
        rewards[:, -1] = discriminator.prob_real(sequences)
    return rewards
