"""``python -m tfprune.cli``: the same as the ``tfprune`` command."""

from tfprune.cli.main import main

if __name__ == "__main__":
    main(prog_name="tfprune")
