"""``tfprune launch``: run a training script as several local MultiWorkerMirroredStrategy workers."""

import sys

import click


@click.command("launch", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Worker processes on 127.0.0.1, each with its TF_CONFIG (worker 0 is the chief).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop every worker after this many seconds (default: no limit).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def launch_command(workers, timeout, command):
    """Run COMMAND (e.g. `python train.py --epochs 3`) as N local workers; see docs/guide.md.

    The script creates tf.distribute.MultiWorkerMirroredStrategy() and prunes inside its scope;
    only the chief (worker 0) should write files. Exits with the first non-zero worker code.
    """
    import subprocess

    from tfprune.launch import launch

    command = [sys.executable if part == "python" else part for part in command]
    try:
        codes = launch(command, workers, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise click.ClickException(f"--timeout {timeout}: the workers did not finish in time; all were stopped")
    except OSError as error:
        raise click.ClickException(f"COMMAND {command[0]!r}: cannot start it ({error.strerror})")
    failed = [(index, code) for index, code in enumerate(codes) if code != 0]
    if failed:
        raise click.ClickException("workers failed: " + ", ".join(f"worker {i} exit code {c}" for i, c in failed))
    click.echo(f"{workers} workers finished")
