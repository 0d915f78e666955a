"""`python -m bench [overrides]`: see `bench.cli`."""

from bench.cli import cli, main

__all__ = ["cli", "main"]

if __name__ == "__main__":
    cli()
