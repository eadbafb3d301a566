"""The ``tfprune`` command group."""

import click

from tfprune.cli.export import export_command
from tfprune.cli.prune import prune_command
from tfprune.cli.prune_at_init import prune_at_init_command
from tfprune.cli.tune import tune_command


@click.group()
@click.version_option(package_name="tfprune")
def main():
    """tfprune: layer-adaptive and at-initialisation pruning for Keras models."""


main.add_command(prune_command)
main.add_command(prune_at_init_command)
main.add_command(export_command)
main.add_command(tune_command)
