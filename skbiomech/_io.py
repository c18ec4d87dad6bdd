"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    The temporary file is created in the destination folder (so the final
    ``os.replace`` is atomic) and given the permissions a plain ``open``
    would give; on any error it is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like
    mode : {"wb", "w"}, default="wb"
    **open_kwargs
        Passed to ``open`` (``encoding``, ``newline``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder) / "out.txt"
    ...     with atomic_write(target, "w") as handle:
    ...         _ = handle.write("done")
    ...     target.read_text()
    'done'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
