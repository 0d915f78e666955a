"""cotbench: train discrete sequence generators (MLE, SeqGAN, CoT) and measure them on equal terms."""

from bench.config.folders import register_resolvers

register_resolvers()  # here, so that every process that runs a job (joblib workers too) has them
