"""Small input guards shared by every subpackage.

Each guard raises a ``ValueError`` or ``TypeError`` whose message names the
argument, what was wrong and what was expected, so that users never see a
cryptic NumPy or torch traceback instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_float_array", "check_finite", "check_shape"]


def as_float_array(value, name, *, ndim=None, dtype=np.float64):
    """Convert ``value`` to a floating NumPy array, with a clear error.

    Parameters
    ----------
    value : array-like
        The value to convert.
    name : str
        Name of the argument, used in error messages.
    ndim : int, default=None
        Required number of dimensions, or ``None`` for any.
    dtype : numpy dtype, default=np.float64
        Floating dtype of the result.

    Returns
    -------
    array : ndarray
    """
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a numeric array; got {type(value).__name__} that "
            f"cannot be converted to {np.dtype(dtype).name} ({exc})."
        ) from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-dimensional; got shape {array.shape}."
        )
    return array


def check_finite(array, name):
    """Raise ``ValueError`` if ``array`` holds NaN or infinite values."""
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s); clean or "
            "impute them before passing them in."
        )
    return array


def check_shape(array, expected, name):
    """Check ``array.shape`` against ``expected``.

    ``expected`` is a tuple of ints or ``None`` (any size), with named
    dimensions given as ``(size, "label")`` pairs for the message.
    """
    shape = np.shape(array)
    sizes = [e[0] if isinstance(e, tuple) else e for e in expected]
    labels = [
        e[1] if isinstance(e, tuple) else ("*" if e is None else str(e))
        for e in expected
    ]
    ok = len(shape) == len(sizes) and all(
        s is None or s == actual for s, actual in zip(sizes, shape)
    )
    if not ok:
        want = ", ".join(
            f"{label}={size}" if size is not None and label != str(size) else label
            for size, label in zip(sizes, labels)
        )
        raise ValueError(f"{name} must have shape ({want}); got {tuple(shape)}.")
    return array
