"""`python -m bench [overrides]`: one run (or a multirun sweep) of the suite, configured by Hydra."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bench.errors import BenchError
from bench.schema import register_configs


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from bench.run import run  # imported here so that `--help` stays fast

    try:
        run(cfg, Path(HydraConfig.get().runtime.output_dir))
    except BenchError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    register_configs()
    main()
