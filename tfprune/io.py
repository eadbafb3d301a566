"""Atomic file output: a file or a folder appears complete or not at all, and nothing the user
had is lost.

Every temporary file or folder lives next to its destination under a hidden name that carries
the writing process's id (``.<name>.tfprune-<pid>-XXXX``); a run killed mid-write leaves one
behind, and the next write to the same destination removes those whose process is gone
(:func:`remove_stale`).
"""

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import stat
import tempfile

from tfprune._validate import named

#: Marker in the names of temporary files and folders.
MARKER = ".tfprune-"


def check_parent(path, argument="path"):
    """The existing, writable folder ``path`` would be written in; a clear ValueError otherwise."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent):
        raise ValueError(f"{named(argument, path)}: the folder {parent!r} does not exist")
    if not _writable(parent):
        raise ValueError(f"{named(argument, path)}: the folder {parent!r} is not writable")
    return parent


def check_folder(path, argument="path"):
    """Fail unless ``path`` is a folder or can be made as one, in a writable folder (it is
    written beside itself and swapped in); returns the absolute path."""
    folder = os.path.abspath(path)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{named(argument, path)}: is a file, not a folder")
    existing = os.path.dirname(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{named(argument, path)}: {existing!r} is a file, so the folder cannot be made")
    if not _writable(existing):
        raise ValueError(f"{named(argument, path)}: the folder {existing!r} is not writable")
    return folder


def _writable(folder):
    """True when a file can be created in ``folder`` (tried, so it holds for root too)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=MARKER + "probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.remove(probe)
    return True


def process_alive(pid: int) -> bool:
    """True while process ``pid`` of this machine exists."""
    return _alive(pid)


def _alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(parent, base):
    """Remove the temporary files and folders for ``parent/base`` left by processes that are gone."""
    prefix = f".{base}{MARKER}"
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            stale = os.path.join(parent, name)
            if os.path.isdir(stale) and not os.path.islink(stale):
                shutil.rmtree(stale, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(stale)


def keep_mode(new, path):
    """Give ``new`` (about to replace ``path``) the permissions of ``path``, or, when there is no
    ``path`` yet, those of a folder made the usual way (``mkdtemp`` makes its folders private)."""
    if os.path.lexists(path):
        os.chmod(new, stat.S_IMODE(os.stat(path).st_mode))
    elif os.path.isdir(new):
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(new, 0o777 & ~umask)


def make_temporary_folder(path):
    """A new hidden folder beside ``path`` (same file system), after removing stale ones."""
    parent = check_parent(path)
    base = os.path.basename(os.path.abspath(path))
    remove_stale(parent, base)
    return tempfile.mkdtemp(prefix=f".{base}{MARKER}{os.getpid()}-", dir=parent)


_RENAME_EXCHANGE = 2


def _exchange(a, b):
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False when the
    system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), b)


def replace_folder(new, path):
    """Put folder ``new`` at ``path`` as one unit; the previous ``path`` (if any) stays whole
    until the swap and ends up at ``new`` (the caller removes it).

    One atomic exchange where the system has it; otherwise the previous folder is renamed
    aside and put back if the second rename fails.
    """
    if not os.path.lexists(path):
        os.replace(new, path)
        return
    if _exchange(new, path):
        return
    aside = new + ".previous"
    os.replace(path, aside)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(aside, path)
        raise
    os.replace(aside, new)


def _sync_folder(folder):
    """Flush ``folder``'s entries (a rename) to disk where the system allows it (not Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the same folder; move it onto ``path`` only on success.

    Works for files and for folders (SavedModel): whatever the body writes at the
    temporary path replaces ``path`` in one rename (one exchange, for folders). On error the
    temporary is removed and ``path`` is left exactly as it was.
    """
    tmpdir = make_temporary_folder(path)
    base = os.path.basename(os.path.abspath(path))
    tmp = os.path.join(tmpdir, base)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise RuntimeError(f"nothing was written for {path!r}")
        if os.path.isdir(path) and not os.path.isdir(tmp):
            raise ValueError(f"path={path!r} is a folder; refusing to replace it with a file")
        keep_mode(tmp, path)
        if os.path.isdir(tmp) and os.path.isdir(path):
            replace_folder(tmp, path)
        else:
            os.replace(tmp, path)
        _sync_folder(os.path.dirname(os.path.abspath(path)))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically, on disk before it takes the name (so a system crash,
    not only a killed process, leaves the old file or the new one, never a short one)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
