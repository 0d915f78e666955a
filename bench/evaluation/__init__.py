"""Measuring a generator: the evaluator, the synthetic and text figures, the figure catalogue."""
