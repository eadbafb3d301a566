"""The ``tfprune`` command line: ``prune``, ``prune-at-init``, ``export`` and ``tune``."""

from tfprune.cli.main import main

__all__ = ["main"]
