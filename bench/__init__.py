"""cotbench: train discrete sequence generators (MLE, SeqGAN, CoT) and measure them on equal terms."""

from bench.naming import register_resolvers
from bench.sweeps import register_resolver as register_sweep_name

register_sweep_name()
register_resolvers()  # here, so that every process that runs a job (joblib workers too) has them
