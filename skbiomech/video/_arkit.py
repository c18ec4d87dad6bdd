"""MediaPipe's 52 ARKit blendshape scores, and their map onto ICT-FaceKit's shape names.

MediaPipe's Face Landmarker scores each face on Apple ARKit's blendshapes
(no ``tongueOut``) plus ``_neutral``. ICT-FaceKit names its expression shapes
after ARKit too, with ``_L``/``_R`` where ARKit writes ``Left``/``Right``, and
splits two of ARKit's shapes by side (``browInnerUp``, ``cheekPuff``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARKIT_NAMES", "arkit_to_ict", "arkit_source"]

# MediaPipe's output order (face_blendshapes.tflite, checked on a detection
# and against mediapipe's Blendshapes enum): _neutral, then ARKit's names
# sorted alphabetically.
ARKIT_NAMES = (
    "_neutral",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

_POSITION = {name: i for i, name in enumerate(ARKIT_NAMES)}
_SIDES = {"_L": "Left", "_R": "Right"}
# One MediaPipe score each, split by side in ICT-FaceKit.
_SHARED = ("browInnerUp", "cheekPuff")
_MISSING = ("raise", "nan")


def arkit_source(target_name):
    """The MediaPipe score that feeds one ICT-FaceKit (or ARKit) shape name.

    Parameters
    ----------
    target_name : str
        An ICT-FaceKit expression name (``browDown_L``, ``jawOpen``), or a
        MediaPipe name itself (``mouthSmileLeft``), which maps to itself.

    Returns
    -------
    source : str or None
        A name of :data:`ARKIT_NAMES`, or ``None`` when no score matches.

    Examples
    --------
    >>> arkit_source("browDown_L"), arkit_source("cheekPuff_R"), arkit_source("jawOpen")
    ('browDownLeft', 'cheekPuff', 'jawOpen')
    >>> arkit_source("tongueOut") is None
    True
    """
    name = str(target_name)
    if name in _POSITION:
        return name
    base, side = name[:-2], name[-2:]
    if side in _SIDES:
        if base + _SIDES[side] in _POSITION:
            return base + _SIDES[side]
        if base in _SHARED:
            return base
    return None


def arkit_to_ict(scores, target_names, *, missing="raise"):
    """Map MediaPipe's blendshape scores onto ICT-FaceKit's expression names.

    ``browDown_L`` takes ``browDownLeft``, ``jawOpen`` takes ``jawOpen``,
    and both ``browInnerUp_L`` and ``browInnerUp_R`` take the single
    ``browInnerUp`` score (``cheekPuff`` likewise). ``_neutral`` feeds no
    shape. For ICT-FaceKit's 53 expressions that is 49 one-to-one matches
    plus the two shared scores.

    Parameters
    ----------
    scores : array-like of shape (n_frames, 52) or (52,), or DataFrame
        MediaPipe's scores in :data:`ARKIT_NAMES` order; a DataFrame is read
        by column name and needs only the columns that the targets use.
    target_names : sequence of str
        The face model's shape names, e.g. ``FaceModel.blendshape_names``.
    missing : {"raise", "nan"}, default="raise"
        A target with no MediaPipe score: raise a ``ValueError`` listing them
        all, or fill its column with NaN.

    Returns
    -------
    coefficients : ndarray of shape (n_frames, n_targets) or (n_targets,), or DataFrame
        float64; a DataFrame (same index, columns ``target_names``) when
        ``scores`` is one.

    Raises
    ------
    ValueError
        If a target has no source and ``missing="raise"``, or ``scores`` has
        the wrong shape or lacks a needed column.

    Notes
    -----
    MediaPipe's ``Left``/``Right`` are the subject's own sides, as are
    ICT-FaceKit's ``_L``/``_R``. A mirrored video (a front camera's selfie
    preview) swaps them: flip the frames back before detection, not the
    scores afterwards, since the landmarks are mirrored too.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.zeros((2, 52))
    >>> scores[:, ARKIT_NAMES.index("mouthSmileLeft")] = [0.1, 0.9]
    >>> scores[:, ARKIT_NAMES.index("browInnerUp")] = 0.5
    >>> arkit_to_ict(scores, ["mouthSmile_L", "browInnerUp_L", "browInnerUp_R"])
    array([[0.1, 0.5, 0.5],
           [0.9, 0.5, 0.5]])
    >>> arkit_to_ict(scores, ["mouthSmile_L", "tongueOut"], missing="nan")[0]
    array([0.1, nan])
    """
    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {_MISSING}; got {missing!r}.")
    if isinstance(target_names, str):
        raise TypeError(f"target_names must be a sequence of names, not the string {target_names!r}.")
    targets = [str(name) for name in target_names]
    sources = [arkit_source(name) for name in targets]
    unmatched = [name for name, source in zip(targets, sources) if source is None]
    if unmatched and missing == "raise":
        raise ValueError(
            f"{len(unmatched)} target shape(s) have no MediaPipe blendshape score: {unmatched}. "
            "Targets must be ARKit names, with _L/_R for Left/Right (ICT-FaceKit's convention); "
            "pass missing='nan' to leave them empty."
        )
    if hasattr(scores, "columns") and hasattr(scores, "index"):
        return _from_frame(scores, targets, sources)
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[-1] != len(ARKIT_NAMES):
        raise ValueError(
            f"scores must have shape (n_frames, {len(ARKIT_NAMES)}) or ({len(ARKIT_NAMES)},), "
            f"in ARKIT_NAMES order; got shape {values.shape}."
        )
    out = np.full(values.shape[:-1] + (len(targets),), np.nan)
    for j, source in enumerate(sources):
        if source is not None:
            out[..., j] = values[..., _POSITION[source]]
    return out


def _from_frame(frame, targets, sources):
    import pandas as pd

    needed = sorted({s for s in sources if s is not None})
    absent = [name for name in needed if name not in frame.columns]
    if absent:
        raise ValueError(
            f"scores is a DataFrame without the MediaPipe columns {absent}; "
            "name its columns after ARKIT_NAMES."
        )
    out = np.full((len(frame), len(targets)), np.nan)
    for j, source in enumerate(sources):
        if source is not None:
            out[:, j] = frame[source].to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=frame.index, columns=targets)
