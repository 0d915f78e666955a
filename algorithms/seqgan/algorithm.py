"""SeqGAN (Yu et al., AAAI 2017; docs/design.md §3.2): MLE pretraining, then REINFORCE against a CNN discriminator.

One `step()` is one unit of the current phase, and the phase follows from the algorithm's own counters:
1. `pretrain_g`: one MLE batch (teacher forcing, Adam, clipping), `pretrain_g_epochs` epochs in all;
2. `pretrain_d`: one discriminator round: `d_negatives` fresh samples from G against as many real
   sequences, `d_epochs` passes; `pretrain_d_rounds` rounds;
3. `adversarial`: one generator policy-gradient step on `pg_batch_size` samples with Monte-Carlo
   rollout rewards, then `d_rounds_per_adversarial` discriminator rounds; `adversarial_rounds` rounds.
The schedule then ends (`finished`). The dataclass defaults are the reference numbers.

The generator's adversarial loss (REINFORCE with Monte-Carlo rewards Q from the discriminator D):

    L(θ) = -(1 / |S|) Σ_{(b,t) ∈ S} log G_θ(s_{b,t} | s_{b,<t}) · Q(s_{b,<t}, s_{b,t})

with Q(s_<t, s_t) the mean over rollouts of D's "real" probability of the completed prefix, and
D(s) itself at t = T (`policy_gradient_loss`); pretraining is MLE's loss (algorithms/mle.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from algorithms.base import Algorithm, EpochBatches, EvaluationContext, TrainingContext
from algorithms.seqgan.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    DiscriminatorUpdates,
    train_discriminator,
)
from algorithms.seqgan.rollout import RolloutPolicy, complete_prefixes, rollout_rewards
from algorithms.updates import (
    Adam,
    backward,
    chunk_size_for,
    graphed,
    mean_in_float64,
    optimizer_step,
    teacher_forcing_backward,
)
from models import Generator, SequenceSpace
from models.checks import check_at_least, check_finite, check_positive

PHASES = ("pretrain_g", "pretrain_d", "adversarial")


def policy_gradient_loss(generator: Generator, sequences: Tensor, rewards: Tensor) -> Tensor:
    """-mean_{b,t} log G(s_t | s_<t) * Q(s_<t, s_t) over scored tokens (REINFORCE with MC rewards).

    The reference sums instead of averaging; with Adam and clipping at 5 the mean is equivalent (docs/design.md §6).
    """
    mask = generator.space.mask(sequences)
    return -(generator.token_log_probs(sequences) * rewards * mask).sum() / mask.sum()


@dataclass
class SeqGANConfig:
    """SeqGAN's reference schedule and sizes (LantaoYu/SeqGAN `sequence_gan.py`, `discriminator.py`)."""

    # ----- schedule -----
    pretrain_g_epochs: int = 120
    """Epochs of MLE over the training set before anything adversarial (0: none)."""
    pretrain_d_rounds: int = 50
    """Discriminator rounds after G pretraining (0: none)."""
    adversarial_rounds: int = 200
    """Rounds of (1 policy-gradient step, then `d_rounds_per_adversarial` discriminator rounds)."""
    d_rounds_per_adversarial: int = 5
    """Discriminator rounds after each generator step."""
    d_negatives: int = 10_000
    """Fresh generated sequences per discriminator round, trained against as many real ones (the whole
    training set when equal to its size, as in the reference; else a random subset, or repeats)."""
    d_epochs: int = 3
    """Passes over the round's real + generated sequences."""
    # ----- generator -----
    g_lr: float = 0.01
    """Adam learning rate of the generator, in pretraining and (fresh Adam state) adversarial training."""
    g_batch_size: int = 64
    """Real sequences per MLE pretraining step."""
    grad_clip: float = 5.0
    """Maximum global gradient norm of generator updates; 0 turns clipping off."""
    pg_batch_size: int = 64
    """Sequences sampled for each policy-gradient step."""
    n_rollouts: int = 16
    """Monte-Carlo completions per prefix for the rewards."""
    rollout_update_rate: float = 0.0
    """0: rollouts use the current generator (what the reference really does). In (0, 1]: a delayed
    copy, moved after each generator step to rate * copy + (1 - rate) * generator (the reference's 0.8)."""
    # ----- discriminator -----
    d_emb_dim: int = 64
    """Token embedding size of the discriminator."""
    d_filter_sizes: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20])
    """Convolution widths; widths larger than the sequence length are left out."""
    d_num_filters: list[int] = field(
        default_factory=lambda: [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
    )
    """Filters per width, paired with d_filter_sizes."""
    d_dropout_keep: float = 0.75
    """Keep probability of the dropout before D's output layer."""
    d_l2: float = 0.2
    """L2 penalty weight on D's output layer."""
    d_lr: float = 1e-4
    """Adam learning rate of the discriminator."""
    d_batch_size: int = 64
    """Sequences per discriminator update."""
    chunk_size: int = 1024
    """Rows per chunk when sampling rollouts and scoring with D (memory only; results do not depend on it)."""
    default_steps: int | None = None
    """Budget without `train.steps`; null: the whole schedule (every phase, then the run ends)."""

    def __post_init__(self) -> None:
        check_finite(self, "algorithm")
        check_at_least(self, "algorithm", 0, "pretrain_g_epochs", "pretrain_d_rounds", "adversarial_rounds")
        check_at_least(self, "algorithm", 0, "d_rounds_per_adversarial")
        if self.pretrain_g_epochs + self.pretrain_d_rounds + self.adversarial_rounds == 0:
            raise ValueError("algorithm.adversarial_rounds=0: the schedule is empty (every phase has 0 rounds)")
        positive = ("d_negatives", "d_epochs", "g_batch_size", "pg_batch_size", "n_rollouts", "d_emb_dim")
        check_at_least(self, "algorithm", 1, *positive, "d_batch_size", "chunk_size")
        check_positive(self, "algorithm", "g_lr", "d_lr")
        check_at_least(self, "algorithm", 0, "grad_clip", allowed="must be >= 0 (0 disables clipping)")
        if not 0.0 <= self.rollout_update_rate <= 1.0:
            raise ValueError(f"algorithm.rollout_update_rate={self.rollout_update_rate}: must be in [0, 1]")
        if not 0.0 < self.d_dropout_keep <= 1.0:
            raise ValueError(f"algorithm.d_dropout_keep={self.d_dropout_keep}: must be in (0, 1]")
        check_at_least(self, "algorithm", 0, "d_l2")
        if len(self.d_filter_sizes) != len(self.d_num_filters) or not self.d_filter_sizes:
            raise ValueError(
                f"algorithm.d_num_filters={list(self.d_num_filters)}: needs one count per filter size "
                f"(d_filter_sizes has {len(self.d_filter_sizes)})"
            )
        if min(self.d_filter_sizes) < 1 or min(self.d_num_filters) < 1:
            raise ValueError(
                f"algorithm.d_filter_sizes={list(self.d_filter_sizes)}, d_num_filters={list(self.d_num_filters)}: "
                "must be positive"
            )


def discriminator_config(config: SeqGANConfig, space: SequenceSpace) -> DiscriminatorConfig:
    """The discriminator's sizes: the `d_*` fields of `config` over `space`'s vocabulary and length."""
    return DiscriminatorConfig(
        vocab_size=space.vocab_size,
        seq_len=space.seq_len,
        emb_dim=config.d_emb_dim,
        filter_sizes=tuple(config.d_filter_sizes),
        num_filters=tuple(config.d_num_filters),
        dropout_keep=config.d_dropout_keep,
        l2=config.d_l2,
    )


class SeqGAN(Algorithm):
    """Generator pretraining, discriminator pretraining, then adversarial rounds, each step one unit."""

    config_class = SeqGANConfig

    def __init__(self, config: SeqGANConfig, context: TrainingContext) -> None:
        super().__init__(config, context)
        space = self.generator.space
        if min(config.d_filter_sizes) > space.seq_len:
            raise ValueError(
                f"algorithm.d_filter_sizes={list(config.d_filter_sizes)}: none fits sequences of length {space.seq_len}"
            )
        self.discriminator = Discriminator(discriminator_config(config, space)).to(context.device)
        self.batches = EpochBatches(context.train_data, config.g_batch_size, context.rng)
        # Two generator optimisers, as in the reference (pretraining and adversarial Adam states are separate).
        device = context.device
        self.pretrain_optimizer = Adam(self.generator.parameters(), device, lr=config.g_lr)
        self.pg_optimizer = Adam(self.generator.parameters(), device, lr=config.g_lr)
        # Fused Adam: D has ~7M parameters (mostly the highway), and the fused step is ~7x faster on a CPU.
        self.d_optimizer = Adam(self.discriminator.parameters(), device, lr=config.d_lr, fused=True)
        self.d_updates = DiscriminatorUpdates(self.discriminator, self.d_optimizer, context.capture)
        self.rollout = RolloutPolicy(self.generator, config.rollout_update_rate)
        self.chunk = chunk_size_for(device)
        self.mle_update = graphed(self._mle_update, context.capture)
        self.counters = {"pretrain_g": 0, "pretrain_d": 0, "adversarial": 0}
        self.d_rounds_done = 0  # every discriminator round, pretraining or adversarial

    # ----- schedule ----------------------------------------------------------------------------
    @property
    def schedule(self) -> dict[str, int]:
        """Steps in each phase."""
        config = self.config
        return {
            "pretrain_g": config.pretrain_g_epochs * self.batches.batches_per_epoch,
            "pretrain_d": config.pretrain_d_rounds,
            "adversarial": config.adversarial_rounds,
        }

    @property
    def phase(self) -> str:
        """The phase the next step() runs (the last phase once the schedule is done)."""
        schedule = self.schedule
        for name in PHASES:
            if self.counters[name] < schedule[name]:
                return name
        return PHASES[-1]

    @property
    def default_steps(self) -> int:
        """The whole schedule, unless the config's `default_steps` cuts it short."""
        return self.config.default_steps or sum(self.schedule.values())

    @property
    def finished(self) -> bool:
        return all(self.counters[name] >= steps for name, steps in self.schedule.items())

    # ----- one unit of work --------------------------------------------------------------------
    def step(self) -> dict[str, Tensor]:
        phase = self.phase
        if phase == "pretrain_g":
            figures = self._mle_step()
        elif phase == "pretrain_d":
            figures = self._discriminator_round()
        else:
            figures = self._adversarial_round()
        self.counters[phase] += 1
        return figures

    def _mle_step(self) -> dict[str, Tensor]:
        (loss,) = self.mle_update(self.batches.next())
        return {"g_loss": loss}

    def _mle_update(self, batch: Tensor) -> tuple[Tensor]:
        """One pretraining step on `mle_loss` of `batch`, in chunks (the part a CUDA graph can replay)."""
        compute = lambda: teacher_forcing_backward(self.generator, batch, self.chunk)  # noqa: E731
        return (optimizer_step(self.pretrain_optimizer, compute, clip=self.config.grad_clip),)

    def _real_sequences(self, n: int) -> Tensor:
        """n training sequences: a random subset, or whole shuffled copies of the set when n exceeds it."""
        data, rng = self.context.train_data, self.context.rng
        copies = -(-n // len(data))
        index = torch.cat([torch.randperm(len(data), generator=rng, device=rng.device) for _ in range(copies)])
        return data[index[:n].to(data.device)]

    def _discriminator_round(self) -> dict[str, Tensor]:
        config = self.config
        fake = self.generator.sample(config.d_negatives, self.context.rng, batch_size=config.chunk_size).tokens
        real = self._real_sequences(config.d_negatives)
        batches = (config.d_epochs, config.d_batch_size, self.context.rng)
        figures = train_discriminator(self.discriminator, self.d_optimizer, real, fake, *batches, self.d_updates)
        self.d_rounds_done += 1
        return figures

    def rewards(self, sequences: Tensor) -> Tensor:
        """(B, T) Monte-Carlo rewards of `sequences` under the rollout policy and the current D."""
        config = self.config
        completions = complete_prefixes(
            self.rollout.model, sequences, config.n_rollouts, self.context.rng, config.chunk_size
        )
        return rollout_rewards(self.discriminator, sequences, completions, config.chunk_size)

    def _adversarial_round(self) -> dict[str, Tensor]:
        config = self.config
        if self.counters["adversarial"] == 0:
            self.rollout.restart()  # the delayed copy starts from the pretrained generator
        sequences = self.generator.sample(config.pg_batch_size, self.context.rng, batch_size=config.chunk_size).tokens
        rewards = self.rewards(sequences)
        compute = lambda: backward(policy_gradient_loss(self.generator, sequences, rewards))  # noqa: E731
        loss = optimizer_step(self.pg_optimizer, compute, clip=config.grad_clip)
        self.rollout.update()
        rounds = [self._discriminator_round() for _ in range(config.d_rounds_per_adversarial)]
        figures = {"g_loss": loss, "mean_reward": rewards.mean()}
        for name in ("d_loss", "d_acc"):
            if rounds:
                figures[name] = mean_in_float64([r[name] for r in rounds])
        return figures

    # ----- evaluation and state ----------------------------------------------------------------
    def evaluation_figures(self, context: EvaluationContext) -> dict[str, float]:
        """D's balanced accuracy on held-out real (test set) vs generated (the evaluation's samples),
        reported once D has been trained."""
        if self.d_rounds_done == 0:
            return {}
        chunk = self.config.chunk_size
        real_right = (self.discriminator.prob_real(context.test, chunk) > 0.5).float().mean()
        fake_right = (self.discriminator.prob_real(context.samples, chunk) <= 0.5).float().mean()
        return {"d_test_acc": (0.5 * (real_right + fake_right)).item()}

    def parts(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "pretrain_optimizer": self.pretrain_optimizer,
            "pg_optimizer": self.pg_optimizer,
            "d_optimizer": self.d_optimizer,
            "rollout": self.rollout,
            "batches": self.batches,
        }

    def extra_state(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "d_rounds_done": self.d_rounds_done}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.counters = {name: int(state["counters"][name]) for name in PHASES}
        self.d_rounds_done = int(state["d_rounds_done"])
