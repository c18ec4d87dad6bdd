"""AU intensity and presence from muscle activations: the FACS muscle map read forward.

The second half of the physics detector: :func:`invert_activations` gives
per-frame muscle activations, and each AU's intensity is read off the
muscles FACS ties to it.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .._checks import as_float_array
from ..face._facs import au_name

__all__ = ["AU_COMBINE", "au_intensities", "au_presence"]

AU_COMBINE = ("strongest_side", "mean", "max")


def _side(name):
    return name[-2:] if name.endswith(("_L", "_R")) else None


def au_intensities(
    activations, face_or_au_muscles, *, aus=None, muscle_names=None, combine="strongest_side", scale=5.0
):
    """AU intensity from the activations of the muscles FACS ties to each AU.

    Activation 1 is a muscle's full contraction (the force its effective
    area carries at unit activation); an AU's intensity combines its
    muscles' activations and, by default, maps full contraction to 5, the
    top of OpenFace's ``AUxx_r`` scale (FACS intensities A-E as 1-5).

    Parameters
    ----------
    activations : DataFrame or array-like of shape (..., T, M)
        Muscle activations, e.g. from :func:`invert_activations`. A
        DataFrame's columns name the muscles (extra columns are ignored).
    face_or_au_muscles : FaceModel or dict of str to sequence of str
        A face model (its ``au_muscles`` and ``muscle_names``) or an AU ->
        muscles map (``{"AU12": ("zygomaticus_major_L", ...)}``).
    aus : sequence of str or int, default=None
        AUs to report, in this order; every AU of the map when ``None``.
    muscle_names : sequence of str of length M, default=None
        The muscle of each column of an array; a face model gives its own.
    combine : {"strongest_side", "mean", "max"}, default="strongest_side"
        ``"strongest_side"``: the mean over the AU's muscles on each side
        (``_L`` / ``_R``; midline muscles count on both), then the larger
        side, so that a one-sided action (which FACS codes too) is not
        halved and a multi-muscle AU (AU4) needs its muscles together.
        ``"mean"`` and ``"max"``: over all of the AU's muscles.
    scale : float or None, default=5.0
        Intensity of full contraction; results are clipped to
        ``[0, scale]``. ``None`` returns the combined activation unclipped.

    Returns
    -------
    intensities : DataFrame of shape (T, A) or ndarray of shape (..., T, A)
        A DataFrame (columns ``AU01``, ..., the input's index) for
        DataFrame input, an array otherwise; NaN where the AU's muscles are
        NaN (failed frames).

    See Also
    --------
    au_presence : Occurrence (0/1) from these intensities.
    invert_activations : Activations from coefficient trajectories.

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.physics import au_intensities
    >>> au_map = {"AU12": ("zyg_L", "zyg_R"), "AU26": ("jaw",)}
    >>> a = np.array([[0.4, 0.0, 0.2], [0.4, 0.4, 0.0]])
    >>> au_intensities(a, au_map, muscle_names=["zyg_L", "zyg_R", "jaw"])
    array([[2., 1.],
           [2., 0.]])
    >>> au_intensities(a, au_map, muscle_names=["zyg_L", "zyg_R", "jaw"], combine="mean", scale=None)
    array([[0.2, 0.2],
           [0.4, 0. ]])
    """
    if combine not in AU_COMBINE:
        raise ValueError(f"combine must be one of {AU_COMBINE}; got {combine!r}.")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < scale < np.inf):
        raise ValueError(f"scale must be a positive number or None; got {scale!r}.")
    if isinstance(face_or_au_muscles, dict):
        au_map = {au_name(au): (mus,) if isinstance(mus, str) else tuple(mus) for au, mus in face_or_au_muscles.items()}
        names = muscle_names
    elif hasattr(face_or_au_muscles, "au_muscles") and hasattr(face_or_au_muscles, "muscle_names"):
        au_map = dict(face_or_au_muscles.au_muscles)
        names = face_or_au_muscles.muscle_names if muscle_names is None else muscle_names
    else:
        raise TypeError(
            "face_or_au_muscles must be a FaceModel or a dict AU -> muscle names; "
            f"got {type(face_or_au_muscles).__name__}."
        )
    aus = list(au_map) if aus is None else [au_name(au) for au in aus]
    unmapped = [au for au in aus if au not in au_map]
    if unmapped:
        raise ValueError(f"No muscles are mapped to {unmapped}; the map covers {list(au_map)}.")
    needed = list(dict.fromkeys(mu for au in aus for mu in au_map[au]))
    frame = activations if isinstance(activations, pd.DataFrame) else None
    if frame is not None:
        absent = [mu for mu in needed if mu not in frame.columns]
        if absent:
            raise ValueError(f"activations has no columns for the muscles {absent} that {aus} need.")
        values, names = as_float_array(frame[needed], "activations"), needed
    else:
        if names is None:
            raise ValueError("muscle_names is needed to read an array with an AU -> muscles map.")
        names = [str(n) for n in names]
        values = as_float_array(activations, "activations")
        if values.ndim < 1 or values.shape[-1] != len(names):
            raise ValueError(
                f"activations must have shape (..., M={len(names)}), one column per muscle name; got {values.shape}."
            )
        absent = [mu for mu in needed if mu not in names]
        if absent:
            raise ValueError(f"muscle_names lacks the muscles {absent} that {aus} need.")
    index = {n: j for j, n in enumerate(names)}
    columns = []
    for au in aus:  # a loop over AUs, never frames
        group = [index[mu] for mu in au_map[au]]
        if combine == "mean":
            columns.append(values[..., group].mean(axis=-1))
        elif combine == "max":
            columns.append(values[..., group].max(axis=-1))
        else:
            sides = sorted({_side(names[j]) for j in group} - {None}) or [None]
            per_side = [values[..., [j for j in group if _side(names[j]) in (side, None)]].mean(axis=-1) for side in sides]
            columns.append(np.max(per_side, axis=0))
    result = np.stack(columns, axis=-1) if columns else np.zeros(values.shape[:-1] + (0,))
    if scale is not None:
        result = np.clip(scale * result, 0.0, scale)  # NaN stays NaN
    if frame is not None:
        return pd.DataFrame(result, index=frame.index, columns=aus)
    return result


def au_presence(intensities, threshold=1.0):
    """AU occurrence (1.0/0.0) where intensity >= ``threshold``; NaN stays NaN.

    Parameters
    ----------
    intensities : DataFrame or array-like
        From :func:`au_intensities`.
    threshold : float or array-like of shape (A,), default=1.0
        On the intensity scale: 1.0 on the 0-5 scale is activation 0.2
        (FACS trace, "A"); DISFA's protocol uses 2.

    Returns
    -------
    presence : DataFrame or ndarray, like ``intensities``

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.physics import au_presence
    >>> au_presence(np.array([[0.5, 2.5], [np.nan, 1.0]]))
    array([[ 0.,  1.],
           [nan,  1.]])
    """
    values = as_float_array(intensities, "intensities")
    threshold = as_float_array(threshold, "threshold")
    if threshold.ndim > 1 or (threshold.ndim == 1 and values.shape[-1:] != threshold.shape):
        raise ValueError(f"threshold must be a number or one per AU (shape ({values.shape[-1]},)); got {threshold.shape}.")
    presence = np.where(np.isnan(values), np.nan, (values >= threshold).astype(float))
    if isinstance(intensities, pd.DataFrame):
        return pd.DataFrame(presence, index=intensities.index, columns=intensities.columns)
    return presence
