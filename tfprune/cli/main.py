"""The ``tfprune`` command group: lazy subcommands, ``--version``, ``--verbose``, a quiet start.

``tfprune --help`` and ``tfprune --version`` import no TensorFlow: the group knows its
subcommands by module name and imports one only when it is asked for (the command modules
themselves import TensorFlow inside their functions). Before a subcommand runs, the group
imports TensorFlow with file descriptor 2 pointed at ``/dev/null``, which hides the lines its
C++ runtime prints while it starts (``WARNING: All log messages before absl::InitializeLog()``,
oneDNN, CUDA driver and ``cuInit`` notices, CPU feature hints) -- ``TF_CPP_MIN_LOG_LEVEL``
cannot, since they are written before the log level is read. ``tfprune --verbose ...`` shows them.
"""

import contextlib
import importlib
import os
import sys

import click

from tfprune._version import __version__

#: Subcommand name -> (module, attribute, one-line help); imported on first use.
COMMANDS = {
    "prune": ("tfprune.cli.prune", "prune_command",
              "Prune a model (default: the built-in one on digits) and write model, report and plot."),
    "prune-at-init": ("tfprune.cli.prune_at_init", "prune_at_init_command",
                      "Prune an untrained model at initialisation (masks frozen), then train it."),
    "export": ("tfprune.cli.export", "export_command", "Export a saved Keras model to a verified, sparse .tflite file."),
    "tune": ("tfprune.cli.tune", "tune_command", "Search target sparsity, allocation and schedule with Keras Tuner."),
    "select": ("tfprune.cli.select", "select_command",
               "Remove whole neurons/filters (greedy forward selection, L1, LAMP, random): a narrower model."),
    "select-study": ("tfprune.cli.select", "select_study_command",
                     "Pre-training budget study (Wolfe et al.) for greedy selection."),
    "bench": ("tfprune.cli.bench", "bench_command",
              "Sweep a preset's methods x sparsities x seeds; records, table and plots (resumable)."),
    "regimes": ("tfprune.cli.regimes", "regimes_command",
                "Sweep a training temperature x pruning density; label the three regimes and advise."),
    "launch": ("tfprune.cli.launch", "launch_command",
               "Run a training script as N local MultiWorkerMirroredStrategy workers (TF_CONFIG set)."),
}


#: Where the group keeps the subcommand and its arguments for its own callback (``ctx.meta``).
SUBCOMMAND_ARGS = "tfprune.subcommand_args"


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when asked for, not when the group is (its
    help lists them from their one-line help, importing none)."""

    def __init__(self, *args, lazy_subcommands=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def invoke(self, ctx):
        """Run the subcommand; a value click rejects (``--epochs 0``, an unknown choice) is one
        ``Error:`` line with a pointer to ``--help``, not the usage block (exit code 2)."""
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args  # click < 8.2
        ctx.meta[SUBCOMMAND_ARGS] = [*protected, *ctx.args]
        # help only: TensorFlow is not started, but a subcommand's help may import it for its
        # choices; its start-up lines are hidden (the help itself goes to stdout, errors surface
        # after the block)
        quiet = _asks_for_help(ctx) and not ctx.params.get("verbose")
        try:
            with _stderr_silenced() if quiet else contextlib.nullcontext():
                return super().invoke(ctx)
        except click.UsageError as error:
            if error.ctx is None:
                raise
            raise click.UsageError(f"{error.format_message()} (see '{error.ctx.command_path} --help')") from None

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            module, attribute, _ = self.lazy_subcommands[cmd_name]
            # a subcommand module may import TensorFlow (for its choices): quietly, as the group does
            with contextlib.nullcontext() if ctx.params.get("verbose") else _stderr_silenced():
                command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}:{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy_subcommands[name][2] if name in self.lazy_subcommands
                 else self.commands[name].get_short_help_str()) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@contextlib.contextmanager
def _stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (C++ code writes there directly,
    whatever ``sys.stderr`` is); does nothing when descriptor 2 cannot be duplicated."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        saved = os.dup(2)
    except OSError:
        saved = None
    if saved is None:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_tensorflow(verbose=False):
    """Import TensorFlow, tf_keras and TF-MOT (through :mod:`tfprune.backend`) and start its
    devices, hiding their C++ start-up lines unless ``verbose``."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        importlib.import_module("tfprune.backend")
        return
    with _stderr_silenced():
        backend = importlib.import_module("tfprune.backend")
        backend.tf.config.list_physical_devices()  # the CUDA platform (cuInit) starts here


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS)
@click.version_option(__version__, "--version", prog_name="tfprune", message="%(prog)s %(version)s",
                      help="Show the version and exit.")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up messages (hidden by default).")
@click.pass_context
def main(ctx, verbose):
    """tfprune: layer-adaptive and at-initialisation pruning for Keras models."""
    if not ctx.resilient_parsing and not _asks_for_help(ctx):
        start_tensorflow(verbose)


def _asks_for_help(ctx):
    """Whether the subcommand's arguments ask for its ``--help`` (it prints and exits, with no
    TensorFlow to start)."""
    return "--help" in ctx.meta.get(SUBCOMMAND_ARGS, ())


__all__ = ["main", "LazyGroup", "start_tensorflow", "COMMANDS"]
