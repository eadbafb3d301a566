"""Atomic file output: a file appears complete or not at all, and nothing the user had is lost."""

import contextlib
import os
import shutil
import tempfile


def check_parent(path):
    """The existing, writable folder ``path`` would be written in; a clear ValueError otherwise."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent):
        raise ValueError(f"path={path!r}: the folder {parent!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"path={path!r}: the folder {parent!r} is not writable")
    return parent


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the same folder; move it onto ``path`` only on success.

    Works for files and for folders (SavedModel): whatever the body writes at the
    temporary path replaces ``path`` in one rename. On error the temporary is removed
    and ``path`` is left exactly as it was.
    """
    parent = check_parent(path)
    base = os.path.basename(os.path.abspath(path))
    tmpdir = tempfile.mkdtemp(prefix=f".{base}.", dir=parent)
    tmp = os.path.join(tmpdir, base)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise RuntimeError(f"nothing was written for {path!r}")
        if os.path.isdir(path) and not os.path.isdir(tmp):
            raise ValueError(f"path={path!r} is a folder; refusing to replace it with a file")
        if os.path.isdir(tmp) and os.path.isdir(path):
            old = os.path.join(tmpdir, base + ".old")
            os.replace(path, old)
            os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
