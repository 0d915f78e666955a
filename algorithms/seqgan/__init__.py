"""SeqGAN: MLE pretraining, then REINFORCE against a CNN discriminator with Monte-Carlo rollouts."""

from algorithms.seqgan.algorithm import SeqGAN, SeqGANConfig

__all__ = ["SeqGAN", "SeqGANConfig"]
