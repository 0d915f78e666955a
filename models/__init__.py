"""The one shared LSTM language model: its sequence space, generator, sampler and small validation helpers.

Used by every algorithm (generator, CoT's mediator), by the synthetic datasets (the oracle) and by
evaluation; it imports nothing of the suite above it.
"""

from models.generator import Generator, GeneratorConfig, evaluating
from models.sampling import Samples, draw_tokens
from models.space import BLOCKED_LOGIT, SequenceSpace

__all__ = ["BLOCKED_LOGIT", "Generator", "GeneratorConfig", "Samples", "SequenceSpace", "draw_tokens", "evaluating"]
