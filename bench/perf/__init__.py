"""The performance benchmark: plain baselines (`baselines`), timing (`timing`), one function per figure
(`figures`), the projection of the reference-budget experiments (`projection`), the command (`cli`)."""

from bench.perf.cli import main

__all__ = ["main"]
