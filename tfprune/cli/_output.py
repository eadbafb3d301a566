"""The output folder of a pruning command, and what it prints.

The folder holds the stripped model (model.keras), the per-layer report (report.md and
report.json) and the plot (sparsity.png). The whole folder is written as one unit: a new
folder is built beside it (holding the new files and links to the other files already
there) and swapped with the old one in one step, so a run that is killed or fails leaves the
previous folder exactly as it was. Staging folders of killed runs are removed by the next run.
"""

import json
import os
import shutil

import click

from tfprune.io import check_folder, check_parent, keep_mode, make_temporary_folder, replace_folder

#: The files a pruning command writes into ``--output``.
OUTPUT_FILES = ("model.keras", "report.md", "report.json", "sparsity.png")


#: Staging folders that earlier versions made inside the output folder (dropped, not carried over).
LEGACY_STAGING = ".tfprune-"


def _same(a, b):
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def check_paths(output, model_path=None, export_path=None, files=OUTPUT_FILES):
    """Before any work: every output location can be written, and no output overwrites an input
    or another output of the same run (``files``: the names written into ``output``)."""
    check_folder(output, "--output")
    written = [os.path.join(output, name) for name in files]
    if model_path:
        if _same(model_path, output):
            raise ValueError(f"--output {output!r}: is the --model folder; choose another output folder")
        if any(_same(model_path, path) for path in written):
            raise ValueError(
                f"--output {output!r}: would overwrite the input --model {model_path!r}; choose another output folder"
            )
    if export_path:
        if any(_same(export_path, path) for path in written):
            raise ValueError(
                f"--export {export_path!r}: is one of the files --output writes ({', '.join(files)}); "
                "choose another name"
            )
        if model_path and _same(export_path, model_path):
            raise ValueError(f"--export {export_path!r}: would overwrite the input --model; choose another path")
        if os.path.isdir(export_path):
            raise ValueError(f"--export {export_path!r}: is a folder; give a .tflite file path")
        if not _same(os.path.dirname(os.path.abspath(export_path)), output):
            check_parent(export_path, "--export")


def markdown(summary, accuracy, settings, rounds=None):
    """report.md: the settings, the test accuracy, the per-layer sparsity table and, for an
    iterative schedule, the per-round table (:func:`tfprune.round_log.round_table`)."""
    from tfprune.round_log import round_table
    from tfprune.summary import format_summary

    lines = ["# tfprune report", "", "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["", "## Test accuracy", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in accuracy.items()]
    lines += ["", "## Per-layer sparsity", "", "```", format_summary(summary), "```", ""]
    if summary["collapsed"]:
        lines += [f"Collapsed layers (no weight left): {', '.join(summary['collapsed'])}", ""]
    if rounds:
        lines += ["## Per-round results", "",
                  "Each round's last epoch (training loss and accuracy so far in that epoch) and the evaluation "
                  "on the validation split at the end of the round.", "", round_table(rounds), ""]
    return "\n".join(lines)


def _carry_over(folder, staging, written):
    """Link (or copy) the entries of ``folder`` that this run does not write (``written``: names)
    into ``staging``."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name in written or name.startswith(LEGACY_STAGING):
            continue
        source, target = os.path.join(folder, name), os.path.join(staging, name)
        if os.path.isdir(source) and not os.path.islink(source):
            shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, target)


def _link_or_copy(source, target):
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return target
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def write_folder(folder, model, files):
    """Write ``model`` (model.keras) and ``files`` ({name: bytes}) into ``folder`` as one unit;
    their paths. Other files already in ``folder`` are kept."""
    check_folder(folder, "--output")
    os.makedirs(os.path.dirname(os.path.abspath(folder)), exist_ok=True)
    staging = make_temporary_folder(folder)
    try:
        _carry_over(folder, staging, {"model.keras", *files})
        model.save(os.path.join(staging, "model.keras"))
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        keep_mode(staging, folder)
        replace_folder(staging, folder)
        return [os.path.join(folder, name) for name in ("model.keras", *files)]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_output(folder, model, summary, accuracy, settings, title, rounds=None):
    """Write model.keras, report.md, report.json and sparsity.png into ``folder`` as one unit
    (:func:`write_folder`); their paths. ``rounds``: the per-round rows of an iterative schedule
    (:class:`tfprune.RoundLog` records), in report.md and report.json."""
    from tfprune.cli.report import plot_png

    report = {"settings": settings, "accuracy": accuracy, "summary": summary}
    if rounds:
        report["rounds"] = rounds
    return write_folder(folder, model, {
        "report.md": markdown(summary, accuracy, settings, rounds).encode(),
        "report.json": json.dumps(report, indent=2, default=list).encode(),
        "sparsity.png": plot_png(summary, accuracy, title),
    })


def check_reached(summary, settings):
    """``settings`` with ``target_sparsity`` (was ``sparsity``) and ``reached_sparsity``; a one-line
    error, before anything is written, when the model is not at its target (each weight may
    differ by the rounding of its own count, at most one weight)."""
    from tfprune.allocation import budget

    total = summary["total"]
    target = settings["sparsity"]
    planned = budget.survivors(total["params"], target)
    settings = {("target_sparsity" if k == "sparsity" else k): v for k, v in settings.items()}
    settings["reached_sparsity"] = round(total["sparsity"], 6)
    if abs(total["nonzeros"] - planned) > len(summary["layers"]):
        raise click.ClickException(
            f"--sparsity {target}: the pruned model reached sparsity {total['sparsity']:.4f} ({total['nonzeros']} "
            f"of {total['params']} weights left, {planned} planned), not the target; nothing was written to --output"
        )
    return settings


def finish(output, model, accuracy, settings, label, accuracy_line, splits, export_path, export_quantize,
           rounds=None):
    """Write the stripped ``model``, report and plot to ``output``; print the per-layer table,
    the per-round table (``rounds``: :class:`tfprune.RoundLog` records of an iterative schedule),
    ``accuracy_line`` and the files written; export to TFLite if ``--export`` was given.

    ``label`` starts the plot's title ("lamp on digits"), followed by the overall sparsity.
    """
    import tfprune
    from tfprune.cli.export import export_after_prune
    from tfprune.cli.report import overall

    summary = tfprune.sparsity_summary(model)
    settings = check_reached(summary, settings)
    title = f"{label}: {overall(summary)} sparse"
    written = write_output(output, model, summary, accuracy, settings, title, rounds)
    click.echo(tfprune.format_summary(summary))
    if rounds:
        from tfprune.round_log import round_table

        click.echo(round_table(rounds))
    click.echo(accuracy_line)
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    exported = export_after_prune(model, export_path, export_quantize, splits)
    if exported is not None:
        click.echo(exported)
