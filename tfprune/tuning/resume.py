"""Resuming a search: the stored oracle and search space must be the ones asked for.

Keras Tuner reloads a project's oracle and search space as stored and ignores the ones given
when the search is resumed; a changed oracle fails deep inside it with a ``KeyError``, or not
at all. :func:`check_oracle` (before Keras Tuner reloads) and :func:`check_space` (after) make
both an error listing the difference. tfprune records the oracle in ``tfprune.json`` in the
project folder.
"""

import json
import os

from tfprune.io import write_text

SEARCH_FILE = "tfprune.json"
#: How to start over, in the error messages.
START_OVER = "pass overwrite=True to start a new search (its trials are deleted), or use another directory"


def _stored(project_dir):
    path = os.path.join(project_dir, SEARCH_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def check_oracle(project_dir, oracle_name):
    """Fail when the search in ``project_dir`` was started with another oracle."""
    stored = _stored(project_dir)
    if stored is not None and stored.get("oracle") != oracle_name:
        raise ValueError(
            f"oracle={oracle_name!r}: the search in {project_dir!r} was started with oracle="
            f"{stored.get('oracle')!r}; {START_OVER}"
        )


def record(project_dir, oracle_name):
    """Write ``tfprune.json`` (the oracle) in a new project."""
    if _stored(project_dir) is None and os.path.isdir(project_dir):
        write_text(os.path.join(project_dir, SEARCH_FILE), json.dumps({"oracle": oracle_name}) + "\n")


def reload_failed(project_dir, oracle_name):
    """The error for a project Keras Tuner could not reload with ``oracle_name``."""
    return ValueError(
        f"oracle={oracle_name!r}: the search in {project_dir!r} was started with another oracle; {START_OVER}"
    )


def describe(hp):
    """A short text of one hyperparameter's range: ``0.5``, ``one of [...]``, ``[0.5, 0.95]``."""
    config = hp.get_config()
    if "value" in config:
        return repr(config["value"])
    if "values" in config:
        return f"one of {list(config['values'])}"
    step = f" step {config['step']}" if config.get("step") is not None else ""
    return f"[{config.get('min_value')}, {config.get('max_value')}]{step}"


def _space(hps, prefix):
    return {hp.name: hp for hp in hps.space if hp.name.startswith(prefix)}


def check_space(project_dir, stored_hps, asked_hps, prefix="pruning/"):
    """Fail, listing the differences, when the stored search space (``stored_hps``, names
    starting with ``prefix``) is not the one asked for (``asked_hps``)."""
    stored, asked = _space(stored_hps, prefix), _space(asked_hps, prefix)
    if not stored:
        return
    differences = []
    for name in sorted(set(stored) | set(asked)):
        old = describe(stored[name]) if name in stored else "absent"
        new = describe(asked[name]) if name in asked else "absent"
        if old != new:
            differences.append(f"{name}: stored {old}, asked {new}")
    if differences:
        raise ValueError(
            f"the search in {project_dir!r} was started with another search space ({'; '.join(differences)}); "
            f"{START_OVER}"
        )
